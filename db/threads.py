"""Threads that run the store's blocking SQLite calls for the event loop.

A call goes in through a queue and its result comes back through ``call_soon_threadsafe``: about
20 µs a round trip on these machines, against about 30 µs for ``loop.run_in_executor`` (whose
concurrent.futures machinery adds locks and a second future), and every answer makes one. The
threads are daemons: one still blocked in SQLite when the interpreter exits leaves its
transaction uncommitted, and nobody was told it was.

- ``Workers``: a few threads taking calls from one queue (the readers).
- ``GroupCommitThread``: the writer. It runs writes in batches itself: every write queued while
  a batch runs joins the next one, committed as one transaction (group commit, as
  db/group_commit.py does on the event loop for database servers). No asyncio task, one future
  per write, one wake-up of the event loop per batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from db.group_commit import MAX_BATCH

log = logging.getLogger(__name__)

T = TypeVar("T")
Op = TypeVar("Op")
# A future to settle, with its result or its error.
_Outcome = tuple["asyncio.Future[Any]", Any, BaseException | None]


@dataclass(frozen=True)
class _Call:
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    fn: Callable[[], Any]


@dataclass(frozen=True)
class _Write(Generic[Op]):
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    op: Op


class _Stop:
    """Queued by close(): the thread ends once everything queued before it is done."""


_STOP = _Stop()


def _attempt(fn: Callable[[], Any]) -> tuple[Any, BaseException | None]:
    try:
        return fn(), None
    except BaseException as exc:  # handed to the caller, whatever it is
        return None, exc


def _settle(outcomes: list[_Outcome]) -> None:
    for future, result, error in outcomes:
        if future.done():  # the caller was cancelled; the call ran anyway
            continue
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error)


def _post(loop: asyncio.AbstractEventLoop, outcomes: list[_Outcome]) -> None:
    with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting any more
        loop.call_soon_threadsafe(_settle, outcomes)


async def _submit(jobs: queue.SimpleQueue[Any], make: Callable[..., Any], payload: Any) -> Any:
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()
    jobs.put(make(loop, future, payload))
    return await future


class Workers:
    """``count`` threads taking calls from one queue."""

    def __init__(self, name: str, count: int = 1) -> None:
        self._jobs: queue.SimpleQueue[_Call | _Stop] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._serve, name=f"{name}-{i}", daemon=True)
            for i in range(count)
        ]
        for thread in self._threads:
            thread.start()

    async def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on one of the threads; its result, or its exception."""
        result: T = await _submit(self._jobs, _Call, fn)
        return result

    async def stop(self) -> None:
        """Finish the calls queued, then end the threads."""
        for _ in self._threads:
            self._jobs.put(_STOP)
        await asyncio.to_thread(self._join)

    def _join(self) -> None:
        for thread in self._threads:
            thread.join()

    def _serve(self) -> None:
        while isinstance(job := self._jobs.get(), _Call):
            _post(job.loop, [(job.future, *_attempt(job.fn))])


class GroupCommitThread(Generic[Op]):
    """One thread running writes in batches; ``run_batch`` runs a batch in one transaction and
    returns the result of each op, in order. ``call`` runs a function on the same thread,
    outside any batch (a migration, closing the connection)."""

    def __init__(self, run_batch: Callable[[Sequence[Op]], Sequence[Any]], name: str) -> None:
        self._run_batch = run_batch
        self._jobs: queue.SimpleQueue[_Write[Op] | _Call | _Stop] = queue.SimpleQueue()
        self._closing = False
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    async def run(self, op: Op) -> Any:
        """Run ``op`` in a write transaction; return its result once that is committed."""
        if self._closing:
            raise RuntimeError("the store is closed")
        return await _submit(self._jobs, _Write, op)

    async def call(self, fn: Callable[[], T]) -> T:
        result: T = await _submit(self._jobs, _Call, fn)
        return result

    async def close(self) -> None:
        """Commit what is queued, then end the thread."""
        self._closing = True
        self._jobs.put(_STOP)
        await asyncio.to_thread(self._thread.join)

    def _serve(self) -> None:
        held: _Write[Op] | _Call | _Stop | None = None  # taken while filling a batch
        while True:
            job = held or self._jobs.get()
            held = None
            if isinstance(job, _Stop):
                return
            if isinstance(job, _Call):
                _post(job.loop, [(job.future, *_attempt(job.fn))])
                continue
            batch = [job]
            while len(batch) < MAX_BATCH:
                try:
                    queued = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if not isinstance(queued, _Write):
                    held = queued  # after this batch
                    break
                batch.append(queued)
            self._commit(batch)

    def _commit(self, batch: list[_Write[Op]]) -> None:
        live = [write for write in batch if not write.future.cancelled()]
        if not live:
            return
        results, error = _attempt(lambda: self._run_batch([write.op for write in live]))
        if error is not None and len(live) > 1:
            # One bad write must not fail its neighbours: run each on its own.
            log.warning("a batched write failed; retrying its %d writes one by one", len(live))
            for write in live:
                self._commit([write])
            return
        outcomes: dict[asyncio.AbstractEventLoop, list[_Outcome]] = {}
        for i, write in enumerate(live):
            outcome = (write.future, None if error else results[i], error)
            outcomes.setdefault(write.loop, []).append(outcome)
        for loop, settled in outcomes.items():
            _post(loop, settled)
