"""The store's SQLite database: writes committed on the event loop when nothing can make them
wait, on a thread when something can; reads and checkpoints on threads.

Why writes run on the event loop. An answer's transaction is a few statements and a commit that
appends pages to the WAL: tens of microseconds of SQLite, no fsync (synchronous=NORMAL). Handing
it to a thread and back costs more than that (two wake-ups, the GIL changing hands; measured:
~55 µs of CPU per write and ~20% of throughput with one learner), and in CPython the thread's
Python holds the GIL anyway. What can make a write wait is kept off the loop:

- another process holding the write lock: the loop tries ``BEGIN IMMEDIATE`` without waiting
  (busy timeout 0); when the lock is taken, the batch goes to the writer thread, which waits up
  to the busy timeout, and every later write follows it there until it is done (order kept);
- checkpoints (copying the WAL into the database file, with fsyncs): automatic checkpoints are
  off on the writer's connection, and a reader thread runs one every ``CHECKPOINT_EVERY``
  writes; writes made meanwhile find the lock taken and wait on the writer thread. What may
  stay on the loop is one small fsync per WAL cycle, when the first write after a checkpoint
  rewrites the WAL header.

Writes issued during one turn of the loop are committed together at the end of it (group
commit): one transaction, each caller's await returning once it is committed; a batch that fails
is run again on the thread one write at a time, so that one bad write does not fail the others.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL

from db.database import SQLITE_ERRORS, Operation, SafeErrors, driver_connection, run_all
from db.group_commit import MAX_BATCH
from db.threads import Workers

log = logging.getLogger(__name__)

T = TypeVar("T")
READER_THREADS = 4
BUSY_TIMEOUT_MS = 10_000  # another process holding the write lock: wait this long, then fail
CHECKPOINT_EVERY = 200  # writes; about 2,000 WAL pages (8 MB) at an answer's ~10 pages
CHECKPOINT_WAIT_MS = 100  # the longest a checkpoint may hold up writes waiting for readers
_SQLITE_BUSY = 5

_Write = tuple[Operation, "asyncio.Future[Any]"]


def _is_busy(exc: BaseException) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(code, int) and code & 0xFF == _SQLITE_BUSY


def _settle(batch: Sequence[_Write], results: Sequence[Any]) -> None:
    for (_, future), result in zip(batch, results, strict=True):
        if not future.done():  # not given up meanwhile
            future.set_result(result)


def _fail(batch: Sequence[_Write], error: BaseException) -> None:
    for _, future in batch:
        if not future.done():
            future.set_exception(error)


class Sqlite(SafeErrors):
    sees_foreign_writes = True  # PRAGMA data_version, at each write (_notice_foreign_writes)

    def __init__(self, url: URL) -> None:
        sync_url = url.set(drivername="sqlite")
        # The connections move between the loop and our threads; each is used by one at a time.
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
        _configure(self._writer, writer=True)
        _configure(self._reader, writer=False)
        # The writer's connection, kept: a pool checkout per transaction costs more (~20 µs)
        # than an answer's statements. Used by the loop, or by the writer thread while
        # ``_on_thread`` is not 0, never by both.
        self._conn: Connection | None = None
        self._data_version: int | None = None  # of the writer connection, after our last write
        self._pending: list[_Write] = []
        self._flush_scheduled = False
        self._on_thread = 0  # batches handed to the writer thread and not done yet
        self._thread_jobs: set[asyncio.Task[None]] = set()
        self._since_checkpoint = 0
        self._checkpoint: asyncio.Task[None] | None = None
        self._closing = False
        self._write_thread = Workers("store-writer")
        self._read_threads = Workers("store-reader", READER_THREADS)
        super().__init__(url)

    # --- Writes ---------------------------------------------------------------------------------

    async def write(self, op: Callable[[Connection], T]) -> T:
        """Run ``op`` in a write transaction; return its result once that is committed."""
        if self._closing:
            raise RuntimeError("the store is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._pending.append((op, future))
        if not self._flush_scheduled:
            # After the callbacks already due in this turn of the loop: the writes they make
            # join this batch.
            self._flush_scheduled = True
            loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        self._flush_scheduled = False
        batch = [write for write in self._pending[:MAX_BATCH] if not write[1].cancelled()]
        del self._pending[:MAX_BATCH]
        if self._pending:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)
        if not batch:
            return
        if not self._on_thread and self._conn is not None:  # connecting may wait: not here
            try:
                results = self._transaction([op for op, _ in batch], wait=False)
            except Exception as exc:
                # Locked by another process, or one of several writes failed: on to the
                # thread, which waits for the lock and runs the writes one by one if needed.
                if not (_is_busy(exc) or len(batch) > 1):
                    _fail(batch, self._as_store_error(exc))
                    return
            except BaseException as exc:  # e.g. KeyboardInterrupt: nobody may wait forever
                _fail(batch, exc)
                raise
            else:
                _settle(batch, results)
                self._wrote(len(batch))
                return
        self._to_thread(batch)

    def _to_thread(self, batch: list[_Write]) -> None:
        self._on_thread += 1
        job = asyncio.get_running_loop().create_task(self._on_writer_thread(batch))
        self._thread_jobs.add(job)
        job.add_done_callback(self._thread_jobs.discard)

    async def _on_writer_thread(self, batch: list[_Write]) -> None:
        try:
            outcomes = await self._write_thread.call(lambda: self._write_waiting(batch))
        except BaseException as exc:  # not an error of the writes: nobody may wait forever
            _fail(batch, exc)
            raise
        finally:
            self._on_thread -= 1
        for (_, future), (result, error) in zip(batch, outcomes, strict=True):
            if future.done():
                continue
            if error is None:
                future.set_result(result)
            else:
                future.set_exception(error)
        self._wrote(len(batch))

    def _write_waiting(self, batch: list[_Write]) -> list[tuple[Any, BaseException | None]]:
        """On the writer thread: the batch in one transaction, waiting for the lock; if it
        fails, each write alone, so that one bad write does not fail its neighbours."""
        live = [i for i, (_, future) in enumerate(batch) if not future.cancelled()]
        outcomes: list[tuple[Any, BaseException | None]] = [(None, None)] * len(batch)
        if not live:
            return outcomes
        try:
            results = self._transaction([batch[i][0] for i in live], wait=True)
        except Exception as exc:
            if len(live) == 1:
                outcomes[live[0]] = (None, self._as_store_error(exc))
                return outcomes
            log.warning("a batched write failed; retrying its %d writes one by one", len(live))
            for i in live:
                try:
                    outcomes[i] = (self._transaction([batch[i][0]], wait=True)[0], None)
                except Exception as alone:
                    outcomes[i] = (None, self._as_store_error(alone))
            return outcomes
        for i, result in zip(live, results, strict=True):
            outcomes[i] = (result, None)
        return outcomes

    def _transaction(self, ops: Sequence[Operation], wait: bool) -> list[Any]:
        """Run ``ops`` in one write transaction and commit it. Without ``wait``, a write lock
        held by another process raises SQLITE_BUSY at once (and nothing was done)."""
        if self._conn is None:
            self._conn = self._writer.connect()
        conn = self._conn
        raw = driver_connection(conn)
        if wait:
            raw.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        try:
            # IMMEDIATE takes the write lock at once, so a transaction never fails half-way
            # because another process started writing after our first SELECT.
            raw.execute("BEGIN IMMEDIATE")
        finally:
            if wait:
                raw.execute("PRAGMA busy_timeout=0")
        try:
            with conn.begin():  # SQLAlchemy's view of it: commits, or rolls back on error
                self._notice_foreign_writes(raw)
                return run_all(conn, ops)
        except BaseException:
            if raw.in_transaction:
                raw.execute("ROLLBACK")
            raise

    def _as_store_error(self, exc: BaseException) -> BaseException:
        if not isinstance(exc, SQLITE_ERRORS):
            return exc  # the operation's own (e.g. ModerationError), or a bug
        self._release()  # errors are rare: start the next write on a fresh connection
        return self._classify(exc)

    def _release(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _notice_foreign_writes(self, raw: sqlite3.Connection) -> None:
        # SQLite changes a connection's data_version when *another* connection commits. We hold
        # the write lock here (BEGIN IMMEDIATE), so nobody can commit between this and our own
        # commit, which leaves our data_version as it is.
        version = raw.execute("PRAGMA data_version").fetchone()[0]
        if self._data_version is not None and version != self._data_version:
            self.foreign_writes += 1
        self._data_version = version

    def _wrote(self, count: int) -> None:
        self._since_checkpoint += count
        if self._since_checkpoint >= CHECKPOINT_EVERY and self._checkpoint is None:
            self._since_checkpoint = 0
            self._checkpoint = asyncio.get_running_loop().create_task(self._run_checkpoint())

    async def _run_checkpoint(self) -> None:
        try:
            await self._read_threads.call(self._checkpoint_now)
        except Exception:  # the next one will try again; writes go on meanwhile
            log.warning("a WAL checkpoint failed", exc_info=True)
        finally:
            self._checkpoint = None

    def _checkpoint_now(self) -> None:
        # PASSIVE copies the WAL into the database file without holding up writers; RESTART
        # then copies what was written meanwhile and has the next write start the WAL over. It
        # holds the write lock while it runs (writes find it taken and wait on the writer
        # thread, never on the event loop), hence the passive pass first, which leaves it
        # little to copy. Passive checkpoints alone would not do: with writes going on, the WAL
        # is never all copied when the next write starts, and it grows without end.
        # RESTART also waits for readers of older snapshots (a long export, say), holding up
        # writers meanwhile: it waits ``CHECKPOINT_WAIT_MS`` at most, and a later one finishes.
        with self._reader.connect() as conn:
            raw = driver_connection(conn)
            raw.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            raw.execute(f"PRAGMA busy_timeout={CHECKPOINT_WAIT_MS}")
            try:
                raw.execute("PRAGMA wal_checkpoint(RESTART)").fetchall()
            finally:
                raw.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")

    async def migrate(self, op: Operation) -> None:
        self._on_thread += 1
        try:
            await self._write_thread.call(lambda: self._migrate(op))
        finally:
            self._on_thread -= 1

    def _migrate(self, op: Operation) -> None:
        try:
            self._transaction([op], wait=True)
        except SQLITE_ERRORS as exc:
            raise self._as_store_error(exc) from exc

    # --- Reads and the rest ---------------------------------------------------------------------

    async def read(self, op: Callable[[Connection], T]) -> T:
        return await self._read_threads.call(lambda: self._read(op))

    def _read(self, op: Callable[[Connection], T]) -> T:
        try:
            with self._reader.connect() as conn:
                return op(conn)
        except SQLITE_ERRORS as exc:
            raise self._classify(exc) from exc

    async def close(self) -> None:
        """Commit every write already asked for, then close."""
        self._closing = True
        while self._pending:
            self._flush()
        while self._thread_jobs or self._checkpoint:
            jobs = [*self._thread_jobs, *filter(None, [self._checkpoint])]
            await asyncio.gather(*jobs, return_exceptions=True)
        await self._write_thread.call(self._dispose)
        await self._write_thread.stop()
        await self._read_threads.stop()

    def _dispose(self) -> None:
        self._release()
        self._writer.dispose()
        self._reader.dispose()


def _configure(engine: Engine, writer: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Transactions start where we say (BEGIN IMMEDIATE), not where the sqlite3 module would.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # Another process holding a lock makes us wait (on a thread), not fail.
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # NORMAL in WAL mode: a killed process loses nothing committed; only a power cut can lose
        # the last transactions. FULL would fsync every answer for little gain here.
        cursor.execute("PRAGMA synchronous=NORMAL")
        if writer:
            # Writes run on the event loop: they must never wait (the lock taken: the thread
            # takes over) and never checkpoint (the reader threads do).
            cursor.execute("PRAGMA busy_timeout=0")
            cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.close()
