"""How store operations reach the database: one async interface, two ways to run it.

Store operations are plain synchronous functions of a SQLAlchemy ``Connection``. They run

- for SQLite, on the store's own threads (db/threads.py) with SQLAlchemy's synchronous engine:
  a whole operation (or a whole batch of writes) costs one hand-off between the event loop and a
  thread. Through aiosqlite every *call* (cursor, execute, fetch, close, commit) is such a
  hand-off, and on these machines one costs ~160 µs, so an answer took ~20 of them; see
  README's benchmark. The writer thread keeps one connection and batches writes itself.
- for database servers (e.g. ``postgresql+asyncpg``), on SQLAlchemy's async engine through
  ``run_sync``, where each statement is a network round trip anyway; GroupCommit batches them.

Either way, writes that arrive together share one transaction (group commit), and each returns
once that transaction is committed. Driver errors leave this module as StoreError subclasses
(db/errors.py): one safe line that says what happened (disk full, damaged file, read-only,
locked), never the URL or the SQL.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot.logs import safe_url, url_secrets
from db.errors import classify
from db.group_commit import GroupCommit
from db.threads import GroupCommitThread, Workers

T = TypeVar("T")
Operation = Callable[[Connection], Any]

READER_THREADS = 4
# What a driver raises: through SQLAlchemy (wrapped), or straight from sqlite3 (the named
# statements and the BEGIN run on the driver's connection; db/statements.py).
SQLITE_ERRORS = (DBAPIError, sqlite3.Error)


class Database(Protocol):
    # How many times a write found that another connection (another process, or another store
    # on the same file) had written since our previous write: caches of what we wrote are then
    # stale. Always 0 where that cannot be seen (database servers).
    foreign_writes: int

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


def _run_all(conn: Connection, ops: Sequence[Operation]) -> list[Any]:
    return [op(conn) for op in ops]


class _Errors:
    """Driver errors as StoreErrors that name the database safely."""

    foreign_writes = 0

    def __init__(self, url: URL) -> None:
        # How errors name the database: a SQLite file by its path, a server by its safe URL.
        sqlite = url.get_backend_name() == "sqlite"
        self._where = (url.database or ":memory:") if sqlite else safe_url(url)
        self._secrets = url_secrets(url.render_as_string(hide_password=False))

    def _classify(self, exc: BaseException) -> Exception:
        return classify(exc, self._where, self._secrets)


class ThreadedSqlite(_Errors):
    """SQLite through SQLAlchemy's sync engine: one writer thread, a few reader threads."""

    def __init__(self, url: URL) -> None:
        sync_url = url.set(drivername="sqlite")
        # The pool hands connections to whichever of our threads asks; each connection is used
        # by one thread at a time.
        args = {"check_same_thread": False}
        self._writer = create_engine(sync_url, connect_args=args, pool_size=1, max_overflow=0)
        # Each read is a single SELECT in autocommit, a consistent snapshot of its own in WAL mode:
        # no BEGIN, and nothing to roll back when the connection returns to the pool.
        self._reader = create_engine(
            sync_url,
            connect_args=args,
            pool_size=READER_THREADS,
            max_overflow=0,
            isolation_level="AUTOCOMMIT",
            skip_autocommit_rollback=True,
            pool_reset_on_return=None,
        )
        _configure(self._writer, begin="BEGIN IMMEDIATE")
        _configure(self._reader, begin=None)
        # The writer thread keeps its connection: checking one out of the pool for every batch
        # costs more (~20 µs) than the statements of an answer.
        self._write_conn: Connection | None = None
        self._data_version: int | None = None  # of the writer connection, after our last write
        self._writes: GroupCommitThread[Operation] = GroupCommitThread(
            self._write_sync, "store-writer"
        )
        self._read_threads = Workers("store-reader", READER_THREADS)
        super().__init__(url)

    def _read_sync(self, op: Callable[[Connection], T]) -> T:
        try:
            with self._reader.connect() as conn:
                return op(conn)
        except SQLITE_ERRORS as exc:
            raise self._classify(exc) from exc

    def _write_sync(self, ops: Sequence[Operation]) -> list[Any]:
        try:
            if self._write_conn is None:
                self._write_conn = self._writer.connect()
            conn = self._write_conn
            with conn.begin():
                self._notice_foreign_writes(conn)
                return _run_all(conn, ops)
        except SQLITE_ERRORS as exc:
            self._release_write_conn()  # errors are rare: start the next write afresh
            raise self._classify(exc) from exc

    def _release_write_conn(self) -> None:
        if self._write_conn is not None:
            self._write_conn.close()
            self._write_conn = None

    def _notice_foreign_writes(self, conn: Connection) -> None:
        # SQLite changes a connection's data_version when *another* connection commits. We hold
        # the write lock here (BEGIN IMMEDIATE), so nobody can commit between this and our own
        # commit, which leaves our data_version as it is.
        version = driver_connection(conn).execute("PRAGMA data_version").fetchone()[0]
        if self._data_version is not None and version != self._data_version:
            self.foreign_writes += 1
        self._data_version = version

    async def write(self, op: Callable[[Connection], T]) -> T:
        result: T = await self._writes.run(op)
        return result

    async def migrate(self, op: Operation) -> None:
        await self._writes.call(lambda: self._write_sync([op]))

    async def read(self, op: Callable[[Connection], T]) -> T:
        return await self._read_threads.call(lambda: self._read_sync(op))

    def _dispose(self) -> None:
        self._release_write_conn()
        self._writer.dispose()
        self._reader.dispose()

    async def close(self) -> None:
        await self._writes.call(self._dispose)  # after every write queued before
        await self._writes.close()
        await self._read_threads.stop()


