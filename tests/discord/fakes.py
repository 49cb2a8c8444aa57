"""A stand-in for the snippet runner where the real one cannot show what a test needs: a run
that takes long (in SimCord's virtual time), a busy queue, hostile output."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import simcord

from bot.cogs.snippets import PositionCallback, RunRefused


@dataclass(frozen=True)
class Result:
    status: str = "ok"
    stdout: str = ""
    stderr: str = ""
    exception: dict[str, Any] | None = None
    models: tuple[dict[str, Any], ...] = ()
    limit: Any = None
    explanation: str | None = None
    notes: tuple[str, ...] = ()
    duration_s: float = 1.5
    peak_memory_mb: float | None = 512.0


@dataclass(frozen=True)
class Limit:
    """As the runner reports a limit: the setting's name, its value, and a wording."""

    name: str
    value: float

    def describe(self) -> str:
        return f"time limit ({self.value:g}s)"


MODEL = {
    "name": "sequential",
    "input_shape": "(None, 8)",
    "output_shape": "(None, 5)",
    "params": 45,
    "trainable_params": 45,
}


@dataclass
class FakeRunner:
    """One worker; each snippet takes ``delay_s``. A snippet that finds the worker busy is told
    its place (as the real pool does) and waits, declared to SimCord as an external wait."""

    env: simcord.Env | None = None
    result: Result = field(default_factory=lambda: Result(stdout="hello\n", models=(MODEL,)))
    delay_s: float = 0.0
    calls: list[tuple[str, str]] = field(default_factory=list)
    finished: int = 0
    closed: bool = False
    _worker: asyncio.Lock = field(default_factory=asyncio.Lock)
    _queue: list[str] = field(default_factory=list)

    async def run(self, code: str, user: str, on_position: PositionCallback | None = None) -> Any:
        self.calls.append((code, user))
        if self._worker.locked():
            self._queue.append(user)
            if on_position is not None:
                await on_position(len(self._queue))  # type: ignore[misc]
            assert self.env is not None
            await self.env.external_wait(self._worker.acquire(), reason="waiting for the worker")
            self._queue.remove(user)
        else:
            await self._worker.acquire()
        try:
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            return self.result
        finally:
            self.finished += 1
            self._worker.release()

    async def close(self) -> None:
        self.closed = True


class RefusingRunner(FakeRunner):
    async def run(self, code: str, user: str, on_position: PositionCallback | None = None) -> Any:
        raise RunRefused("The runner is busy (50 snippets waiting); try again in a minute.")
