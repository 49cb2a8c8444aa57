"""One running snippet per learner, and a pause between their runs: the pool is shared."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

from bot.runner.pool import RunRefused


class StillRunning(RunRefused):
    def __init__(self) -> None:
        super().__init__("You already have a snippet running: its result is on its way.")


class CoolingDown(RunRefused):
    def __init__(self, wait_s: float) -> None:
        super().__init__(f"Please wait {wait_s:.0f} s before running another snippet.")


class Gate(Protocol):
    """Admits a learner's snippet or refuses it (RunRefused): in this process (``RunGate``), or
    for every bot process sharing a Redis (``bot.cluster.SharedRunGate``)."""

    async def admit(self, user: str) -> None:
        """Refuses (raises) what ``hold`` would refuse now; holds nothing."""
        ...

    def hold(self, user: str) -> AbstractAsyncContextManager[None]:
        """Admits (or refuses) the learner's snippet and marks it running until exit, when
        their cooldown starts."""
        ...


class RunGate:
    """Admits a learner's snippet, or refuses it (RunRefused) while their last one runs or
    within ``cooldown_s`` after it ended.

    Uses ``time.monotonic`` (looked up at call time) so tests can move the clock."""

    def __init__(self, cooldown_s: float) -> None:
        self.cooldown_s = cooldown_s
        self._running: set[str] = set()
        self._finished: dict[str, float] = {}

    async def admit(self, user: str) -> None:
        self._check(user)

    def _check(self, user: str) -> None:
        if user in self._running:
            raise StillRunning()
        wait = self._finished.get(user, -1e18) + self.cooldown_s - time.monotonic()
        if wait > 0:
            raise CoolingDown(wait)

    @asynccontextmanager
    async def hold(self, user: str) -> AsyncIterator[None]:
        self._check(user)
        self._running.add(user)
        try:
            yield
        finally:
            self._running.discard(user)
            self._finished[user] = time.monotonic()
            # Only the pauses still running matter: the map does not grow with every learner.
            now = time.monotonic()
            for done in [u for u, t in self._finished.items() if t + self.cooldown_s <= now]:
                del self._finished[done]
