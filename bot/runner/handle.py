"""The pool's side of one sandboxed worker: wait until it is ready, give it one snippet, watch it
(wall clock, output cap, peak memory), and turn whatever happened into a RunResult."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, Field, ValidationError

from bot.runner.pipes import Pipe, first_message, start_failure
from bot.runner.result import (
    ExceptionInfo,
    FileInfo,
    LayerInfo,
    Limit,
    ModelInfo,
    RunResult,
    Status,
    media_type,
)
from bot.runner.zygote import ChildProcess, Zygotes, normal_priority
from bot.settings import RunnerSettings

log = logging.getLogger(__name__)

READY_TIMEOUT_S = 180.0  # a child's warm-up on a busy machine
# All a worker may say on its channel; the worker trims its report: 1 MiB, and the files it
# returns (worker.MAX_FILES_BYTES, 4 MiB, in base64).
CONTROL_LIMIT = 7 * 1024 * 1024
MAX_FILES = 10  # worker.MAX_FILES
MAX_FILE_BYTES = 2 * 1024 * 1024  # worker.MAX_FILE_BYTES
MESSAGE_LIMIT = 64 * 1024  # an exception message is kept whole up to this (the worker's bound)
DIAG_KEEP = 8 * 1024  # start-up noise kept to explain a worker that failed to start
DIAG_LIMIT = 1024 * 1024  # start-up noise read at most (a few KiB in practice)
DRAIN_S = 0.5  # after the result: time for a forked child's output before the sandbox ends
EXIT_WAIT_S = 5.0  # after the worker stopped reporting: time for it to exit by itself
KILLED = 128 + signal.SIGKILL  # bwrap's exit status when the pool killed the sandbox


def _cut(limit: int) -> BeforeValidator:
    """Keep at most ``limit`` characters (or items): a long field is cut, not refused. A class
    name of 300 characters is still the snippet's exception, not a forged report."""

    def cut(value: Any) -> Any:
        if isinstance(value, str) and len(value) > limit:
            return value[: limit - 1] + "…"
        return value[:limit] if isinstance(value, list) else value

    return BeforeValidator(cut)


class _ExceptionMessage(BaseModel):
    type: Annotated[str, _cut(200)]
    message: Annotated[str, _cut(MESSAGE_LIMIT)]
    line: int | None = None
    errno: int | None = None


def _facts(value: Any) -> Any:
    """At most 30 facts, names and texts cut to 200 characters; anything else is dropped."""
    if not isinstance(value, dict):
        return {}
    kept = {}
    for key, fact in list(value.items())[:30]:
        if isinstance(fact, str):
            fact = fact[:200]
        elif not isinstance(fact, bool | int | float):
            continue
        kept[str(key)[:200]] = fact
    return kept


Fact = bool | int | float | str  # bool first: pydantic would otherwise read True as 1


class _LayerMessage(BaseModel):
    name: Annotated[str, _cut(200)]
    type: Annotated[str, _cut(200)]
    output_shape: Annotated[str | None, _cut(2000)] = None
    params: int | None = None
    trainable: bool = False


class _FileMessage(BaseModel):
    name: Annotated[str, _cut(200)]
    data: Annotated[bytes, Field(max_length=MAX_FILE_BYTES)]  # base64 in the JSON

    model_config = {"ser_json_bytes": "base64", "val_json_bytes": "base64"}


class _ModelMessage(BaseModel):
    name: Annotated[str, _cut(200)]
    input_shape: Annotated[str | None, _cut(2000)] = None
    output_shape: Annotated[str | None, _cut(2000)] = None
    params: int | None = None
    trainable_params: int | None = None
    facts: Annotated[dict[str, Fact], BeforeValidator(_facts)] = Field(default_factory=dict)
    layers: Annotated[list[_LayerMessage], _cut(300)] = Field(default_factory=list)


