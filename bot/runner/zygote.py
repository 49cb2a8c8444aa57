"""The pool's side of a zygote: one bubblewrap sandbox per generation, whose process has imported
TensorFlow and run no op, and forks one child per worker (worker.py ``zygote``).

Why: a single-use worker used to pay TensorFlow's import (several CPU-seconds) for every
snippet; a child of the zygote pays a fork and its own namespaces (tens of milliseconds). Each
child builds its own sandbox inside the generation's before any learner code exists: own user,
mount (fresh /tmp and home), pid (fresh /proc), ipc, uts, network and cgroup namespaces, no
capability, the sandbox uid, rlimits and the full seccomp filter (no fork, no exec...). The
zygote runs no learner code and never runs a TensorFlow op, so every child starts from the
same state, and nothing is forked after an op (FACTS.md: such a child hangs).

``Zygotes.get()`` gives the live generation, starting one when there is none (or the last
died); ``Zygote.fork()`` makes a child and returns its ``ChildProcess``, which ``handle.Worker``
drives like a sandbox of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import signal
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.runner.pipes import Pipe, first_message, parse, start_failure
from bot.runner.sandbox import Sandbox, SandboxProcess, SandboxUnavailable

log = logging.getLogger(__name__)

READY_TIMEOUT_S = 180.0  # importing TensorFlow on a busy machine
FORK_TIMEOUT_S = 30.0  # the zygote answers a request at once; this only bounds a stuck one
# The zygote's events: our code only (no worker holds this pipe), a few lines per child, read
# as they come for as long as the generation lives.
REPORT_LIMIT = 1 << 62
DIAG_KEEP = 8 * 1024
DIAG_LIMIT = 1024 * 1024
KILLED = 128 + signal.SIGKILL


def _pipe() -> tuple[int, int]:
    return os.pipe2(os.O_CLOEXEC)


def normal_priority(pid: int | None) -> None:
    """Nice 0 for every thread of a process (nice is per thread on Linux). Lowering a nice
    value needs root (or CAP_SYS_NICE); without it, nothing changes."""
    if pid is None or os.geteuid() != 0:
        return
    with contextlib.suppress(OSError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, int(tid), 0)


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except (OSError, ValueError):
        return []


def _nspids(pid: int) -> list[int]:
    """The pid of a process in each pid namespace it belongs to, the host's first."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("NSpid:"):
                    return [int(p) for p in line.split()[1:]]
    except (OSError, ValueError):
        pass
    return []


@dataclass(eq=False)
class ChildProcess:
    """One child of a zygote: a sandbox of its own holding one warm, single-use worker.

    Its tree, as the host sees it: the child (in the zygote's pid namespace; it waits for the
    next) -> the init of its own pid namespace -> the worker. Killing the child ends the whole
    tree (the init dies with its parent, and the namespace with its init)."""

    zygote: Zygote
    ident: int
    code: int  # write end: the snippet's source
    control: int  # read ends
    out: int
    err: int
    diag: int
    pid: int = 0  # the child's pid on the host, once known
    _pidfds: list[int] = field(default_factory=list)
    _worker: int | None = None
    _worker_fd: int | None = None
    exited: asyncio.Future[tuple[int, float]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    forked: asyncio.Future[int | None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    def _locate(self, inner_pid: int) -> None:
        """The child's host pid, from its pid in the zygote's namespace."""
        zygote = self.zygote.host_pid()
        for pid in _children(zygote) if zygote else []:
            if _nspids(pid)[1:2] == [inner_pid]:
                with contextlib.suppress(OSError):
                    pidfd = os.pidfd_open(pid)
                    if _nspids(pid)[1:2] == [inner_pid]:  # still that process: no pid reuse
                        self.pid = pid
                        self._pidfds.append(pidfd)
                    else:
                        os.close(pidfd)
                return

    def worker_pid(self) -> int | None:
        """The worker's pid on the host (child -> init -> worker), once it exists."""
        if self._worker is None and self.pid:
            init = _children(self.pid)
            workers = _children(init[0]) if init else []
            if workers:
                with contextlib.suppress(OSError):
                    self._worker_fd = os.pidfd_open(workers[0])
                    self._worker = workers[0]
        return self._worker

    def kill(self) -> None:
        """End the child and everything in it (idempotent). The worker is all that runs there
        (it cannot fork): killing it ends its init and the child in turn, each reaping the one
        below, so that its exit status, CPU time and peak memory reach the zygote's report.
        Before the worker exists, the child (its init dies with it)."""
        self.worker_pid()
        targets = [self._worker_fd] if self._worker_fd is not None else self._pidfds
        for pidfd in targets:
            with contextlib.suppress(ProcessLookupError, OSError):
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)

    async def wait(self) -> tuple[int, float]:
        """(exit code as bwrap would report it, peak memory in MiB of the child's tree), from
        the zygote, which reaps it. A zygote that died takes its children with it: KILLED."""
        return await asyncio.shield(self.exited)

    def send_code(self, data: bytes) -> None:
        """Write the snippet and close the pipe (blocking: call it in a thread)."""
        fd, self.code = self.code, -1
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)

    def close(self) -> None:
        worker = [self._worker_fd] if self._worker_fd is not None else []
        for fd in (self.code, self.control, self.out, self.err, self.diag, *self._pidfds, *worker):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._pidfds = []
        self._worker_fd = None
        self.code = self.control = self.out = self.err = self.diag = -1


