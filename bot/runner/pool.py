"""The runner: a pool of warm, single-use sandboxed workers behind a fair queue.

Each worker is a child of a zygote that imported TensorFlow once and never ran an op (zygote.py),
in namespaces of its own, and has warmed up before a snippet arrives; it runs exactly one
snippet and exits, and the pool forks a replacement right away, so no state passes between
learners and nothing is forked after TensorFlow ran an op. The bot process never imports
TensorFlow: only the zygote and its children do.

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
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal

from bot.runner.cache import ResultCache
from bot.runner.explain import Explainer, default_explainer
from bot.runner.handle import Worker
from bot.runner.result import RunResult
from bot.runner.sandbox import Sandbox, SandboxUnavailable
from bot.runner.zygote import Zygote, Zygotes
from bot.settings import RunnerSettings

log = logging.getLogger(__name__)

PositionCallback = Callable[[int], Awaitable[None] | None]
# Worker starts that may fail in a row (retried with backoff) before snippets are refused.
FAILURES_BEFORE_REFUSING = 3
TYPICAL_START_S = 10.0  # a worker's start (TensorFlow import), until one has been measured


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


def refuse_before_admitting(closed: bool, code: str, limit_bytes: int) -> None:
    """What every runner (this pool, a fleet client) refuses before anything else: a runner
    that is closing, and a snippet over the limit, counted in UTF-8 bytes as the sandbox reads
    it."""
    if closed:
        raise RunnerClosed()
    if len(code.encode()) > limit_bytes:
        raise SnippetTooLarge(limit_bytes)


class RunnerRecovering(RunRefused):
    """Workers keep failing to start; the pool retries by itself. ``__cause__`` says why."""

    def __init__(self, retry_in_s: float) -> None:
        self.retry_in_s = max(1, math.ceil(retry_in_s))
        super().__init__(
            "The runner is recovering (its sandboxes failed to start); "
            f"try again in {self.retry_in_s} s."
        )


@dataclass(frozen=True)
class Health:
    """Whether workers start. ``recovering``: ``failures`` starts failed in a row (at least
    FAILURES_BEFORE_REFUSING), snippets are refused, and the next start is tried in
    ``retry_in_s`` seconds; ``failing``: fewer failures, snippets still wait for a worker."""

    state: Literal["ok", "failing", "recovering"]
    failures: int = 0
    retry_in_s: float = 0.0
    last_error: str | None = None


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
        sandbox: Sandbox | None = None,
    ) -> None:
        """``spawn_limit``: start at most this many workers in all, for a command that knows how
        many snippets it will run (no idle refill left over). ``cache``: verified content
        results to answer from (``run(..., use_cache=False)`` skips it). ``sandbox``: the
        sandbox to start workers in (default: one built from ``settings`` on start)."""
        self.settings = settings
        self.spawn_limit = spawn_limit
        self.cache = cache
        self.explainer = explainer or default_explainer()
        self._sandbox: Sandbox | None = sandbox
        self._zygotes: Zygotes | None = None  # workers are forked from its live generation
        self._started = False
        self._idle: deque[Worker] = deque()
        self._starting = 0
        self._spawned = 0
        self._running = 0
        self._queue: deque[_Job] = deque()
        self._users: set[str] = set()
        # Background work close() cancels and waits for: worker starts, sandbox clean-ups.
        self._tasks: set[asyncio.Future[Any]] = set()
        # Health: worker starts failed in a row, when the next may be tried, and why.
        self._failures = 0
        self._retry_at = 0.0
        self._retry: asyncio.TimerHandle | None = None
        self._last_error: SandboxUnavailable | None = None
        self._start_s = TYPICAL_START_S
        self._closed = False
        self._changed = asyncio.Event()
        self._waiting_elsewhere = False  # a fleet host's shared queue has jobs (expect_work)

    # --- life cycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Check the sandbox and start warming the workers (returns without waiting for them).

        Raises SandboxUnavailable when bubblewrap is missing: snippets never run without it."""
        if self._started:
            return
        if self._closed:
            raise RunnerClosed()
        if self._sandbox is None:
            self._sandbox = Sandbox(self.settings)
        self._zygotes = Zygotes(self._sandbox)
        self._started = True
        self._pump()

    async def close(self) -> None:
        self._closed = True
        if self._retry is not None:
            self._retry.cancel()
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
        if self._zygotes is not None:
            await self._zygotes.close()

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
        (AlreadyRunning, QueueFull, SnippetTooLarge, RunnerClosed, RunnerRecovering) when it is
        not run, and SandboxUnavailable when snippets cannot run on this machine at all.
        ``on_position(n)`` is called (and awaited in the background if it is a coroutine
        function) whenever the snippet's place in the queue changes, n = 1 being next.
        """
        refuse_before_admitting(self._closed, code, self.settings.code_limit_bytes)
        if use_cache and self.cache is not None and (hit := self.cache.get(code)) is not None:
            return hit
        if user in self._users:
            raise AlreadyRunning()
        if len(self._queue) >= self.settings.queue_limit:
            raise QueueFull(self.settings.queue_limit)
        await self.start()
        self._refuse_while_recovering()
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

    def health(self) -> Health:
        if not self._failures:
            return Health("ok")
        state: Literal["failing", "recovering"] = (
            "recovering" if self._failures >= FAILURES_BEFORE_REFUSING else "failing"
        )
        retry_in = max(0.0, self._retry_at - time.monotonic())
        error = str(self._last_error) if self._last_error else None
        return Health(state, self._failures, retry_in, error)

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

    @property
    def zygote(self) -> Zygote | None:
        """The live generation the workers are forked from (benchmarks, tests)."""
        return self._zygotes.current if self._zygotes is not None else None

    async def wait_idle(self, count: int | None = None, within_s: float = 300) -> None:
        """Wait until ``count`` (default: all) workers are warm and waiting (benchmarks, tests).
        Raises RunnerRecovering if workers are still failing to start after ``within_s``."""
        want = self.settings.workers if count is None else count
        try:
            async with asyncio.timeout(within_s):
                while len(self._idle) < want:
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            self._refuse_while_recovering()
            raise

    # --- for a fleet host (bot.runner.host) ----------------------------------------------------

    def free(self) -> bool:
        """Whether a snippet given now would start at once: a warm worker is waiting, a slot is
        free and nothing is queued."""
        return bool(self._idle) and self._running < self.settings.workers and not self._queue

    def expect_work(self, waiting: bool) -> None:
        """A fleet host says whether jobs wait for it in the shared queue: replacements then
        skip the warm-up, as they do while the pool's own queue has jobs."""
        self._waiting_elsewhere = waiting
        self._changed.set()  # background work waiting on it may go (wait_free)

    async def wait_free(self, background: bool = False) -> None:
        """Wait until ``free()``: a fleet host takes a job from the shared queue only then, so
        no host sits on work another could start. ``background``: work nobody waits for (the
        cache prefill) also waits while a fleet host has said that jobs wait for it
        (``expect_work``), so that learners in the fleet's queue go first, as in the pool's."""
        while not self.free() or (background and self._waiting_elsewhere):
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
        if not self._started:
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
        if self._closed:
            return
        if self.spawn_limit is not None and self._spawned >= self.spawn_limit:
            return
        if self._failures:
            # Recovering: one start at a time, and not before the backoff has passed.
            delay = self._retry_at - time.monotonic()
            if delay > 0 or self._starting:
                if delay > 0 and self._retry is None:
                    self._retry = asyncio.get_running_loop().call_later(delay, self._wake)
                return
        self._starting += 1
        self._spawned += 1
        self._background(self._start_worker())

    async def _start_worker(self) -> None:
        assert self._zygotes is not None
        # Skip the warm-up while snippets wait: they need a worker now, not a faster one later.
        warmup = None if self._queue or self._waiting_elsewhere else self.settings.warmup_models
        started = time.monotonic()
        worker: Worker | None = None
        try:
            worker = await Worker.spawn(self._zygotes, warmup)
            await worker.ready()
        except Exception as exc:
            if not isinstance(exc, SandboxUnavailable):
                log.exception("starting a worker failed")
                exc = SandboxUnavailable(f"a sandboxed worker failed to start: {exc}")
            self._starting -= 1
            self._spawned -= 1  # it never served: try again
            self._failed(exc)
            self._pump()
            return
        except asyncio.CancelledError:
            self._starting -= 1
            if worker is not None:
                await asyncio.shield(worker.discard())
            raise
        self._starting -= 1
        self._start_s = time.monotonic() - started
        if self._failures:
            log.warning(
                "runner recovered: a sandboxed worker started after %d failed starts",
                self._failures,
            )
        self._failures = 0
        self._last_error = None
        log.debug("worker ready in %.1f s", self._start_s)
        if self._closed:
            await worker.discard()
            return
        self._idle.append(worker)
        self._pump()

    def _failed(self, exc: SandboxUnavailable) -> None:
        """A worker failed to start: retry with exponential backoff (capped), forever. The
        cause may be brief (memory or processes short for a moment); a machine without
        bubblewrap is refused on start() instead. After a few failures in a row, snippets are
        refused (RunnerRecovering) rather than left waiting, until a worker starts again."""
        s = self.settings
        self._failures += 1
        self._last_error = exc
        doubled = s.restart_backoff_s * 2 ** min(self._failures - 1, 32)  # a long outage
        delay = min(s.restart_backoff_max_s, doubled)
        self._retry_at = time.monotonic() + delay
        log.error(
            "sandboxed worker failed to start (%d in a row); next try in %.1f s: %s",
            self._failures, delay, exc,
        )  # fmt: skip
        if self._failures == FAILURES_BEFORE_REFUSING:
            log.error("runner unhealthy: refusing snippets until a sandboxed worker starts")
        if self._failures >= FAILURES_BEFORE_REFUSING:
            while self._queue:
                job = self._queue.popleft()
                if not job.future.done():
                    job.future.set_exception(self._recovering())

    def _wake(self) -> None:
        self._retry = None
        self._pump()

    def _recovering(self) -> RunnerRecovering:
        # Until the next start is tried, plus the time a start takes.
        health = self.health()
        refusal = RunnerRecovering(health.retry_in_s + self._start_s)
        refusal.__cause__ = self._last_error
        return refusal

    def _refuse_while_recovering(self) -> None:
        if self._failures >= FAILURES_BEFORE_REFUSING:
            raise self._recovering()

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