def _configure(engine: Engine, begin: str | None) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let the "begin" event below, not the sqlite3 module, decide when transactions start.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # NORMAL in WAL mode: a killed process loses nothing committed; only a power cut can lose
        # the last transactions. FULL would fsync every answer for little gain here.
        cursor.execute("PRAGMA synchronous=NORMAL")
        # Another process holding the write lock makes us wait, not fail.
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()

    if begin is not None:

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            # IMMEDIATE takes the write lock at once, so a transaction never fails half-way
            # because another process started writing after our first SELECT. (Straight on the
            # driver: SQLAlchemy's execution path costs more than the BEGIN itself.)
            driver_connection(conn).execute(begin)


class AsyncServer(_Errors):
    """A database server through SQLAlchemy's async engine (e.g. postgresql+asyncpg)."""

    def __init__(self, url: URL, engine: AsyncEngine | None = None) -> None:
        self._engine = engine or create_async_engine(url, pool_pre_ping=True)
        self._commits: GroupCommit[Operation] = GroupCommit(self._run_batch)
        super().__init__(url)

    async def write(self, op: Callable[[Connection], T]) -> T:
        result: T = await self._commits.run(op)
        return result

    async def migrate(self, op: Operation) -> None:
        await self._run_batch([op])

    async def _run_batch(self, ops: Sequence[Operation]) -> list[Any]:
        try:
            async with self._engine.begin() as conn:
                return await conn.run_sync(_run_all, ops)
        except (DBAPIError, OSError) as exc:  # OSError: the server cannot be reached
            raise self._classify(exc) from exc

    async def read(self, op: Callable[[Connection], T]) -> T:
        try:
            async with self._engine.connect() as conn:
                return await conn.run_sync(op)
        except (DBAPIError, OSError) as exc:
            raise self._classify(exc) from exc

    async def close(self) -> None:
        await self._commits.close()
        await self._engine.dispose()


def connect(url: URL) -> Database:
    if url.get_backend_name() == "sqlite":
        return ThreadedSqlite(url)
    return AsyncServer(url)
