"""The terminal chat at a real terminal (a pseudo-terminal, through ``python -m bot chat``):
readline's line editing and history, Ctrl-C leaving at once with the goodbye line, text wrapped
to the terminal's width, an unknown command said so, /settings alone."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import termios
import time
from pathlib import Path

from tests.helpers import ROOT, chat_argv, chat_env

COLUMNS = 50


class Tty:
    """A chat process on the slave side of a pty of ``COLUMNS`` columns."""

    def __init__(self, db: Path) -> None:
        argv = chat_argv(db)
        pid, fd = pty.fork()
        if pid == 0:  # the child: the pty is its controlling terminal
            os.chdir(ROOT)
            os.execvpe(argv[0], argv, {**chat_env(), "TERM": "xterm", "COLUMNS": str(COLUMNS)})
        self.pid, self.fd = pid, fd
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, COLUMNS, 0, 0))
        self.seen = b""

    def until(self, text: str, timeout_s: float = 60, since: int = 0) -> str:
        """Read until ``text`` has been shown (after the first ``since`` bytes); everything
        shown so far."""
        deadline = time.monotonic() + timeout_s
        while text.encode() not in self.seen[since:]:
            left = deadline - time.monotonic()
            assert left > 0, f"{text!r} never came; got {self.seen.decode(errors='replace')!r}"
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.fd, 65536)
                except OSError:  # the child closed the terminal
                    chunk = b""
                if not chunk:
                    break
                self.seen += chunk
        return self.seen.decode(errors="replace")

    def type(self, keys: str) -> None:
        os.write(self.fd, keys.encode())

    def exit_status(self, timeout_s: float = 20) -> int | None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(status)
            time.sleep(0.05)
        return None

    def kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(self.fd)


def test_ctrl_c_leaves_at_once_with_the_goodbye_line(tmp_path: Path):
    tty = Tty(tmp_path / "t.db")
    try:
        tty.until("> ")
        tty.type("\x03")  # Ctrl-C at the prompt, as a person presses it
        shown = tty.until("Bye! Your progress is saved.", timeout_s=20)
        status = tty.exit_status()
        assert status == 130, shown  # interrupted, quietly: no traceback
        assert "Traceback" not in tty.until("")
    finally:
        tty.kill()


def test_line_editing_history_wrapping_and_unknown_commands(tmp_path: Path):
    tty = Tty(tmp_path / "t.db")
    try:
        tty.until("> ")
        # Line editing: type "/setXX", erase two characters, finish the word.
        tty.type("/setXX\x7f\x7ftings\r")
        first = tty.until("New questions a day")
        assert "Time zone: UTC" in first
        # History: the up arrow brings "/settings" back.
        start = len(tty.seen)
        tty.type("\x1b[A\r")
        again = tty.until("New questions a day", timeout_s=30, since=start)
        assert again.count("Time zone: UTC") == 2, again[start:]
        start = len(tty.seen)
        tty.type("/frobnicate\r")
        shown = tty.until("Topics:", since=start)
        assert "Unknown command /frobnicate" in shown
        # Prose is folded to the terminal's width (indented tables and code keep theirs).
        prose = [
            line
            for line in shown.replace("\r", "").split("\n")
            if line and not line[:1].isspace() and "\x1b" not in line
        ]
        assert prose and all(len(line) <= COLUMNS for line in prose), [
            line for line in prose if len(line) > COLUMNS
        ]
        tty.type("/quit\r")
        tty.until("Bye! Your progress is saved.")
        assert tty.exit_status() == 0
    finally:
        tty.kill()
    # The history is kept for the next chat, next to the database.
    assert "/settings" in (tmp_path / ".chat-history").read_text()
