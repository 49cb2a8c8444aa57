"""How store operations reach the database: one async interface, two ways to run it.

Store operations are plain synchronous functions of a SQLAlchemy ``Connection``. They run

- for SQLite, on the store's own threads with SQLAlchemy's synchronous engine: a whole operation
  (or a whole batch of writes) costs one hand-off between the event loop and a thread. Through
  aiosqlite every *call* (cursor, execute, fetch, close, commit) is such a hand-off, and on these
  machines one costs ~160 µs, so an answer took ~20 of them; see README's benchmark.
- for database servers (e.g. ``postgresql+asyncpg``), on SQLAlchemy's async engine through
  ``run_sync``, where each statement is a network round trip anyway.

Writes go through GroupCommit either way: one transaction for all writes that arrive together.
Driver errors leave this module as StoreError subclasses (db/errors.py): one safe line
that says what happened (disk full, damaged file, read-only, locked), never the URL or the SQL.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot.logs import safe_url, url_secrets
from db.errors import classify
from db.group_commit import GroupCommit

T = TypeVar("T")
Operation = Callable[[Connection], Any]

READER_THREADS = 4


class Database(Protocol):
    async def read(self, op: Callable[[Connection], T]) -> T: ...

    async def write(self, op: Callable[[Connection], T]) -> T:
        """Run ``op`` in a write transaction; returns once it is committed."""
        ...

    async def migrate(self, op: Operation) -> None:
        """Run ``op`` (Alembic) in one transaction, outside any batch."""
        ...

    async def close(self) -> None: ...


def _run_all(conn: Connection, ops: Sequence[Operation]) -> list[Any]:
    return [op(conn) for op in ops]


class _BatchedWrites:
    """Writes through GroupCommit; subclasses say how a batch runs in one transaction."""

    def __init__(self, url: URL) -> None:
        self._commits: GroupCommit[Operation] = GroupCommit(self._run_batch)
        # How errors name the database: a SQLite file by its path, a server by its safe URL.
        sqlite = url.get_backend_name() == "sqlite"
        self._where = (url.database or ":memory:") if sqlite else safe_url(url)
        self._secrets = url_secrets(url.render_as_string(hide_password=False))

    def _classify(self, exc: BaseException) -> Exception:
        return classify(exc, self._where, self._secrets)

    async def _run_batch(self, ops: Sequence[Operation]) -> list[Any]:
        raise NotImplementedError

    async def write(self, op: Callable[[Connection], T]) -> T:
        result: T = await self._commits.run(op)
        return result

    async def migrate(self, op: Operation) -> None:
        await self._run_batch([op])


class ThreadedSqlite(_BatchedWrites):
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
        self._write_thread = ThreadPoolExecutor(1, thread_name_prefix="store-writer")
        self._read_threads = ThreadPoolExecutor(READER_THREADS, thread_name_prefix="store-reader")
        super().__init__(url)

    def _read_sync(self, op: Callable[[Connection], T]) -> T:
        try:
            with self._reader.connect() as conn:
                return op(conn)
        except DBAPIError as exc:
            raise self._classify(exc) from exc

    def _write_sync(self, ops: Sequence[Operation]) -> list[Any]:
        try:
            with self._writer.begin() as conn:
                return _run_all(conn, ops)
        except DBAPIError as exc:
            raise self._classify(exc) from exc

    async def _run_batch(self, ops: Sequence[Operation]) -> list[Any]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._write_thread, self._write_sync, ops)

    async def read(self, op: Callable[[Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._read_threads, self._read_sync, op)

    async def close(self) -> None:
        await self._commits.close()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._write_thread, self._writer.dispose)
        await loop.run_in_executor(self._write_thread, self._reader.dispose)
        self._write_thread.shutdown()
        self._read_threads.shutdown()


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
            # because another process started writing after our first SELECT.
            conn.exec_driver_sql(begin)


class AsyncServer(_BatchedWrites):
    """A database server through SQLAlchemy's async engine (e.g. postgresql+asyncpg)."""

    def __init__(self, url: URL, engine: AsyncEngine | None = None) -> None:
        self._engine = engine or create_async_engine(url, pool_pre_ping=True)
        super().__init__(url)

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
