"""A stand-in for the snippet runner where the real one cannot show what a test needs: a run
that takes long (in SimCord's virtual time), a busy queue, hostile output. It implements the
runner's one protocol (``bot.runner.api.SnippetRunner``) and returns its one result type."""

from __future__ import annotations

import asyncio
import inspect
from dataclasses import dataclass, field
from typing import Any

import simcord

from bot.runner.api import ModelInfo, PositionCallback, RunRefused, RunResult, Status

MODEL = ModelInfo(
    name="sequential",
    input_shape="(None, 8)",
    output_shape="(None, 5)",
    params=45,
    trainable_params=45,
)


def run_result(status: Status = Status.OK, **fields: Any) -> RunResult:
    """A RunResult as the runner reports one: 1.5 s and 512 MB unless the test says otherwise."""
    return RunResult(status, **{"duration_s": 1.5, "peak_memory_mb": 512.0, **fields})


@dataclass
class FakeRunner:
    """One worker; each snippet takes ``delay_s``. A snippet that finds the worker busy is told
    its place (as the real pool does) and waits, declared to SimCord as an external wait."""

    env: simcord.Env | None = None
    result: RunResult = field(default_factory=lambda: run_result(stdout="hello\n", models=(MODEL,)))
    delay_s: float = 0.0
    calls: list[tuple[str, str]] = field(default_factory=list)
    finished: int = 0
    closed: bool = False
    _worker: asyncio.Lock = field(default_factory=asyncio.Lock)
    _queue: list[str] = field(default_factory=list)

    async def run(
        self, code: str, user: str, on_position: PositionCallback | None = None
    ) -> RunResult:
        self.calls.append((code, user))
        if self._worker.locked():
            self._queue.append(user)
            told = on_position(len(self._queue)) if on_position is not None else None
            if inspect.isawaitable(told):
                await told
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
    async def run(
        self, code: str, user: str, on_position: PositionCallback | None = None
    ) -> RunResult:
        raise RunRefused("The runner is busy (50 snippets waiting); try again in a minute.")
