"""How the store talks to the database: named statements on both execution paths, rows mapped
by column name, moderation composed in, undo by table, and the writer thread."""

import asyncio
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, insert
from sqlalchemy.ext.asyncio import create_async_engine

from bot.tutor.moderation import ActionKind
from bot.tutor.review import CardState
from db import open_store
from db.models import Attempt
from db.moderation import UNDO, ModerationQueries
from db.statements import (
    CARD_OF,
    CARDS_OF,
    RESTORE_CARD,
    SAVE_CARD,
    Sql,
    Statement,
    build,
    columns_of,
    from_sqlite_time,
    to_sqlite_time,
)
from tests.helpers import learner, select

T0 = datetime(2026, 3, 1, 9, 0, 0, 250, tzinfo=UTC)


def card(question_id: str, last_review: datetime, state: int = 2) -> CardState:
    return CardState(
        question_id, state, None, 3.5, 5.0, last_review + timedelta(days=3), last_review, 3
    )


@pytest.fixture(params=["sqlite3", "sqlalchemy", "postgresql"])
async def run(request, sqlite_url):
    """Run ``op(Sql)`` in one transaction: straight on sqlite3 (the store's threads), through
    SQLAlchemy's text() on aiosqlite (the path database servers take), or on PostgreSQL."""
    url = request.getfixturevalue("pg_url") if request.param == "postgresql" else sqlite_url
    store = await open_store(url)  # migrated
    learner_id = await store.learner_id(learner())
    await store.close()
    if request.param == "sqlite3":
        engine = create_engine(url.replace("+aiosqlite", ""))

        async def call(op):
            with engine.begin() as conn:
                return op(Sql(conn), learner_id)

        yield call
        engine.dispose()
    else:
        async_engine = create_async_engine(url)

        async def call(op):
            async with async_engine.begin() as conn:
                return await conn.run_sync(lambda sync: op(Sql(sync), learner_id))

        yield call
        await async_engine.dispose()


async def test_a_card_round_trips_through_the_named_statements(run):
    saved = card("q1", T0)
    await run(lambda sql, lid: sql.run(SAVE_CARD, columns_of(saved, learner_id=lid)))
    row = await run(lambda sql, lid: sql.first(CARD_OF, {"learner_id": lid, "question_id": "q1"}))
    assert build(CardState, row) == saved
    assert row["due"].tzinfo is not None


async def test_restoring_a_card_keeps_a_newer_one(run):
    """RESTORE_CARD (undo of a reset): a card reviewed since the reset wins over the saved one."""
    newer, older = card("q1", T0 + timedelta(days=1), state=3), card("q1", T0)

    def restore(sql, lid, saved):
        sql.run(RESTORE_CARD, columns_of(saved, learner_id=lid))
        return [build(CardState, r) for r in sql.rows(CARDS_OF, {"learner_id": lid})]

    assert await run(lambda sql, lid: restore(sql, lid, older)) == [older]  # none there: put back
    await run(lambda sql, lid: sql.run(SAVE_CARD, columns_of(newer, learner_id=lid)))
    assert await run(lambda sql, lid: restore(sql, lid, older)) == [newer]


def test_rows_become_dataclasses_by_column_name_not_position(tmp_path):
    @dataclass(frozen=True)
    class Pair:
        first: str
        second: int

    engine = create_engine(f"sqlite:///{tmp_path / 't.db'}")
    with engine.connect() as conn:
        sql = Sql(conn)
        reordered = Statement("SELECT 2 AS second, 'one' AS first")
        row = sql.first(reordered, {})
        assert row is not None and build(Pair, row) == Pair("one", 2)
        other = sql.first(Statement("SELECT 'one' AS first, 2 AS other"), {})
        assert other is not None
        with pytest.raises(KeyError, match="second"):
            build(Pair, other)
    engine.dispose()


