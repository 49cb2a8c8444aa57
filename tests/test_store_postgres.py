"""What only a database server does: several write transactions at once, and transactions the
server rolls back (deadlock, serialization failure), which the store runs again."""

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from db import StoreError, open_store
from tests.helpers import learner, select

pytestmark = pytest.mark.postgres
ROLLED_BACK = "DO $$ BEGIN RAISE EXCEPTION 'deadlock detected' USING ERRCODE = '{}'; END $$"


@pytest.mark.parametrize("sqlstate", ["40P01", "40001"])
async def test_a_write_rolled_back_by_the_server_is_run_again(pg_url, sqlstate):
    store = await open_store(pg_url)
    calls = []

    def op(conn):
        calls.append(1)
        # Rolled back with the first attempt: a second insert of the same key would fail.
        conn.execute(text("insert into guild_settings values ('t', 'g', 'r')"))
        if len(calls) == 1:
            conn.execute(text(ROLLED_BACK.format(sqlstate)))
        return len(calls)

    assert await store.database.write(op) == 2
    assert await select(pg_url, "select count(*) from guild_settings") == [(1,)]

    def always(conn):
        conn.execute(text(ROLLED_BACK.format(sqlstate)))

    with pytest.raises(StoreError, match="deadlock detected"):
        await store.database.write(always)  # not forever
    await store.close()


async def test_a_write_waiting_on_a_lock_does_not_hold_up_the_others(pg_url):
    """Another process holds a lock one write needs: the others are committed meanwhile, on
    other connections, instead of queueing behind it."""
    store = await open_store(pg_url)
    lid = await store.learner_id(learner())
    other = create_async_engine(pg_url)
    async with other.connect() as holder:
        await holder.execute(text("select pg_advisory_lock(42)"))
        blocked = asyncio.create_task(
            store.database.write(
                lambda conn: conn.execute(text("select pg_advisory_xact_lock(42)"))
            )
        )
        await asyncio.sleep(0.2)  # under way, waiting for the lock on the server
        for zone in ("Asia/Tokyo", "Europe/Paris", "America/Lima"):
            await asyncio.wait_for(store.set_timezone(lid, zone), timeout=60)
        assert not blocked.done()
        await holder.execute(text("select pg_advisory_unlock(42)"))
        await asyncio.wait_for(blocked, timeout=60)
    await other.dispose()
    assert await store.timezone(lid) == "America/Lima"
    await store.close()
