"""What the Discord layer needs from the snippet runner, as a Protocol, and the per-learner gate.

Deliberately outside the ``bot.cogs.run`` extension: unloading an extension (every bot's
``close()``) drops its modules, and classes that outlive one bot (these exceptions, the gate)
must stay the same objects.

The runner (``bot.runner``) is built separately; the Discord layer depends only on this small
surface, so tests can drive /run with a slow or hostile fake and the real runner alike.
Field access goes through ``field()`` because a result's parts (exception, models) may be
objects or plain mappings, exactly as ``run-snippet --json`` prints them.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

from bot.cogs.errors import UserError

try:
    from bot.runner.pool import RunRefused
    from bot.runner.sandbox import SandboxUnavailable
except ImportError:  # the runner is not installed (yet): /run reports itself unavailable

    class RunRefused(Exception):  # type: ignore[no-redef]
        """The runner did not run the snippet; the message is written for the learner."""

    class SandboxUnavailable(Exception):  # type: ignore[no-redef]
        """Snippets cannot run on this machine."""


__all__ = [
    "PositionCallback",
    "RunGate",
    "RunRefused",
    "RunResultLike",
    "SandboxUnavailable",
    "SnippetRunner",
]

# Called with the 1-based place in the queue while a snippet waits for a worker.
PositionCallback = Callable[[int], Awaitable[None] | None]


class RunResultLike(Protocol):
    status: str  # ok | error | timeout | memory_limit | output_limit | crashed
    stdout: str
    stderr: str
    exception: Any  # None or {type, message, line}
    models: Sequence[Any]  # [{name, input_shape, output_shape, params, trainable_params}]
    limit: Any  # None or which limit ended the run, with its value
    explanation: str | None
    notes: Sequence[str]
    duration_s: float
    peak_memory_mb: float | None


class SnippetRunner(Protocol):
    async def run(
        self, code: str, user: str, on_position: PositionCallback | None = None
    ) -> RunResultLike:
        """Run ``code`` for ``user``. Raises when that user already has a snippet running or
        the queue is full; everything the snippet itself does comes back as a result."""
        ...

    async def close(self) -> None: ...


def field(obj: Any, name: str, default: Any = None) -> Any:
    if obj is None:
        return default
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


class RunGate:
    """One running snippet per learner, and a pause between their runs: the pool is shared.

    Uses ``time.monotonic`` (looked up at call time) so tests can move the clock."""

    def __init__(self, cooldown_s: float) -> None:
        self.cooldown_s = cooldown_s
        self._running: set[int] = set()
        self._finished: dict[int, float] = {}

    def admit(self, user_id: int) -> None:
        if user_id in self._running:
            raise UserError("You already have a snippet running: its result is on its way.")
        wait = self._finished.get(user_id, -1e18) + self.cooldown_s - time.monotonic()
        if wait > 0:
            raise UserError(f"Please wait {wait:.0f} s before running another snippet.")

    @contextmanager
    def hold(self, user_id: int) -> Iterator[None]:
        self.admit(user_id)
        self._running.add(user_id)
        try:
            yield
        finally:
            self._running.discard(user_id)
            self._finished[user_id] = time.monotonic()
