"""The runner as its callers see it: one protocol, one result type (the JSON contract), and the
refusals. Both frontends, the composition root and the test fakes use exactly this seam. The
pool (``pool.Runner``) implements it, and so do the bot's clients of a runner in another
process: ``local.LocalService`` (the runner service on a Unix socket, the default) and
``fleet.FleetRunner`` (a fleet behind Redis); mypy checks that they do (``bot/services.py``)."""

from __future__ import annotations

from typing import Protocol

from bot.runner.pool import PositionCallback, RunRefused
from bot.runner.result import ExceptionInfo, Limit, ModelInfo, RunResult, Status
from bot.runner.sandbox import SandboxUnavailable

__all__ = [
    "ExceptionInfo",
    "Limit",
    "ModelInfo",
    "PositionCallback",
    "RunRefused",
    "RunResult",
    "SandboxUnavailable",
    "SnippetRunner",
    "Status",
]


class SnippetRunner(Protocol):
    async def run(
        self, code: str, user: str, on_position: PositionCallback | None = None
    ) -> RunResult:
        """Run ``code`` for ``user``. Raises RunRefused (with a message for the learner) when
        it is not run, SandboxUnavailable when snippets cannot run on this machine; everything
        the snippet itself does comes back as the result. ``on_position(n)`` is told the
        snippet's place in the queue while it waits (1: next)."""
        ...

    async def close(self) -> None: ...
