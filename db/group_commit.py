"""Group commit: many writers, one transaction.

A commit costs far more than the statements in it, and SQLite commits one transaction at a time.
Writes from concurrent learners are therefore queued and run together in one transaction; each
caller's await returns only after that transaction is committed, so "committed before the reply"
still holds for every answer. With one writer there is no waiting: the batch is just that write.

A database server takes several transactions at once, each on its own connection, and there a
batch's statements are round trips run one after another: ``lanes`` batches may then be in
flight together (a write finding a lane free starts at once; batches form only when every lane
is busy). SQLite commits one transaction at a time: one lane.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

log = logging.getLogger(__name__)

Op = TypeVar("Op")
# Runs every op of a batch in one transaction and returns their results, in order.
RunBatch = Callable[[Sequence[Op]], Awaitable[Sequence[Any]]]

# Bounds how long the last writer of a batch waits for the ones before it.
MAX_BATCH = 200


class GroupCommit(Generic[Op]):
    def __init__(self, run_batch: RunBatch[Op], lanes: int = 1) -> None:
        self._run_batch = run_batch
        self._lanes = lanes
        self._pending: list[tuple[Op, asyncio.Future[Any]]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False

    async def run(self, op: Op) -> Any:
        """Run ``op`` in a write transaction; return its result once that is committed."""
        if self._closing:
            raise RuntimeError("the store is closed")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append((op, future))
        # A task that has returned is done at once (its discard comes a little later).
        if sum(not task.done() for task in self._tasks) < self._lanes:
            task = asyncio.create_task(self._loop(), name="store-group-commit")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await future

    async def close(self) -> None:
        """Commit what is queued, then stop."""
        self._closing = True
        while running := [task for task in self._tasks if not task.done()]:
            await asyncio.gather(*running, return_exceptions=True)

    async def _loop(self) -> None:
        # Runs while there is work and then ends (the next write starts another): no task is
        # left idling on an event, which is also what SimCord's settling of bot work requires.
        while self._pending:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            await self._commit(batch)

    async def _commit(self, batch: list[tuple[Op, asyncio.Future[Any]]]) -> None:
        live = [(op, fut) for op, fut in batch if not fut.cancelled()]
        if not live:
            return
        try:
            results = await self._run_batch([op for op, _ in live])
        except Exception as exc:
            if len(live) > 1:
                # One bad write must not fail its neighbours: run each on its own.
                log.warning("a batched write failed; retrying its %d writes one by one", len(live))
                for item in live:
                    await self._commit([item])
            elif not live[0][1].done():
                live[0][1].set_exception(exc)
            return
        for (_, future), result in zip(live, results, strict=True):
            if not future.done():
                future.set_result(result)
