"""What the Discord layer needs from the snippet runner, as a Protocol.

The runner (``bot.runner``) is built separately; the Discord layer depends only on this small
surface, so tests can drive /run with a slow or hostile fake and the real runner alike.
Field access goes through ``field()`` because a result's parts (exception, models) may be
objects or plain mappings, exactly as ``run-snippet --json`` prints them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol

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
