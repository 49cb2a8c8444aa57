"""The pool's side of one sandboxed worker: wait until it is ready, give it one snippet, watch it
(wall clock, output cap, peak memory), and turn whatever happened into a RunResult."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import os
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from bot.runner.result import ExceptionInfo, Limit, ModelInfo, RunResult, Status, clean_text
from bot.runner.sandbox import Sandbox, SandboxProcess, SandboxUnavailable
from bot.settings import RunnerSettings

log = logging.getLogger(__name__)

READY_TIMEOUT_S = 180.0  # importing TensorFlow on a busy machine
CONTROL_LIMIT = 1024 * 1024  # the result message; the worker trims what it sends
DIAG_KEEP = 8 * 1024  # start-up noise kept to explain a worker that failed to start
DRAIN_S = 0.5  # after the result: time for a forked child's output before the sandbox ends
EXIT_WAIT_S = 2.0  # after the worker died: time for bwrap to pass its exit code on


class _ExceptionMessage(BaseModel):
    type: str = Field(max_length=200)
    message: str = Field(max_length=20_000)
    line: int | None = None
    errno: int | None = None


class _ModelMessage(BaseModel):
    name: str = Field(max_length=200)
    input_shape: str | None = Field(default=None, max_length=2000)
    output_shape: str | None = Field(default=None, max_length=2000)
    params: int | None = None
    trainable_params: int | None = None


class _ResultMessage(BaseModel):
    """The worker's report. It shares a process with the snippet, which could write here too:
    so it is validated like any input, and a forged one only misleads its own author."""

    event: Literal["result"]
    status: Literal["ok", "error"]
    exception: _ExceptionMessage | None = None
    models: list[_ModelMessage] = Field(default_factory=list, max_length=50)
    notes: list[str] = Field(default_factory=list, max_length=20)
    duration_s: float = Field(ge=0)
    peak_memory_mb: float | None = None

    @classmethod
    def parse(cls, line: bytes) -> _ResultMessage | None:
        try:
            return cls.model_validate_json(line)
        except ValidationError:
            return None


class _Pipe:
    """Reads a non-blocking pipe in the event loop, keeping at most ``cap`` bytes."""

    def __init__(
        self,
        fd: int,
        cap: int,
        on_data: Callable[[int], None] | None = None,
        keep_tail: bool = False,
    ) -> None:
        self.fd, self.cap, self.on_data, self.keep_tail = fd, cap, on_data, keep_tail
        self.data = bytearray()
        self.eof = asyncio.get_running_loop().create_future()
        self.lines: asyncio.Queue[bytes] = asyncio.Queue()
        self._partial = b""
        os.set_blocking(fd, False)
        asyncio.get_running_loop().add_reader(fd, self._read)

    def _read(self) -> None:
        try:
            chunk = os.read(self.fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            self.stop()
            return
        room = self.cap - len(self.data)
        if self.keep_tail:
            self.data += chunk
            del self.data[: max(0, len(self.data) - self.cap)]
        elif room > 0:
            self.data += chunk[:room]
        if self.on_data is not None:
            self.on_data(len(chunk))
        self._partial += chunk
        *complete, self._partial = self._partial.split(b"\n")
        for line in complete:
            self.lines.put_nowait(line)

    def stop(self) -> None:
        with contextlib.suppress(ValueError, OSError):
            asyncio.get_running_loop().remove_reader(self.fd)
        if not self.eof.done():
            self.eof.set_result(None)
            self.lines.put_nowait(b"")

    @property
    def text(self) -> str:
        return clean_text(bytes(self.data).decode("utf-8", errors="replace"))


@dataclass
class Worker:
    """One warm, single-use sandboxed worker."""

    settings: RunnerSettings
    process: SandboxProcess
    spawned_at: float = field(default_factory=time.monotonic)
    ready_at: float | None = None
    pid: int | None = None  # the worker's pid outside the sandbox, once known
    reaping: asyncio.Future[int] | None = None  # the sandbox's clean-up after a run
    _control: _Pipe = field(init=False)
    _diag: _Pipe = field(init=False)

    def __post_init__(self) -> None:
        # Must run in the event loop: the pipes are read by it.
        self._control = _Pipe(self.process.control, CONTROL_LIMIT)
        self._diag = _Pipe(self.process.diag, DIAG_KEEP, keep_tail=True)

    @classmethod
    async def spawn(cls, sandbox: Sandbox, warmup: Sequence[str] | None) -> Worker:
        # In the event loop's own thread, on purpose: --die-with-parent (PR_SET_PDEATHSIG) fires
        # when the *thread* that started bwrap exits, and an executor thread may come and go.
        # It blocks for a few milliseconds only (fork, exec, and bwrap's first message).
        process = sandbox.spawn(warmup)
        return cls(sandbox.settings, process)

    async def ready(self) -> None:
        """Wait for the worker's "ready"; raise SandboxUnavailable if it never comes."""
        try:
            async with asyncio.timeout(READY_TIMEOUT_S):
                line = await self._control.lines.get()
        except TimeoutError:
            line = b""
        message = _parse(line)
        if message.get("event") != "ready":
            await self.discard()
            detail = message.get("error") or self._diag.text or "no message"
            raise SandboxUnavailable(f"a sandboxed worker failed to start:\n{detail.strip()}")
        self.ready_at = time.monotonic()

    @property
    def alive(self) -> bool:
        return not self._control.eof.done()

    def memory_mb(self) -> float | None:
        """Current and peak resident memory of the worker process (read from outside)."""
        peak = _status_kib(self._worker_pid(), "VmHWM")
        return None if peak is None else round(peak / 1024, 1)

    def rss_mb(self) -> float | None:
        rss = _status_kib(self._worker_pid(), "VmRSS")
        return None if rss is None else round(rss / 1024, 1)

    def _worker_pid(self) -> int | None:
        if self.pid is None and self.process.init_pidfd is not None:
            # The sandbox's init is bwrap's child; the worker is the init's only child.
            init = _children(self.process.pid)
            kids = _children(init[0]) if init else []
            self.pid = kids[0] if kids else None
        return self.pid

    async def run(self, code: str) -> RunResult:
        """Run one snippet; never raises for anything the snippet does."""
        s = self.settings
        total = 0
        over = asyncio.Event()

        def count(n: int) -> None:
            nonlocal total
            total += n
            if total > s.output_limit_bytes:
                over.set()

        out = _Pipe(self.process.out, s.output_limit_bytes, count)
        err = _Pipe(self.process.err, s.output_limit_bytes, count)
        peak: float | None = self.memory_mb()
        started = time.monotonic()
        killed_for: str | None = None
        message: _ResultMessage | None = None
        try:
            await asyncio.to_thread(self.process.send_code, code.encode())
            result_line = asyncio.ensure_future(self._control.lines.get())
            overflow = asyncio.ensure_future(over.wait())
            deadline = started + s.wall_timeout_s
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    killed_for = "timeout"
                    break
                done, _ = await asyncio.wait(
                    {result_line, overflow}, timeout=min(0.25, remaining),
                    return_when=asyncio.FIRST_COMPLETED,
                )  # fmt: skip
                peak = self.memory_mb() or peak
                if overflow in done:
                    killed_for = "output"
                    break
                if result_line in done:
                    line = result_line.result()
                    message = _ResultMessage.parse(line)
                    if message is None and line:
                        killed_for = "garbled"  # not the worker's report: the snippet's
                    break
            for task in (result_line, overflow):
                task.cancel()
            if message is not None:
                # The worker closed its output before reporting; only a child it forked can
                # still hold the pipes open.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(DRAIN_S):
                        await asyncio.gather(out.eof, err.eof)
            elif killed_for is None:
                # No result: the worker died. Let the sandbox end by itself, so that its exit
                # code tells how (a signal of ours would hide the real one).
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(EXIT_WAIT_S):
                        await self.process.wait()
        except OSError as exc:  # the worker died before it read the snippet
            log.warning("worker %s: %s", self.process.pid, exc)
        finally:
            # Kill at once (a child the snippet forked may still run), reap in the background:
            # tearing down a 500 MB process need not delay the learner's result.
            self.process.kill()
            self.reaping = asyncio.ensure_future(self._reap(out, err))
        exit_code = 0 if message is not None else await self.reaping
        elapsed = time.monotonic() - started
        return _result(s, message, killed_for, exit_code, out.text, err.text, elapsed, peak, total)

    async def _reap(self, *pipes: _Pipe) -> int:
        exit_code, _ = await self.process.wait()
        for pipe in (*pipes, self._control, self._diag):
            pipe.stop()
        self.process.close()
        return exit_code

    def prioritise(self) -> None:
        """Back to normal priority for the snippet: workers start at ``spawn_niceness`` so that
        importing TensorFlow yields to running snippets. Lowering a nice value needs root (or
        CAP_SYS_NICE); without it every worker stays at the same, lower priority."""
        pid = self._worker_pid()
        if pid is None or os.geteuid() != 0:
            return
        with contextlib.suppress(OSError):
            for tid in os.listdir(f"/proc/{pid}/task"):  # nice is per thread on Linux
                with contextlib.suppress(OSError):
                    os.setpriority(os.PRIO_PROCESS, int(tid), 0)

    async def discard(self) -> None:
        """End an unused worker."""
        self.process.kill()
        await self.process.wait()
        self._control.stop()
        self._diag.stop()
        self.process.close()