class Zygote:
    """One generation: a zygote in its bubblewrap sandbox. Use ``start`` to make one."""

    def __init__(self, sandbox: Sandbox, process: SandboxProcess) -> None:
        # The sandbox's stage is a lower layer of the overlays the zygote's /opt is made of:
        # it must live as long as the zygote does.
        self.sandbox = sandbox
        self.process = process
        self.children: dict[int, ChildProcess] = {}
        self._ids = itertools.count(1)
        self._report = Pipe(process.report, 0, limit=REPORT_LIMIT, lines=True)
        self._diag = Pipe(process.diag, DIAG_KEEP, limit=DIAG_LIMIT, keep_tail=True)
        self._zygote_pid: int | None = None
        self._events: asyncio.Task[None] | None = None
        self._closing = False
        self.startup_s: float | None = None

    @classmethod
    async def start(cls, sandbox: Sandbox) -> Zygote:
        """Start a zygote and wait until it has imported TensorFlow; SandboxUnavailable if not.
        In the event loop's own thread, on purpose: --die-with-parent (PR_SET_PDEATHSIG) fires
        when the *thread* that started bwrap exits."""
        zygote = cls(sandbox, sandbox.spawn())
        message = await first_message(zygote._report, READY_TIMEOUT_S)
        if message.get("event") != "ready":
            await zygote.close()
            raise start_failure(message, zygote._diag)
        zygote.startup_s = message.get("startup_s")
        zygote._events = asyncio.ensure_future(zygote._follow())
        zygote._prioritise()
        return zygote

    def _prioritise(self) -> None:
        """Back to normal priority once TensorFlow is imported (the sandbox starts at
        ``spawn_niceness``, so that the import yields to running snippets): forking a worker is
        on a waiting snippet's path. Each child lowers its own priority for its warm-up, and
        the pool raises it again when it gets a snippet (``Worker.prioritise``). Needs root."""
        normal_priority(self.host_pid())

    @property
    def alive(self) -> bool:
        return not self._report.eof.done()

    def host_pid(self) -> int | None:
        """The zygote's pid on the host: the only child of the sandbox's init."""
        if self._zygote_pid is None:
            found = _children(self.process.init_pid)
            self._zygote_pid = found[0] if found else None
        return self._zygote_pid

    def rss_mb(self) -> tuple[float | None, float | None]:
        """(RSS, PSS) of the zygote itself: memory its children share until they write to it."""
        return _memory_mb(self.host_pid())

    async def fork(self, warmup: Sequence[str] | None) -> ChildProcess:
        """A new child with its own pipes; it says "ready" on ``control`` once warm."""
        if not self.alive:
            raise SandboxUnavailable("the zygote has ended")
        ident = next(self._ids)
        code_r, code_w = _pipe()
        control_r, control_w = _pipe()
        out_r, out_w = _pipe()
        err_r, err_w = _pipe()
        diag_r, diag_w = _pipe()
        theirs = [code_r, control_w, out_w, err_w, diag_w]  # worker.py _place_fds's order
        child = ChildProcess(self, ident, code_w, control_r, out_r, err_r, diag_r)
        self.children[ident] = child
        request = {"id": ident, "warmup": list(warmup) if warmup is not None else None}
        try:
            socket.send_fds(self.process.requests, [json.dumps(request).encode()], theirs)
        except OSError as exc:
            child.close()
            self.children.pop(ident, None)
            raise SandboxUnavailable(f"the zygote does not answer: {exc}") from exc
        finally:
            for fd in theirs:
                os.close(fd)
        try:
            async with asyncio.timeout(FORK_TIMEOUT_S):
                inner = await child.forked
        except TimeoutError:
            inner = None
        if inner is None:
            child.close()
            self.children.pop(ident, None)
            raise SandboxUnavailable("the zygote could not fork a worker")
        child._locate(inner)
        return child

    async def _follow(self) -> None:
        """Route the zygote's events to its children until it ends."""
        try:
            while line := await self._report.lines.get():
                event = parse(line)
                child = self.children.get(event.get("id", -1))
                if child is None:
                    continue
                if event.get("event") == "forked" and not child.forked.done():
                    child.forked.set_result(event.get("pid"))
                elif event.get("event") == "exited":
                    self.children.pop(child.ident, None)
                    if not child.exited.done():
                        child.exited.set_result((int(event["code"]), float(event["peak_mb"])))
        finally:
            # The zygote ended: its children went with it (they die with their parent).
            if not self._closing:
                log.warning("a zygote ended: %s", self._diag.text.strip()[-500:] or "no message")
            for child in self.children.values():
                if not child.forked.done():
                    child.forked.set_result(None)
                if not child.exited.done():
                    child.exited.set_result((KILLED, 0.0))
            self.children.clear()

    async def close(self) -> None:
        self._closing = True
        self.process.kill()
        await self.process.wait()
        self._report.stop()
        self._diag.stop()
        if self._events is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._events
        self.process.close()


class Zygotes:
    """The live generation of a sandbox, started on demand, one start at a time."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.current: Zygote | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> Zygote:
        async with self._lock:
            # A new generation when the last one ended, or when something (a cleaner of old
            # files in /tmp) removed part of the stage its /opt is layered on.
            stale = self.current is not None and not self.sandbox.stage.intact()
            if self.current is None or not self.current.alive or stale:
                old, self.current = self.current, None
                if old is not None:
                    await old.close()
                self.current = await Zygote.start(self.sandbox)
            return self.current

    async def close(self) -> None:
        async with self._lock:
            if self.current is not None:
                await self.current.close()
                self.current = None


def _memory_mb(pid: int | None) -> tuple[float | None, float | None]:
    found: dict[str, float] = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                key = line.split(":")[0]
                if key in ("Rss", "Pss"):
                    found[key] = round(int(line.split()[1]) / 1024, 1)
    except (OSError, ValueError, TypeError):
        pass
    return found.get("Rss"), found.get("Pss")
