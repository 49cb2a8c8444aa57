"""The runner: a pool of warm, single-use sandboxed workers behind a fair queue.

Each worker has imported TensorFlow (and warmed up) before a snippet arrives, runs exactly one
snippet and exits; the pool starts a replacement right away, so no state passes between
learners and nothing is forked after TensorFlow ran an op. The bot process never imports
TensorFlow: only workers do.

Fairness: one snippet per user at a time (queued or running), a bounded FIFO queue, and at most
``workers`` snippets running at once. Callers learn their place in the queue through
``on_position``.

    async with Runner(settings.runner) as runner:
        result = await runner.run(code, user="42", on_position=tell_user)
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType

from bot.runner.cache import ResultCache
from bot.runner.explain import Explainer, default_explainer
from bot.runner.handle import Worker
from bot.runner.result import RunResult
from bot.runner.sandbox import Sandbox, SandboxUnavailable
from bot.settings import RunnerSettings

log = logging.getLogger(__name__)

PositionCallback = Callable[[int], Awaitable[None] | None]
FAILURES_BEFORE_GIVING_UP = 3


class RunRefused(Exception):
    """The snippet was not run; the message can be shown to the learner as it is."""


class AlreadyRunning(RunRefused):
    def __init__(self) -> None:
        super().__init__("You already have a snippet running; wait for its result first.")


class QueueFull(RunRefused):
    def __init__(self, limit: int) -> None:
        super().__init__(f"The runner is busy ({limit} snippets waiting); try again in a minute.")


class SnippetTooLarge(RunRefused):
    def __init__(self, limit: int) -> None:
        super().__init__(f"That snippet is too long (at most {limit:,} bytes).")


class RunnerClosed(RunRefused):
    def __init__(self) -> None:
        super().__init__("The runner is shutting down.")


@dataclass(eq=False)
class _Job:
    code: str
    user: str
    on_position: PositionCallback | None
    future: asyncio.Future[RunResult] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    position: int = 0
    task: asyncio.Task[None] | None = None


class Runner:
    """Runs snippets for many users on a few warm sandboxed workers. See the module docstring."""

    def __init__(
        self,
        settings: RunnerSettings,
        *,
        spawn_limit: int | None = None,
        cache: ResultCache | None = None,
        explainer: Explainer | None = None,
    ) -> None:
        """``spawn_limit``: start at most this many workers in all, for a command that knows how
        many snippets it will run (no idle refill left over). ``cache``: verified content
        results to answer from (``run(..., use_cache=False)`` skips it)."""
        self.settings = settings
        self.spawn_limit = spawn_limit
        self.cache = cache
        self.explainer = explainer or default_explainer()
        self._sandbox: Sandbox | None = None
        self._idle: deque[Worker] = deque()
        self._starting = 0
        self._spawned = 0
        self._running = 0
        self._queue: deque[_Job] = deque()
        self._users: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._failures = 0
        self._broken: SandboxUnavailable | None = None
        self._closed = False
        self._changed = asyncio.Event()

    # --- life cycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Check the sandbox and start warming the workers (returns without waiting for them).

        Raises SandboxUnavailable when bubblewrap is missing: snippets never run without it."""
        if self._sandbox is not None:
            return
        if self._closed:
            raise RunnerClosed()
        self._sandbox = Sandbox(self.settings)
        self._pump()

    async def close(self) -> None:
        self._closed = True
        while self._queue:
            job = self._queue.popleft()
            if not job.future.done():
                job.future.set_exception(RunnerClosed())
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        while self._idle:
            await self._idle.popleft().discard()

    async def __aenter__(self) -> Runner:
        await self.start()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # --- running -------------------------------------------------------------------------------

    async def run(
        self,
        code: str,
        user: str,
        on_position: PositionCallback | None = None,
        *,
        use_cache: bool = True,
    ) -> RunResult:
        """Run ``code`` for ``user`` and return what it did.

        Everything the snippet does comes back as the result. Raises RunRefused subclasses
        (AlreadyRunning, QueueFull, SnippetTooLarge, RunnerClosed) when it is not run, and
        SandboxUnavailable when snippets cannot run on this machine at all.
        ``on_position(n)`` is called (and awaited in the background if it is a coroutine
        function) whenever the snippet's place in the queue changes, n = 1 being next.
        """
        if self._closed:
            raise RunnerClosed()
        if len(code.encode()) > self.settings.code_limit_bytes:
            raise SnippetTooLarge(self.settings.code_limit_bytes)
        if use_cache and self.cache is not None and (hit := self.cache.get(code)) is not None:
            return hit
        if user in self._users:
            raise AlreadyRunning()
        if len(self._queue) >= self.settings.queue_limit:
            raise QueueFull(self.settings.queue_limit)
        if self._broken is not None:
            raise self._broken
        await self.start()
        job = _Job(code, user, on_position)
        self._users.add(user)
        self._queue.append(job)
        try:
            self._pump()
            return await asyncio.shield(job.future)
        except asyncio.CancelledError:
            # The caller gave up: leave the queue, or stop the sandbox running it.
            if job in self._queue:
                self._queue.remove(job)
            elif job.task is not None:
                job.task.cancel()
            raise
        finally:
            self._users.discard(user)
            self._pump()

    def stats(self) -> dict[str, int]:
        return {
            "idle": len(self._idle),
            "starting": self._starting,
            "running": self._running,
            "queued": len(self._queue),
        }

    @property
    def idle_workers(self) -> tuple[Worker, ...]:
        return tuple(self._idle)

    async def wait_idle(self, count: int | None = None, within_s: float = 300) -> None:
        """Wait until ``count`` (default: all) workers are warm and waiting (benchmarks, tests)."""
        want = self.settings.workers if count is None else count
        async with asyncio.timeout(within_s):
            while len(self._idle) < want:
                if self._broken is not None:
                    raise self._broken
                self._changed.clear()
                await self._changed.wait()

    # --- internals -----------------------------------------------------------------------------

    def _pump(self) -> None:
        """Give waiting jobs to warm workers, then tell the rest where they stand."""
        while self._queue and self._idle and self._running < self.settings.workers:
            worker = self._idle.popleft()
            if not worker.alive:  # died while idle: replaced below
                self._background(worker.discard())
                continue
            job = self._queue.popleft()
            self._running += 1
            job.task = self._background(self._execute(job, worker))
        self._refill()
        for place, job in enumerate(self._queue, start=1):
            if job.position != place and job.on_position is not None:
                self._notify(job.on_position, place)
            job.position = place
        self._changed.set()

    def _refill(self) -> None:
        """Start replacements for the workers used up. Not while a snippet runs and another warm
        worker is still waiting: importing TensorFlow would take the running snippet's CPU, and
        the next snippet has a worker anyway. The replacement starts when the snippet ends, or
        as soon as a snippet has to wait."""
        if self._sandbox is None:
            return
        deficit = self.settings.workers - len(self._idle) - self._starting
        if deficit <= 0 or (self._running and self._idle and not self._queue):
            return
        for _ in range(deficit):
            self._spawn()

    def _notify(self, callback: PositionCallback, place: int) -> None:
        try:
            outcome = callback(place)
        except Exception:
            log.exception("on_position callback failed")
            return
        if inspect.isawaitable(outcome):
            self._background(_logged(outcome))

    async def _execute(self, job: _Job, worker: Worker) -> None:
        try:
            worker.prioritise()
            result = await worker.run(job.code)
            if not job.future.done():
                job.future.set_result(self.explainer.explain(result))
        except asyncio.CancelledError:
            job.future.cancel()
            raise
        except Exception as exc:  # a bug here, not in the snippet: the caller gets it
            log.exception("running a snippet failed")
            if not job.future.done():
                job.future.set_exception(exc)
        finally:
            if worker.reaping is not None:  # the sandbox is being cleaned up: close() waits
                self._tasks.add(worker.reaping)
                worker.reaping.add_done_callback(self._tasks.discard)
            self._running -= 1
            self._pump()

    def _spawn(self) -> None:
        if self._closed or self._broken is not None:
            return
        if self.spawn_limit is not None and self._spawned >= self.spawn_limit:
            return
        self._starting += 1
        self._spawned += 1
        self._background(self._start_worker())

    async def _start_worker(self) -> None:
        assert self._sandbox is not None
        # Skip the warm-up while snippets wait: they need a worker now, not a faster one later.
        warmup = None if self._queue else self.settings.warmup_models
        started = time.monotonic()
        worker: Worker | None = None
        try:
            worker = await Worker.spawn(self._sandbox, warmup)
            await worker.ready()
        except Exception as exc:
            if not isinstance(exc, SandboxUnavailable):
                log.exception("starting a worker failed")
                exc = SandboxUnavailable(f"a sandboxed worker failed to start: {exc}")
            self._starting -= 1
            self._failures += 1
            log.error("sandboxed worker failed to start (%d in a row): %s", self._failures, exc)
            self._spawned -= 1  # it never served: try again
            if self._failures >= FAILURES_BEFORE_GIVING_UP:
                self._give_up(exc)
            else:
                await asyncio.sleep(1.0)
            self._pump()
            return
        except asyncio.CancelledError:
            self._starting -= 1
            if worker is not None:
                await asyncio.shield(worker.discard())
            raise
        self._starting -= 1
        self._failures = 0
        log.debug("worker ready in %.1f s", time.monotonic() - started)
        if self._closed:
            await worker.discard()
            return
        self._idle.append(worker)
        self._pump()

    def _give_up(self, exc: SandboxUnavailable) -> None:
        self._broken = exc
        while self._queue:
            job = self._queue.popleft()
            if not job.future.done():
                job.future.set_exception(exc)

    def _background(self, coro: Awaitable[None]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task


async def _logged(outcome: Awaitable[object]) -> None:
    with contextlib.suppress(asyncio.CancelledError):
        try:
            await outcome
        except Exception:
            log.exception("on_position callback failed")