class _ResultMessage(BaseModel):
    """The worker's report. It shares a process with the snippet, which could write here too:
    so it is validated like any input, and a forged one only misleads its own author."""

    event: Literal["result"]
    status: Literal["ok", "error"]
    exception: _ExceptionMessage | None = None
    models: Annotated[list[_ModelMessage], _cut(50)] = Field(default_factory=list)
    notes: Annotated[list[Annotated[str, _cut(2000)]], _cut(20)] = Field(default_factory=list)
    duration_s: float = Field(ge=0)
    peak_memory_mb: float | None = None
    baseline_memory_mb: float | None = None
    files: Annotated[list[_FileMessage], _cut(MAX_FILES)] = Field(default_factory=list)

    @classmethod
    def parse(cls, line: bytes) -> _ResultMessage | None:
        try:
            return cls.model_validate_json(line)
        except ValidationError:
            return None


class _ExitMessage(BaseModel):
    """The worker's word that the snippet called ``os._exit(code)`` (see ``_Ending``)."""

    event: Literal["exit"]
    code: int

    @classmethod
    def parse(cls, line: bytes) -> int | None:
        try:
            return cls.model_validate_json(line).code
        except ValidationError:
            return None


@dataclass
class Worker:
    """One warm, single-use sandboxed worker."""

    settings: RunnerSettings
    process: ChildProcess
    spawned_at: float = field(default_factory=time.monotonic)
    ready_at: float | None = None
    pid: int | None = None  # the worker's pid outside the sandbox, once known
    reaping: asyncio.Future[int] | None = None  # the sandbox's clean-up after a run
    _control: Pipe = field(init=False)
    _diag: Pipe = field(init=False)

    def __post_init__(self) -> None:
        # Must run in the event loop: the pipes are read by it.
        self._control = Pipe(self.process.control, 0, limit=CONTROL_LIMIT, lines=True)
        self._diag = Pipe(self.process.diag, DIAG_KEEP, limit=DIAG_LIMIT, keep_tail=True)

    @classmethod
    async def spawn(cls, zygotes: Zygotes, warmup: Sequence[str] | None) -> Worker:
        """A new child of the live zygote (started first if there is none)."""
        zygote = await zygotes.get()
        process = await zygote.fork(warmup)
        return cls(zygotes.sandbox.settings, process)

    async def ready(self) -> None:
        """Wait for the worker's "ready"; raise SandboxUnavailable if it never comes."""
        message = await first_message(self._control, READY_TIMEOUT_S)
        if message.get("event") != "ready":
            await self.discard()
            raise start_failure(message, self._diag)
        self.ready_at = time.monotonic()

    @property
    def alive(self) -> bool:
        return not self._control.eof.done()

    def memory_mb(self) -> float | None:
        """Current and peak resident memory of the worker process (read from outside)."""
        peak = _status_kib(self._worker_pid(), "VmHWM")
        return None if peak is None else round(peak / 1024, 1)

    def cpu_s(self) -> float | None:
        """CPU seconds the worker process has used so far, all threads (read from outside)."""
        return _cpu_s(self._worker_pid())

    def rss_mb(self) -> float | None:
        rss = _status_kib(self._worker_pid(), "VmRSS")
        return None if rss is None else round(rss / 1024, 1)

    def _worker_pid(self) -> int | None:
        if self.pid is None:
            self.pid = self.process.worker_pid()
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

        cap = s.output_limit_bytes
        out = Pipe(self.process.out, cap, limit=cap + 1, on_data=count)
        err = Pipe(self.process.err, cap, limit=cap + 1, on_data=count)
        peak: float | None = self.memory_mb()
        baseline = self.rss_mb()  # the warm worker, before the snippet (if it cannot report)
        cpu_at_start = cpu = self.cpu_s()
        started = time.monotonic()
        killed_for: str | None = None
        message: _ResultMessage | None = None
        exit_reported: int | None = None
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
                    {result_line, overflow, self._control.flooded},
                    timeout=min(0.25, remaining), return_when=asyncio.FIRST_COMPLETED,
                )  # fmt: skip
                peak = self.memory_mb() or peak
                cpu = self.cpu_s() or cpu  # the last sample before the worker ended
                if overflow in done:
                    killed_for = "output"
                    break
                if self._control.flooded in done:
                    killed_for = "garbled"  # no report is that long: the snippet wrote it
                    break
                if result_line in done:
                    line = result_line.result()
                    message = _ResultMessage.parse(line)
                    if message is None:
                        exit_reported = _ExitMessage.parse(line)
                        if exit_reported is None and line:
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
                # No result: the worker is ending. Let the sandbox end by itself, so that its
                # exit code tells how (a signal of ours would hide the real one).
                try:
                    async with asyncio.timeout(EXIT_WAIT_S):
                        await self.process.wait()
                except TimeoutError:
                    if exit_reported is None:
                        killed_for = "silent"  # stopped reporting, but still running
        except OSError as exc:  # the worker died before it read the snippet
            log.warning("worker %s: %s", self.process.pid, exc)
        finally:
            # Kill at once (a child the snippet forked may still run), reap in the background:
            # tearing down a 500 MB process need not delay the learner's result.
            self.process.kill()
            self.reaping = asyncio.ensure_future(self._reap(out, err))
        ending = None
        if message is None:
            exit_code = await self.reaping
            if exit_reported is not None and exit_code == KILLED:
                # It said it was exiting, and our kill only cut a slow teardown short.
                exit_code = exit_reported & 0xFF
            used = None if cpu is None or cpu_at_start is None else cpu - cpu_at_start
            ending = _Ending(exit_code, exit_reported, used)
        elapsed = time.monotonic() - started
        memory = (peak, baseline)
        return _result(s, message, killed_for, ending, out.text, err.text, elapsed, memory, total)

    async def _reap(self, *pipes: Pipe) -> int:
        exit_code, _ = await self.process.wait()
        for pipe in (*pipes, self._control, self._diag):
            pipe.stop()
        self.process.close()
        return exit_code

    def prioritise(self) -> None:
        """Back to normal priority for the snippet: workers start at ``spawn_niceness`` so that
        importing TensorFlow yields to running snippets. Lowering a nice value needs root (or
        CAP_SYS_NICE); without it every worker stays at the same, lower priority."""
        normal_priority(self._worker_pid())

    async def discard(self) -> None:
        """End an unused worker."""
        self.process.kill()
        await self.process.wait()
        self._control.stop()
        self._diag.stop()
        self.process.close()


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


