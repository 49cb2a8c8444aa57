"""The terminal's input and output: lines read in a thread of their own (with readline's line
editing and history at a terminal), and text wrapped to the terminal's width.

Reading happens in a daemon thread, not in asyncio's executor: when Ctrl-C ends the chat while
``input()`` waits, nothing has to wait for that thread to return (asyncio.run joins its executor
at exit, which would hang until the next Enter).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import termios
import textwrap
import threading
from pathlib import Path
from typing import Any, TextIO

HISTORY_LINES = 500


class LineReader:
    """Reads one line at a time from ``stdin``: through ``input()`` (readline: arrow keys,
    Ctrl-R, history kept in ``history``) when it is the terminal, else plainly."""

    def __init__(self, stdin: TextIO, interactive: bool, history: Path | None = None) -> None:
        self.stdin = stdin
        self.interactive = interactive
        self.history = history
        self._readline = None
        self._tty: list[Any] | None = None
        if interactive:
            with contextlib.suppress(termios.error, OSError, ValueError):
                # Put back at the end: readline changes the terminal's modes while it reads,
                # and a chat left by Ctrl-C never returns from that read.
                self._tty = termios.tcgetattr(stdin.fileno())
            try:
                import readline
            except ImportError:  # e.g. a Python built without it: plain input() still works
                return
            self._readline = readline
            readline.set_history_length(HISTORY_LINES)
            if history is not None:
                with contextlib.suppress(OSError):
                    readline.read_history_file(history)

    async def read(self, prompt: str) -> str:
        """The next line with its newline; "" at the end of input."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[str] = loop.create_future()

        def give(line: str | BaseException) -> None:
            if done.done():  # the chat ended meanwhile (Ctrl-C)
                return
            if isinstance(line, BaseException):
                done.set_exception(line)
            else:
                done.set_result(line)

        def work() -> None:
            # Ctrl-C's SIGINT goes to the main thread, which ends the chat at once (a signal
            # taken by this thread would wait for the main thread's next wake-up).
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
            try:
                line = input(prompt) + "\n" if self.interactive else self.stdin.readline()
            except EOFError:
                line = ""
            except BaseException as exc:
                loop.call_soon_threadsafe(give, exc)
                return
            loop.call_soon_threadsafe(give, line)

        threading.Thread(target=work, name="chat-input", daemon=True).start()
        return await done

    def close(self) -> None:
        """Keep the history for the next chat, and give the terminal back as it was."""
        if self._readline is not None and self.history is not None:
            with contextlib.suppress(OSError):
                self.history.parent.mkdir(parents=True, exist_ok=True)
                self._readline.write_history_file(self.history)
        if self._tty is not None:
            with contextlib.suppress(termios.error, OSError, ValueError):
                termios.tcsetattr(self.stdin.fileno(), termios.TCSANOW, self._tty)


def wrapped(text: str, width: int | None) -> str:
    """``text`` with each prose line folded to ``width`` columns (None: as it is). Indented
    lines (tables, choices, code) keep their layout: folding would break their columns."""
    if width is None:
        return text
    out = []
    for line in text.split("\n"):
        if len(line) <= width or line[:1].isspace():
            out.append(line)
        elif line.startswith("── ") and line.endswith("─"):  # a title's rule: shortened
            out.append(line[:width].rstrip(" "))
        else:
            out += textwrap.wrap(line, width, break_long_words=False, break_on_hyphens=False)
    return "\n".join(out)


def terminal_width(interactive: bool) -> int | None:
    """The terminal's width, to wrap to; None for a pipe (a transcript keeps its lines)."""
    return shutil.get_terminal_size().columns if interactive else None
