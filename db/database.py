"""How store operations reach the database: one async interface, two implementations.

Store operations are plain synchronous functions of a SQLAlchemy ``Connection``. They run

- for SQLite, through SQLAlchemy's synchronous engine (db/sqlite.py): writes batched per turn of
  the event loop and committed on it when nothing can make them wait, on a thread otherwise;
  reads on a few threads. Through aiosqlite every *call* (cursor, execute, fetch, close,
  commit) was a hand-off between the event loop and a thread, ~160 µs each on these machines,
  and an answer took ~20 of them; see README's benchmark.
- for database servers (e.g. ``postgresql+asyncpg``), on SQLAlchemy's async engine through
  ``run_sync``, where each statement is a network round trip anyway; GroupCommit batches writes,
  several batches at once on their own connections (``WRITE_LANES``), and a transaction the
  server rolled back for a deadlock or a serialization failure is run again. Reads run outside
  any transaction (autocommit), which saves the BEGIN and ROLLBACK round trips around each one
  (and around the pool's ping): on PostgreSQL, whose default isolation (read committed) gives
  each statement a snapshot of its own, a read sees exactly what it would in a transaction.

Either way, writes that arrive together share one transaction (group commit), and each returns
once that transaction is committed. Driver errors leave this module as StoreError subclasses
(db/errors.py): one safe line that says what happened (disk full, damaged file, read-only,
locked), never the URL or the SQL.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from bot.logs import redact, safe_url, url_secrets
from db.errors import StoreError, classify, sqlstate_of
from db.group_commit import GroupCommit

T = TypeVar("T")
Operation = Callable[[Connection], Any]
log = logging.getLogger(__name__)

# Write transactions in flight at once on a server (each on a connection of the pool, which also
# serves reads): a batch's statements are round trips, run one after another, so one lane would
# leave the server idle between them.
WRITE_LANES = 4
POOL_SIZE = 8
# The server rolled the transaction back and nothing of it happened: run it again (a few
# times). Deadlocks can happen between batches, and between processes sharing the database.
RETRY_SQLSTATES = frozenset({"40P01", "40001"})  # deadlock detected, serialization failure
RETRIES = 3

# What a driver raises: through SQLAlchemy (wrapped), or straight from sqlite3 (the named
# statements and the BEGIN run on the driver's connection; db/statements.py).
SQLITE_ERRORS = (DBAPIError, sqlite3.Error)


class Database(Protocol):
    # How many times a write found that another connection (another process, or another store
    # on the same file) had written since our previous write: caches of what we wrote are then
    # stale. Always 0 where that cannot be seen (database servers).
    foreign_writes: int
    # Whether ``foreign_writes`` counts anything (SQLite's data_version): where it does not (a
    # server), a store checks learners' version stamps before using its caches (db/versions.py).
    sees_foreign_writes: bool

    async def read(self, op: Callable[[Connection], T]) -> T: ...

    async def write(self, op: Callable[[Connection], T]) -> T:
        """Run ``op`` in a write transaction; returns once it is committed."""
        ...

    async def migrate(self, op: Operation) -> None:
        """Run ``op`` (Alembic) in one transaction, outside any batch."""
        ...

    async def close(self) -> None: ...


def driver_connection(conn: Connection) -> Any:
    """The driver's own connection under ``conn`` (a sqlite3.Connection for SQLite)."""
    return conn.connection.driver_connection


def run_all(conn: Connection, ops: Sequence[Operation]) -> list[Any]:
    return [op(conn) for op in ops]


class SafeErrors:
    """Driver errors as StoreErrors that name the database safely."""

    foreign_writes = 0
    sees_foreign_writes = False

    def __init__(self, url: URL) -> None:
        # How errors name the database: a SQLite file by its path, a server by its safe URL.
        sqlite = url.get_backend_name() == "sqlite"
        self._where = (url.database or ":memory:") if sqlite else safe_url(url)
        self._secrets = url_secrets(url.render_as_string(hide_password=False))

    def _classify(self, exc: BaseException) -> Exception:
        return classify(exc, self._where, self._secrets)


class AsyncServer(SafeErrors):
    """A database server through SQLAlchemy's async engine (e.g. postgresql+asyncpg)."""

    def __init__(self, url: URL, engine: AsyncEngine | None = None) -> None:
        # Connections are in autocommit unless a write asks for transactions (``_run_batch``).
        self._engine = engine or create_async_engine(
            url, pool_pre_ping=True, pool_size=POOL_SIZE, isolation_level="AUTOCOMMIT"
        )
        # The level writes run at: the database's default (SQLite knows no READ COMMITTED).
        sqlite = url.get_backend_name() == "sqlite"
        self._transactions = "SERIALIZABLE" if sqlite else "READ COMMITTED"
        self._commits: GroupCommit[Operation] = GroupCommit(self._run_batch, lanes=WRITE_LANES)
        super().__init__(url)

    async def write(self, op: Callable[[Connection], T]) -> T:
        result: T = await self._commits.run(op)
        return result

    async def migrate(self, op: Operation) -> None:
        await self._run_batch([op])

    async def _run_batch(self, ops: Sequence[Operation]) -> list[Any]:
        for attempt in range(1, RETRIES + 1):
            try:
                conn = await self._connect()
                try:
                    await conn.execution_options(isolation_level=self._transactions)
                    async with conn.begin():
                        return await conn.run_sync(run_all, ops)
                finally:
                    await conn.close()
            except DBAPIError as exc:
                if sqlstate_of(exc) in RETRY_SQLSTATES and attempt < RETRIES:
                    log.info(
                        "a write transaction was rolled back (%s); running it again",
                        sqlstate_of(exc),
                    )
                    continue
                raise self._classify(exc) from exc
            except OSError as exc:  # the server cannot be reached
                raise self._classify(exc) from exc
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def read(self, op: Callable[[Connection], T]) -> T:
        try:
            conn = await self._connect()
            try:
                return await conn.run_sync(op)
            finally:
                await conn.close()
        except (DBAPIError, OSError) as exc:
            raise self._classify(exc) from exc

    async def _connect(self) -> AsyncConnection:
        try:
            return await self._engine.connect()
        except TypeError as exc:
            # The URL's query holds an option the driver's connect() does not take (asyncpg:
            # "unexpected keyword argument 'sslpassword'"): the URL's fault, not a bug.
            detail = redact(str(exc).splitlines()[0], self._secrets)
            raise StoreError(
                f"invalid database URL {self._where}: the driver refused an option ({detail}); "
                "remove it from the URL"
            ) from None

    async def close(self) -> None:
        await self._commits.close()
        await self._engine.dispose()


def connect(url: URL) -> Database:
    if url.get_backend_name() == "sqlite":
        from db.sqlite import Sqlite

        return Sqlite(url)
    return AsyncServer(url)
