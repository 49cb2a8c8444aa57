"""The bubblewrap sandbox around one worker process: its command line, its start, its end.

Isolation, in the order a process meets it:

- bubblewrap: new user, mount, pid, network, ipc and uts namespaces (no network device but a
  loopback of its own); a root made of read-only binds of /usr, the Python installation, the
  virtualenv (at /opt/venv), the worker script and the weights cache; private size-capped tmpfs
  for /tmp and the home directory; a fresh /proc that shows only the sandbox; a minimal /dev.
  The project tree, the database, the config and the content are simply not there.
- an unprivileged uid: when the bot runs as root, bubblewrap's user namespace maps only root (for
  its own set-up) and ``sandbox_uid``, and ``setpriv`` switches to that uid with every capability
  and the bounding set dropped before Python starts; otherwise the bot's own unprivileged uid.
- an empty environment but for a few variables the worker needs: no token, no database URL.
- seccomp (seccomp.py), then rlimits set by the worker before it imports anything.
- ``--die-with-parent`` and a pid namespace: killing the sandbox's init (or the bot dying) ends
  every process in it. The pool enforces the wall clock and the output cap from outside.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bot.runner import seccomp
from bot.settings import RunnerSettings

log = logging.getLogger(__name__)

VENV = "/opt/venv"
WORKER = "/opt/tutor/worker.py"
WEIGHTS = "/opt/keras"
HOME = "/home/learner"
PATH = "/usr/local/bin:/usr/bin:/bin"


class SandboxUnavailable(RuntimeError):
    """The sandbox cannot run here; snippets are refused rather than run without it."""


def find_bwrap() -> str:
    path = shutil.which("bwrap")
    if path is None:
        raise SandboxUnavailable(
            "Snippets cannot run: bubblewrap is not installed, and the runner never runs code "
            "without its sandbox. Install the Debian package: apt-get install bubblewrap "
            "(or run `make install` as root)."
        )
    return path


def _parents(path: str) -> list[str]:
    """``/a/b/c`` -> ``["/a", "/a/b"]``: directories bwrap must create before binding ``path``."""
    parts = Path(path).parts[1:-1]
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


@dataclass(frozen=True)
class Layout:
    """Where the host's Python lives, found once from the running interpreter."""

    python: str  # the interpreter to run inside the sandbox
    binds: tuple[tuple[str, str], ...]  # (host path, sandbox path), read-only

    @classmethod
    def detect(cls) -> Layout:
        binds: list[tuple[str, str]] = []
        base = os.path.realpath(sys.base_prefix)
        if not base.startswith("/usr/"):
            binds.append((base, base))  # same path: a venv's pyvenv.cfg names it
        if sys.prefix != sys.base_prefix:
            binds.append((os.path.realpath(sys.prefix), VENV))
            python = f"{VENV}/bin/python"
        else:
            python = sys.executable
        return cls(python=python, binds=tuple(binds))