def _parse(line: bytes) -> dict[str, Any]:
    try:
        message = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return {}
    return message if isinstance(message, dict) else {}


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except (OSError, ValueError):
        return []


def _status_kib(pid: int | None, key: str) -> int | None:
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


_MEMORY_MARKERS = ("MemoryError", "bad_alloc", "Cannot allocate memory", "OOM when allocating")
_THREAD_MARKERS = ("pthread_create", "can't start new thread", "Resource temporarily unavailable")


def _result(
    s: RunnerSettings,
    message: _ResultMessage | None,
    killed_for: str | None,
    exit_code: int,
    stdout: str,
    stderr: str,
    elapsed: float,
    peak: float | None,
    output_bytes: int,
) -> RunResult:
    """Everything known about the run -> status, limit and notes (without the explanation)."""
    notes = [clean_text(n) for n in message.notes if n] if message else []
    exc = message.exception if message else None
    exception = ExceptionInfo(exc.type, clean_text(exc.message), exc.line) if exc else None
    models = tuple(
        ModelInfo(m.name, m.input_shape, m.output_shape, m.params, m.trainable_params)
        for m in (message.models if message else ())
    )
    limit: Limit | None = None
    if killed_for == "output":
        status, limit = Status.OUTPUT_LIMIT, Limit("output_limit_bytes", s.output_limit_bytes)
        notes.append(f"Output was cut at {s.output_limit_bytes:,} bytes and the run stopped.")
    elif killed_for == "timeout":
        status, limit = Status.TIMEOUT, Limit("wall_timeout_s", s.wall_timeout_s)
        elapsed = s.wall_timeout_s
    elif killed_for == "garbled":
        status = Status.CRASHED
        notes.append("The snippet wrote into the runner's own channel, so it was stopped.")
    elif message is not None:
        status = Status.OK if message.status == "ok" else Status.ERROR
        if exc is not None:
            status, limit = _classify(s, exc, status)
        elapsed = message.duration_s
        peak = message.peak_memory_mb or peak
    else:
        # No result: the process ended (or was ended) while the snippet ran.
        signum = exit_code - 128 if exit_code > 128 else None
        status = Status.CRASHED
        if signum in (signal.SIGXCPU, signal.SIGKILL) and elapsed < s.wall_timeout_s:
            status, limit = Status.TIMEOUT, Limit("cpu_time_s", s.cpu_time_s)
        elif any(m in stderr for m in _MEMORY_MARKERS):
            status, limit = Status.MEMORY_LIMIT, Limit("memory_mb", s.memory_mb)
        elif any(m in stderr for m in _THREAD_MARKERS):
            limit = Limit("max_processes", s.max_processes)
        if status is Status.CRASHED:
            how = f"signal {_signal_name(signum)}" if signum else f"exit code {exit_code}"
            notes.append(f"The Python process running the snippet ended abruptly ({how}).")
    if output_bytes > s.output_limit_bytes and killed_for != "output":
        notes.append(f"Output was cut at {s.output_limit_bytes:,} bytes.")
    return RunResult(
        status=status,
        stdout=stdout,
        stderr=stderr,
        exception=exception,
        models=models,
        limit=limit,
        notes=tuple(notes),
        duration_s=round(elapsed, 3),
        peak_memory_mb=peak,
    )


def _classify(
    s: RunnerSettings, exc: _ExceptionMessage, status: Status
) -> tuple[Status, Limit | None]:
    """An exception that a limit caused -> the status and the limit."""
    kind, text, code = exc.type, exc.message, exc.errno
    if kind in ("MemoryError", "ResourceExhaustedError") or "OOM when allocating" in text:
        return Status.MEMORY_LIMIT, Limit("memory_mb", s.memory_mb)
    if (kind == "RuntimeError" and "can't start new thread" in text) or (
        code == errno.EAGAIN and kind in ("BlockingIOError", "OSError")
    ):
        return status, Limit("max_processes", s.max_processes)
    if code == errno.EFBIG:
        return status, Limit("file_size_mb", s.file_size_mb)
    if code == errno.ENOSPC:
        return status, Limit("tmpfs_mb", s.tmpfs_mb)
    return status, None