def _cpu_s(pid: int | None) -> float | None:
    """utime + stime of a process (all its threads), from /proc/PID/stat."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()  # the name may hold spaces and ")"
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


@dataclass(frozen=True)
class _Ending:
    """How a worker ended without a result, as far as it can be known from outside."""

    exit_code: int  # as bwrap reports it: the worker's exit code, or 128 + the signal
    exit_reported: int | None  # the worker's own word: the snippet called os._exit(code)
    cpu_s: float | None  # CPU seconds the snippet used, sampled from /proc while it ran

    def signal(self) -> signal.Signals | None:
        """The signal that ended the worker, or None when it exited. bwrap folds both into one
        number (128 + signal, as shells do), so the worker's report of an exit decides; a
        number above 128 that is no signal (255) is an exit code."""
        if self.exit_reported is not None and self.exit_reported & 0xFF == self.exit_code:
            return None
        if self.exit_code <= 128:
            return None
        try:
            return signal.Signals(self.exit_code - 128)
        except ValueError:
            return None


# What each way of dying means, in words for the learner.
_SIGNAL_SENTENCES = {
    signal.SIGSEGV: "it crashed with a segmentation fault (SIGSEGV): native code, such as "
    "ctypes, touched memory it does not own",
    signal.SIGABRT: "it aborted (SIGABRT): native code, usually TensorFlow, stopped on a failed "
    "internal check",
    signal.SIGBUS: "it crashed with a bus error (SIGBUS) in native code",
    signal.SIGFPE: "it crashed with an arithmetic fault (SIGFPE) in native code",
    signal.SIGILL: "it crashed on an illegal instruction (SIGILL) in native code",
    signal.SIGKILL: "it was killed (SIGKILL) by something other than the runner's limits, "
    "usually the machine running out of memory",
}
_MEMORY_MARKERS = ("MemoryError", "bad_alloc", "Cannot allocate memory", "OOM when allocating")
_THREAD_MARKERS = ("pthread_create", "can't start new thread", "Resource temporarily unavailable")


def _without_result(
    s: RunnerSettings, ending: _Ending, stderr: str
) -> tuple[Status, Limit | None, str | None]:
    """The worker ended while the snippet ran -> status, limit and a sentence saying how."""
    signum = ending.signal()
    # The CPU limit only on evidence: SIGXCPU comes from RLIMIT_CPU's soft limit; its hard
    # limit (a second later, for a snippet that ignores SIGXCPU) kills, as an OOM kill does,
    # so a SIGKILL counts only when the snippet had used up its CPU time.
    spent = ending.cpu_s is not None and ending.cpu_s >= s.cpu_time_s
    if signum is signal.SIGXCPU or (signum is signal.SIGKILL and spent):
        return Status.TIMEOUT, Limit("cpu_time_s", s.cpu_time_s), None
    if any(m in stderr for m in _MEMORY_MARKERS):
        return Status.MEMORY_LIMIT, Limit("memory_mb", s.memory_mb), None
    threads = any(m in stderr for m in _THREAD_MARKERS)
    limit = Limit("max_processes", s.max_processes) if threads else None
    if signum is None:
        how = (
            f"it exited with code {ending.exit_code} before the snippet finished "
            "(os._exit() or native code)"
        )
    else:
        how = _SIGNAL_SENTENCES.get(signum, f"it was ended by the signal {signum.name}")
    return Status.CRASHED, limit, f"The Python process running the snippet stopped: {how}."


def _result(
    s: RunnerSettings,
    message: _ResultMessage | None,
    killed_for: str | None,
    ending: _Ending | None,
    stdout: str,
    stderr: str,
    elapsed: float,
    memory: tuple[float | None, float | None],
    output_bytes: int,
) -> RunResult:
    """Everything known about the run -> status, limit and notes (without the explanation).
    RunResult cleans every text that came from the snippet."""
    notes = [n for n in message.notes if n] if message else []
    exc = message.exception if message else None
    exception = ExceptionInfo(exc.type, exc.message, exc.line) if exc else None
    peak, baseline = memory
    models = tuple(
        ModelInfo(
            m.name,
            m.input_shape,
            m.output_shape,
            m.params,
            m.trainable_params,
            m.facts,
            tuple(LayerInfo(**layer.model_dump()) for layer in m.layers),
        )
        for m in (message.models if message else ())
    )
    files = tuple(
        FileInfo(f.name, media_type(f.name, f.data), f.data)
        for f in (message.files if message else ())
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
    elif killed_for == "silent":
        status = Status.CRASHED
        notes.append(
            "The Python process running the snippet stopped reporting to the runner but did "
            "not exit, so it was stopped."
        )
    elif message is not None:
        status = Status.OK if message.status == "ok" else Status.ERROR
        if exc is not None:
            status, limit = _classify(s, exc, status)
        elapsed = message.duration_s
        peak = message.peak_memory_mb or peak
        baseline = message.baseline_memory_mb or baseline
    else:
        assert ending is not None  # no result: the process ended while the snippet ran
        status, limit, how = _without_result(s, ending, stderr)
        if how:
            notes.append(how)
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
        baseline_memory_mb=baseline,
        files=files,
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
        # /tmp and home are tmpfs: their files are memory, one of the routes memory_mb's
        # neighbours cap (docs/runner.md, "Memory routes").
        return Status.MEMORY_LIMIT, Limit("tmpfs_mb", s.tmpfs_mb)
    return status, None