@dataclass
class Sandbox:
    """Builds bubblewrap command lines from the runner settings (a pure function of them)."""

    settings: RunnerSettings
    bwrap: str = field(default_factory=find_bwrap)
    layout: Layout = field(default_factory=Layout.detect)
    as_root: bool = field(default_factory=lambda: os.geteuid() == 0)
    worker_script: str = field(
        default_factory=lambda: str(Path(__file__).with_name("worker.py").resolve())
    )

    def __post_init__(self) -> None:
        self.sandbox_filter = b""
        self.exec_filter = b""
        if self.settings.seccomp:
            try:
                self.sandbox_filter = seccomp.sandbox_filter()
                self.exec_filter = seccomp.exec_filter()
            except seccomp.SeccompUnavailable as exc:
                log.warning("seccomp layer off: %s", exc)

    def environment(self) -> dict[str, str]:
        return {
            "PATH": PATH,
            "HOME": HOME,
            "TMPDIR": "/tmp",
            "LANG": "C.UTF-8",
            "PYTHONDONTWRITEBYTECODE": "1",
            "KERAS_HOME": WEIGHTS,
            "KERAS_BACKEND": "tensorflow",
            "TF_CPP_MIN_LOG_LEVEL": "2",
            # Fewer glibc malloc arenas: a third less address space, and some hangs near the
            # memory limit become a clean MemoryError (FACTS.md).
            "MALLOC_ARENA_MAX": "2",
        }

    def worker_config(self, fds: dict[str, int], warmup: Sequence[str] | None) -> str:
        s = self.settings
        return json.dumps(
            {
                "fds": fds,
                "limits": {
                    "memory_mb": s.memory_mb,
                    "max_processes": s.max_processes,
                    "open_files": s.open_files,
                    "file_size_mb": s.file_size_mb,
                    "cpu_time_s": s.cpu_time_s,
                },
                "code_limit_bytes": s.code_limit_bytes,
                "warmup": list(warmup) if warmup is not None else None,
                "eager_by_default": s.eager_by_default,
                "weights_dir": WEIGHTS,
                "exec_filter": base64.b64encode(self.exec_filter).decode(),
            }
        )

    def argv(
        self,
        config: str,
        *,
        info_fd: int,
        block_fd: int | None,
        seccomp_fd: int | None,
    ) -> list[str]:
        s = self.settings
        tmpfs_bytes = str(s.tmpfs_mb * 1024 * 1024)
        args = [
            self.bwrap,
            "--unshare-all",  # user, mount, pid, net, ipc, uts, cgroup namespaces
            "--unshare-user",
            "--die-with-parent",
            "--new-session",  # no access to the bot's terminal (TIOCSTI)
            "--hostname", "sandbox",
            "--uid", str(s.sandbox_uid if self.as_root else os.getuid()),
            "--gid", str(s.sandbox_gid if self.as_root else os.getgid()),
            "--info-fd", str(info_fd),
            "--ro-bind", "/usr", "/usr",
            "--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache",
            "--proc", "/proc",
            "--dev", "/dev",
            "--perms", "01777", "--size", tmpfs_bytes, "--tmpfs", "/tmp",
            "--perms", "0755", "--dir", "/home",
            "--perms", "01777", "--size", tmpfs_bytes, "--tmpfs", HOME,
        ]  # fmt: skip
        # Debian's merged /usr: /bin, /lib... are symlinks into it; bind real directories.
        for top in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
            host = f"/{top}"
            if os.path.islink(host):
                args += ["--symlink", os.readlink(host), host]
            elif os.path.isdir(host):
                args += ["--ro-bind", host, host]
        made: set[str] = set()
        binds = [*self.layout.binds, (self.worker_script, WORKER)]
        if self.settings.weights_dir.is_dir():
            binds.append((str(self.settings.weights_dir.resolve()), WEIGHTS))
        else:
            args += ["--perms", "0755", "--dir", "/opt", "--perms", "0755", "--dir", WEIGHTS]
            made |= {"/opt", WEIGHTS}
        for host, inside in binds:
            for parent in _parents(inside):
                if parent not in made and parent != "/usr" and not parent.startswith("/usr/"):
                    # bwrap would create these 0700, unreadable for the sandbox uid (FACTS.md).
                    args += ["--perms", "0755", "--dir", parent]
                    made.add(parent)
            args += ["--ro-bind", host, inside]
        if block_fd is not None:
            args += ["--userns-block-fd", str(block_fd)]
        if seccomp_fd is not None:
            args += ["--seccomp", str(seccomp_fd)]
        args += ["--chdir", HOME, "--clearenv"]
        for name, value in self.environment().items():
            args += ["--setenv", name, value]
        args += ["--cap-drop", "ALL"]
        command = [self.layout.python, "-I", "-B", WORKER, config]
        if self.as_root:
            # Root in the sandbox's user namespace only sets it up; the worker runs as the
            # sandbox uid with no capability at all (setpriv needs these three to get there).
            args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID",
                     "--cap-add", "CAP_SETPCAP"]  # fmt: skip
            command = [
                "/usr/bin/setpriv",
                "--reuid", str(s.sandbox_uid), "--regid", str(s.sandbox_gid), "--clear-groups",
                "--inh-caps=-all", "--bounding-set=-all", "--",
                *command,
            ]  # fmt: skip
        nice = ["/usr/bin/nice", "-n", str(s.spawn_niceness)] if s.spawn_niceness else []
        return [*nice, *args, "--", *command]

    def spawn(self, warmup: Sequence[str] | None) -> SandboxProcess:
        """Start a sandboxed worker (blocks for a few milliseconds)."""
        return SandboxProcess.start(self, warmup)


def _pipe() -> tuple[int, int]:
    read, write = os.pipe2(os.O_CLOEXEC)
    return read, write