def test_times_are_stored_as_text_exactly_as_the_models_store_them(tmp_path):
    """The named statements (on sqlite3) and SQLAlchemy's UtcDateTime write the same columns:
    the same text, or comparisons such as a leaderboard's ``answered_at >= since`` break."""
    store_url = f"sqlite:///{tmp_path / 't.db'}"
    asyncio.run(_migrate(store_url))
    engine = create_engine(store_url)
    when = datetime(2026, 3, 1, 11, 0, 0, 5, tzinfo=UTC).astimezone()  # any zone, µs set
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO learners (id, platform, user_id, guild_id, display_name, created_at) "
            "VALUES (1, 't', 'u', 'g', 'U', '2026-03-01 08:00:00.000000')"
        )
        values = dict(learner_id=1, topic="t", answer="a", correct=True, hinted=False, points=1)
        values.update(time_to_answer_ms=1, answered_at=when)
        conn.execute(insert(Attempt), {**values, "question_id": "via-models"})
    raw = sqlite3.connect(tmp_path / "t.db")
    [(stored,)] = raw.execute("SELECT answered_at FROM attempts").fetchall()
    raw.close()
    engine.dispose()
    assert stored == to_sqlite_time(when) == "2026-03-01 11:00:00.000005"
    assert from_sqlite_time(stored) == when


async def _migrate(url: str) -> None:
    store = await open_store(url.replace("sqlite://", "sqlite+aiosqlite://"))
    await store.close()


async def test_moderation_is_composed_into_the_store_not_mixed_in(tutor, store, bank, clock):
    """store.moderation is an object of its own; what it changes reaches the store's caches
    through one explicit callback (a reset is seen at once by the same store)."""
    from bot.tutor.moderator import Actor, Authority, Moderator

    assert isinstance(store.moderation, ModerationQueries)
    assert not isinstance(store, ModerationQueries)
    ada = learner("Ada")
    await tutor.quiz(ada)
    await tutor.answer(ada, "2")
    await tutor.quiz(ada)  # open, and cards cached
    lid = await store.learner_id(ada)
    assert len(await store.cards(lid)) == 1 and await store.open_question(lid) is not None
    mod = Actor("test", "g1", "mod", "Mo", Authority.MANAGER)
    await Moderator(bank, store.moderation, now=clock).reset(mod, "ada", "shared account")
    assert await store.cards(lid) == {} and await store.open_question(lid) is None


def test_every_action_but_an_undo_has_an_undo_handler():
    assert set(UNDO) == set(ActionKind) - {ActionKind.UNDO}


async def test_closing_the_store_commits_every_write_queued_before(db_url):
    store = await open_store(db_url)
    ids = [await store.learner_id(learner(f"L{i}")) for i in range(50)]
    writes = [asyncio.create_task(store.set_timezone(lid, "Asia/Tokyo")) for lid in ids]
    await asyncio.sleep(0)  # all queued
    await store.close()
    assert all(w.done() and w.exception() is None for w in writes)
    assert await select(db_url, "SELECT DISTINCT timezone FROM learners") == [("Asia/Tokyo",)]


async def test_writes_wait_for_another_process_on_a_thread_in_order(sqlite_url):
    """Another process holds the write lock: writes wait for it on the writer thread while the
    event loop goes on, keep their order, and one given up meanwhile is never run."""
    store = await open_store(sqlite_url)
    lid = await store.learner_id(learner())
    other = sqlite3.connect(sqlite_url.split(":///", 1)[1], isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # the write lock
    first = asyncio.create_task(store.set_timezone(lid, "Asia/Tokyo"))
    await asyncio.sleep(0.05)
    given_up = asyncio.create_task(store.set_timezone(lid, "Europe/Paris"))
    last = asyncio.create_task(store.set_timezone(lid, "America/Lima"))
    for _ in range(10):
        await asyncio.sleep(0.01)  # the loop is free while they wait
    given_up.cancel()
    assert not first.done() and not last.done()
    other.execute("ROLLBACK")
    other.close()
    await first
    await last
    assert await store.timezone(lid) == "America/Lima"
    with pytest.raises(asyncio.CancelledError):
        await given_up
    await store.close()


async def test_checkpoints_keep_the_wal_bounded(sqlite_url, bank):
    """The writer's connection never checkpoints (it writes on the event loop); the reader
    threads do, often enough that the WAL does not grow with every answer."""
    from pathlib import Path

    from bot.tutor.service import Tutor

    store = await open_store(sqlite_url)
    tutor = Tutor(bank, store, shuffle=False)
    for i in range(1500):
        who = learner(f"L{i % 20}")
        question = await tutor.quiz(who)
        await tutor.answer(who, "1" if question.choices else "(None, 5)")
    wal = Path(sqlite_url.split(":///", 1)[1] + "-wal")
    wal_mb = wal.stat().st_size / 1e6  # noqa: ASYNC240 (a test, after the writes)
    await store.close()
    assert wal_mb < 32  # without checkpoints: ~1500 answers x ~12 pages x 4 KiB, ~70 MB
