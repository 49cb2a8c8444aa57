"""``python -m bot db copy --to URL``: every table of one database into another, typically an
existing SQLite file into a new PostgreSQL database when one machine is no longer enough.

Both databases are first migrated to the newest revision (as any start would), so they have the
same tables. The source is read in one transaction (a consistent snapshot: stop the bot first
anyway, or what it writes meanwhile stays behind) and the target written in one transaction:
either everything is copied or nothing is. Rows keep their ids, so PostgreSQL's sequences are
then moved past the largest id, or the next learner or answer would collide with a copied one.
A target that already holds data is refused unless ``replace`` is given, which empties it first
(in the same transaction). The learners' version stamps (db/versions.py) are moved past every
version the target had, so that a process still running on it cannot take a copied learner's
state for one it cached before.
"""

from __future__ import annotations

from sqlalchemy import Connection, Table, delete, func, insert, select, update
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from bot.logs import safe_url, url_secrets
from db.errors import StoreError, classify
from db.models import Base, Learner
from db.store import open_store

CHUNK = 1000  # rows per INSERT: bounds memory whatever the size of a table


def _tables() -> list[Table]:
    """Every table of the schema, each after the tables it refers to."""
    return list(Base.metadata.sorted_tables)


def _counts(conn: Connection) -> dict[str, int]:
    return {
        table.name: int(conn.execute(select(func.count()).select_from(table)).scalar_one())
        for table in _tables()
    }


def _fix_sequences(conn: Connection) -> None:
    """PostgreSQL: each id sequence past the largest id copied (SQLite needs nothing: a new
    row takes the largest rowid plus one)."""
    if conn.dialect.name != "postgresql":
        return
    for table in _tables():
        key = list(table.primary_key.columns)
        if len(key) != 1:
            continue
        sequence = func.pg_get_serial_sequence(table.name, key[0].name)
        if conn.execute(select(sequence)).scalar() is None:
            continue  # not a serial column (e.g. open_questions.learner_id)
        largest = select(func.coalesce(func.max(key[0]), 0) + 1).scalar_subquery()
        conn.execute(select(func.setval(sequence, largest, False)))


def _top_version(conn: Connection) -> int:
    return int(conn.execute(select(func.coalesce(func.max(Learner.state_version), 0))).scalar_one())


def _move_versions(conn: Connection, past: int) -> None:
    conn.execute(update(Learner).values(state_version=Learner.state_version + past + 1))


async def copy_database(
    source_url: str, target_url: str, *, replace: bool = False
) -> dict[str, int]:
    """Copy every row from ``source_url`` to ``target_url``; the number of rows per table.
    Raises StoreError (one safe line) if either cannot be used or the target is not empty."""
    for url in (source_url, target_url):
        store = await open_store(url)  # migrated to the newest revision; errors as StoreError
        await store.close()
    source, target = make_url(source_url), make_url(target_url)  # valid: opened above
    if _same(source, target):
        raise StoreError("the source and the target are the same database")
    reader = create_async_engine(source, poolclass=NullPool)
    writer = create_async_engine(target, poolclass=NullPool)
    where = safe_url(target)
    try:
        async with reader.connect() as src, writer.begin() as dst:
            await src.begin()  # one snapshot of the source
            existing = await dst.run_sync(_counts)
            if any(existing.values()) and not replace:
                held = ", ".join(f"{n} {table}" for table, n in existing.items() if n)
                raise StoreError(
                    f"the target database {where} already holds data ({held}); copy into an "
                    "empty database, or give --replace to empty this one first"
                )
            past = await dst.run_sync(_top_version)
            for table in reversed(_tables()):
                await dst.execute(delete(table))
            copied: dict[str, int] = {}
            for table in _tables():
                rows = await src.stream(select(table).order_by(*table.primary_key.columns))
                copied[table.name] = 0
                async for chunk in rows.partitions(CHUNK):
                    await dst.execute(insert(table), [dict(row._mapping) for row in chunk])
                    copied[table.name] += len(chunk)
            await dst.run_sync(_fix_sequences)
            await dst.run_sync(_move_versions, past)
            return copied
    except (DBAPIError, OSError) as exc:
        secrets = url_secrets(target.render_as_string(hide_password=False))
        raise classify(exc, where, secrets) from exc
    finally:
        await reader.dispose()
        await writer.dispose()


def _same(a: URL, b: URL) -> bool:
    def key(url: URL) -> tuple[object, ...]:
        return (url.get_backend_name(), url.host, url.port, url.database)

    return key(a) == key(b)