@dataclass
class SandboxProcess:
    """One running sandbox. The pool owns it and must call ``kill()`` and ``wait()``."""

    popen: subprocess.Popen[bytes]
    init_pidfd: int | None  # the sandbox's pid 1: killing it ends everything inside
    code: int  # write end: the snippet's source
    control: int  # read ends
    out: int
    err: int
    diag: int
    info: int  # kept open: bwrap writes more to it later, and dies of SIGPIPE if nobody reads
    _reaped: tuple[int, float] | None = None  # (wait status, peak RSS of the tree in MiB)

    @classmethod
    def start(cls, sandbox: Sandbox, warmup: Sequence[str] | None) -> SandboxProcess:
        code_r, code_w = _pipe()
        control_r, control_w = _pipe()
        out_r, out_w = _pipe()
        err_r, err_w = _pipe()
        diag_r, diag_w = _pipe()
        info_r, info_w = _pipe()
        block_r, block_w = _pipe() if sandbox.as_root else (None, None)
        seccomp_fd = None
        if sandbox.sandbox_filter:
            seccomp_fd = os.memfd_create("tutor-seccomp", os.MFD_CLOEXEC)
            os.write(seccomp_fd, sandbox.sandbox_filter)
            os.lseek(seccomp_fd, 0, os.SEEK_SET)
        fds = {"control": control_w, "out": out_w, "err": err_w}
        argv = sandbox.argv(
            sandbox.worker_config(fds, warmup),
            info_fd=info_w,
            block_fd=block_r,
            seccomp_fd=seccomp_fd,
        )
        passed = [fd for fd in (control_w, out_w, err_w, info_w, block_r, seccomp_fd) if fd]
        try:
            popen = subprocess.Popen(
                argv,
                stdin=code_r,
                stdout=diag_w,
                stderr=diag_w,
                pass_fds=passed,
                env={"PATH": PATH},  # bwrap itself does not need, or get, the bot's environment
                close_fds=True,
            )
        finally:
            for fd in [*passed, code_r, diag_w]:
                os.close(fd)
        try:
            init_pid = _read_child_pid(info_r)
            if sandbox.as_root and block_w is not None:
                s = sandbox.settings
                _write_id_maps(init_pid, s.sandbox_uid, s.sandbox_gid)
            init_pidfd = os.pidfd_open(init_pid) if init_pid else None
        except (OSError, ValueError) as exc:
            popen.kill()
            popen.wait()
            for fd in (code_w, control_r, out_r, err_r, diag_r, info_r):
                os.close(fd)
            raise SandboxUnavailable(f"the sandbox did not start: {exc}") from exc
        finally:
            if block_w is not None:
                os.close(block_w)  # end of file unblocks bwrap: the id maps are written
        return cls(popen, init_pidfd, code_w, control_r, out_r, err_r, diag_r, info_r)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def kill(self) -> None:
        """End the sandbox and everything in it (idempotent)."""
        if self.init_pidfd is not None:
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(self.init_pidfd, signal.SIGKILL)
        if self._reaped is None:
            # os.kill, not Popen.send_signal: that one polls, and would reap the process before
            # wait() can read its status. Unreaped, the pid cannot be reused meanwhile.
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)

    async def wait(self) -> tuple[int, float]:
        """(exit code as bwrap reports it, peak memory in MiB of the whole sandbox tree).

        bwrap exits with the worker's code, or 128 + the signal that ended it. The peak comes
        from wait4(): each level reaps the one below it, so the worker's peak RSS reaches us.
        """
        if self._reaped is not None:
            return self._reaped
        loop = asyncio.get_running_loop()
        pidfd = os.pidfd_open(self.pid)
        try:
            exited = loop.create_future()
            loop.add_reader(pidfd, lambda: exited.done() or exited.set_result(None))
            try:
                await exited
            finally:
                loop.remove_reader(pidfd)
        finally:
            os.close(pidfd)
        # The pidfd said it exited: this wait4 returns at once.
        _, status, usage = os.wait4(self.pid, 0)  # noqa: ASYNC222
        code = os.waitstatus_to_exitcode(status)
        self.popen.returncode = code  # so subprocess never tries to reap it again
        self._reaped = (code if code >= 0 else 128 - code, round(usage.ru_maxrss / 1024, 1))
        return self._reaped

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
        fds = (self.code, self.control, self.out, self.err, self.diag, self.info, self.init_pidfd)
        for fd in fds:
            if fd is not None and fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.init_pidfd = None
        self.code = self.control = self.out = self.err = self.diag = self.info = -1


def _read_child_pid(fd: int) -> int:
    """bwrap writes ``{"child-pid": N`` to the info fd in one write (the rest comes later, after
    the set-up that waits for us), so read only until the number is there."""
    data = b""
    while (found := re.search(rb'"child-pid": *(\d+)', data)) is None:
        chunk = os.read(fd, 4096)
        if not chunk:
            raise ValueError("bwrap exited before starting the sandbox (is bubblewrap working?)")
        data += chunk
    return int(found.group(1))


def _write_id_maps(pid: int, uid: int, gid: int) -> None:
    # Root stays mapped so that bwrap can set the sandbox up (mount points owned by root);
    # the worker itself runs as uid/gid, with no capability left to get back to root.
    with open(f"/proc/{pid}/uid_map", "w") as f:
        f.write(f"0 0 1\n{uid} {uid} 1\n")
    with open(f"/proc/{pid}/gid_map", "w") as f:
        f.write(f"0 0 1\n{gid} {gid} 1\n")
