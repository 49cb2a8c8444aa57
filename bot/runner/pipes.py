"""Reading a sandbox's pipes in the event loop, trusting nothing the other end writes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Callable
from typing import Any

from bot.runner.result import clean_text
from bot.runner.sandbox import SandboxUnavailable

READ_SIZE = 64 * 1024


class Pipe:
    """Reads a non-blocking pipe in the event loop, trusting nothing the other end writes.

    Keeps at most ``keep`` bytes (the head, or the tail with ``keep_tail``). After ``limit``
    bytes in all it stops reading, so the writer blocks instead of keeping the event loop busy,
    and ``flooded`` is set. With ``lines``, complete lines go to ``lines``; the unfinished one
    can only grow to ``limit`` bytes, and each chunk is scanned once (not the whole line again).
    """

    def __init__(
        self,
        fd: int,
        keep: int,
        *,
        limit: int,
        on_data: Callable[[int], None] | None = None,
        keep_tail: bool = False,
        lines: bool = False,
    ) -> None:
        self.fd, self.keep, self.limit, self.on_data = fd, keep, limit, on_data
        self.keep_tail, self.split_lines = keep_tail, lines
        self.data = bytearray()
        self.total = 0
        loop = asyncio.get_running_loop()
        self.eof = loop.create_future()
        self.flooded = loop.create_future()
        self.lines: asyncio.Queue[bytes] = asyncio.Queue()
        self._partial = bytearray()
        os.set_blocking(fd, False)
        loop.add_reader(fd, self._read)

    def _read(self) -> None:
        try:
            chunk = os.read(self.fd, min(READ_SIZE, self.limit - self.total))
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            self.stop()
            return
        self.total += len(chunk)
        if self.keep_tail:
            self.data += chunk
            del self.data[: max(0, len(self.data) - self.keep)]
        elif len(self.data) < self.keep:
            self.data += chunk[: self.keep - len(self.data)]
        if self.on_data is not None:
            self.on_data(len(chunk))
        if self.split_lines:
            *complete, rest = chunk.split(b"\n")
            for piece in complete:
                self.lines.put_nowait(bytes(self._partial + piece))
                self._partial.clear()
            self._partial += rest
        if self.total >= self.limit:
            self._unwatch()
            if not self.flooded.done():
                self.flooded.set_result(None)

    def _unwatch(self) -> None:
        with contextlib.suppress(ValueError, OSError):
            asyncio.get_running_loop().remove_reader(self.fd)

    def stop(self) -> None:
        self._unwatch()
        if not self.eof.done():
            self.eof.set_result(None)
            self.lines.put_nowait(b"")

    @property
    def text(self) -> str:
        return clean_text(bytes(self.data).decode("utf-8", errors="replace"))


def parse(line: bytes) -> dict[str, Any]:
    """A JSON object, or {} for anything else."""
    try:
        message = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return {}
    return message if isinstance(message, dict) else {}


async def first_message(pipe: Pipe, timeout_s: float) -> dict[str, Any]:
    """The first line of a line pipe as a JSON object ({} if none comes in time)."""
    try:
        async with asyncio.timeout(timeout_s):
            line = await pipe.lines.get()
    except TimeoutError:
        line = b""
    return parse(line)


def start_failure(message: dict[str, Any], diag: Pipe) -> SandboxUnavailable:
    """Why a zygote or a worker never said "ready": its own word, else its start-up noise."""
    detail = message.get("error") or diag.text or "no message"
    return SandboxUnavailable(f"a sandboxed worker failed to start:\n{detail.strip()}")
