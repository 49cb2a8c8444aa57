"""The bubblewrap sandbox around one zygote and its workers: its command line, start and end.

Isolation, in the order a process meets it:

- bubblewrap: new user, mount, pid, network, ipc and uts namespaces (no network device but a
  loopback of its own); a root of read-only binds of /usr, the Python installation, the
  virtualenv's site-packages and the weights cache; private tmpfs for /tmp and the home
  directory; a fresh /proc that shows only the sandbox; a /dev of null, zero, full, random and
  urandom, and a /dev/shm of 1 MiB (no terminals). The project tree, the database, the config
  and the content are simply not there. bwrap reads its own arguments from a file descriptor,
  so that /proc/1/cmdline inside does not list the host's paths.
- a set-up step inside (worker.py ``setup``, our code, before any of the learner's): it lays the
  host's Python trees out under neutral paths (/opt/python, /opt/venv, /opt/keras) with
  read-only overlays and detaches the binds they came from, so that no path of the host (the
  project directory, the home directory, the Python prefix) shows in /proc/self/mountinfo,
  sys.path or anywhere Python reports; and it caps the number of inodes of each tmpfs, which
  its size does not count. Then it execs the zygote (zygote.py), which forks the workers.
- per worker, inside this sandbox: its own namespaces, /tmp, home and /proc, an unprivileged uid
  (``sandbox_uid`` when the bot runs as root, else the bot's own) with no capability, the
  worker's seccomp filter and rlimits (worker.py ``child`` and ``serve``).
- an empty environment but for a few variables the worker needs: no token, no database URL.
- ``--die-with-parent`` and a pid namespace: killing the sandbox's init (or the bot dying) ends
  every process in it. The pool enforces the wall clock and the output cap from outside.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import glob
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import weakref
from dataclasses import dataclass, field
from pathlib import Path

from bot.runner import seccomp
from bot.settings import RunnerSettings

log = logging.getLogger(__name__)

# Paths inside the sandbox.
OPT = "/opt"
PYTHON_HOME = "/opt/python"  # the base Python installation, when it is not under /usr
VENV = "/opt/venv"
WORKER = "/opt/tutor/worker.py"
WEIGHTS = "/opt/keras"
HOME = "/home/learner"
PATH = "/usr/local/bin:/usr/bin:/bin"
# Where the host's trees are bound while the set-up step builds /opt from them; the binds are
# detached before the worker starts, and only these names remain in the overlays' options.
STAGE = "/.stage"
DEVICES = ("null", "zero", "full", "random", "urandom")
# A tmpfs's size counts file contents, not inodes: 2.4 million empty files took 15 s and 2.2 GB
# of kernel memory. One inode per 8 KiB of the size keeps their memory to about 15% of it.
TMPFS_INODES_PER_MB = 128
# POSIX semaphores live in /dev/shm: multiprocessing's locks need one (so do ThreadPool and with
# it keras.utils.image_dataset_from_directory). Each takes a page and is unlinked at once; 1 MiB
# and 64 files hold what learner code needs, and it is all that POSIX shared memory can hold.
DEV_SHM_BYTES = 1024 * 1024
DEV_SHM_INODES = 64


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


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


@dataclass(frozen=True)
class Layout:
    """Where the host's Python lives, found once from the running interpreter."""

    base: str  # the base installation (sys.base_prefix, resolved)
    executable: str  # its interpreter binary, resolved
    version: str  # "3.11"
    venv: str | None  # the virtualenv (sys.prefix, resolved), if there is one
    site: tuple[str, ...]  # the virtualenv's site-packages directories, resolved

    @classmethod
    def detect(cls) -> Layout:
        executable = getattr(sys, "_base_executable", None) or sys.executable
        venv = os.path.realpath(sys.prefix) if sys.prefix != sys.base_prefix else None
        site: tuple[str, ...] = ()
        if venv is not None:
            paths = sysconfig.get_paths()
            site = tuple(dict.fromkeys(os.path.realpath(paths[k]) for k in ("purelib", "platlib")))
        return cls(
            base=os.path.realpath(sys.base_prefix),
            executable=os.path.realpath(executable),
            version=f"{sys.version_info.major}.{sys.version_info.minor}",
            venv=venv,
            site=tuple(p for p in site if venv is not None and _under(p, venv)),
        )

    @property
    def base_in_usr(self) -> bool:
        """A distribution's Python: /usr is bound as it is, and its paths say nothing."""
        return _under(self.base, "/usr")

    @property
    def interpreter(self) -> str:
        """The interpreter binary as the sandbox sees it."""
        if self.base_in_usr:
            return self.executable
        if _under(self.executable, self.base):
            return f"{PYTHON_HOME}/{os.path.relpath(self.executable, self.base)}"
        return f"{PYTHON_HOME}/bin/python{self.version}"

    @property
    def python(self) -> str:
        """What the worker runs: the virtualenv's python, else the interpreter itself."""
        return f"{VENV}/bin/python" if self.venv else self.interpreter

    def site_inside(self, host: str) -> str:
        assert self.venv is not None
        return f"{VENV}/{os.path.relpath(host, self.venv)}"

    def markers(self) -> dict[str, str]:
        """Host paths that must not show inside, longest first, and what replaces them."""
        found = {self.base: PYTHON_HOME, os.path.realpath(sys.base_prefix): PYTHON_HOME}
        if self.venv:
            found |= {self.venv: VENV, sys.prefix: VENV}
        found[str(Path.home())] = HOME
        found = {k: v for k, v in found.items() if k not in ("/", "/usr") and not _under(k, "/usr")}
        return dict(sorted(found.items(), key=lambda kv: -len(kv[0])))


def _neutral(text: str, markers: dict[str, str]) -> str:
    for host, inside in markers.items():
        text = text.replace(host, inside)
    return text


class Stage:
    """A host directory, made once per Sandbox, holding what the sandbox's /opt is built from:
    the worker script, the interpreter binary (a small file when libpython is shared), a
    generated pyvenv.cfg, and files that hide the host's paths when laid over the real trees:
    the sysconfig data with neutral paths, and empty stand-ins for the files of an editable
    install (its .pth, its path finder, its direct_url.json), which name the project directory.

    It is bound into the sandbox only while the set-up step reads it (as a lower layer of the
    overlays), so its own host path never shows either.
    """

    def __init__(self, layout: Layout, worker_script: str) -> None:
        self.layout = layout
        self.path = tempfile.mkdtemp(prefix="tutor-sandbox-")
        self._cleanup = weakref.finalize(self, shutil.rmtree, self.path, ignore_errors=True)
        os.chmod(self.path, 0o755)  # the sandbox's uid reads it
        self.hidden: list[str] = []  # directories of the base installation hidden inside
        self.made: list[Path] = []
        try:
            self._build(worker_script)
        except BaseException:
            self._cleanup()
            raise

    def _dir(self, *parts: str) -> Path:
        """A directory of the stage; ``opt/...`` is what the sandbox sees as ``/opt/...``."""
        path = Path(self.path, *(p.lstrip("/") for p in parts))
        path.mkdir(mode=0o755, parents=True, exist_ok=True)
        return path

    def _build(self, worker_script: str) -> None:
        lay = self.layout
        self._dir("empty")
        shutil.copyfile(worker_script, self._dir(os.path.dirname(WORKER)) / "worker.py")
        self._dir(WEIGHTS)
        if not lay.base_in_usr:
            binary = self._dir(os.path.dirname(lay.interpreter)) / os.path.basename(lay.interpreter)
            shutil.copyfile(lay.executable, binary)
            binary.chmod(0o755)
            self._dir(PYTHON_HOME, "lib")
            self._neutral_sysconfig()
            hide = ["lib/pkgconfig", f"lib/python{lay.version}/config-{lay.version}-*"]
            if lay.venv:  # the base's own packages are not the virtualenv's
                hide.append(f"lib/python{lay.version}/site-packages")
            for pattern in hide:
                for found in sorted(glob.glob(os.path.join(lay.base, pattern))):
                    self.hidden.append(f"{PYTHON_HOME}/{os.path.relpath(found, lay.base)}")
        if lay.venv:
            (self._dir(VENV) / "pyvenv.cfg").write_text(
                f"home = {os.path.dirname(lay.interpreter)}\n"
                "include-system-site-packages = false\n"
                f"version = {'.'.join(map(str, sys.version_info[:3]))}\n"
            )
            (self._dir(VENV, "bin") / "python").symlink_to(lay.interpreter)
            for host in lay.site:
                self._dir(lay.site_inside(host))
            self._shadow_editable()
        self.made = list(Path(self.path).rglob("*"))
        for path in self.made:
            if not path.is_symlink():
                path.chmod(0o755 if path.is_dir() else path.stat().st_mode | 0o444)

    def intact(self) -> bool:
        """False when something removed part of it (a cleaner of old files in /tmp)."""
        return all(os.path.lexists(path) for path in self.made)

    def _neutral_sysconfig(self) -> None:
        """sysconfig's build data lists the install prefix dozens of times."""
        lay = self.layout
        lib = Path(lay.base, "lib", f"python{lay.version}")
        top = self._dir("pylib", f"python{lay.version}")
        for source in lib.glob("_sysconfigdata_*.py"):
            text = source.read_text(encoding="utf-8", errors="surrogateescape")
            (top / source.name).write_text(
                _neutral(text, lay.markers()), encoding="utf-8", errors="surrogateescape"
            )
            # Compiled copies hold the old text; empty ones make Python read the source.
            for compiled in (lib / "__pycache__").glob(source.stem + ".*.pyc"):
                (self._dir("pylib", f"python{lay.version}", "__pycache__") / compiled.name).touch()

    def _shadow_editable(self) -> None:
        """Empty stand-ins for the files of the virtualenv's packages that name host paths:
        an editable install's .pth and path finder, a local install's direct_url.json
        (``file://...``), .pth and .egg-link files that list absolute paths."""
        markers = [m.encode() for m in self.layout.markers()]
        for index, host in enumerate(self.layout.site):
            self._dir(f"site{index}")
            candidates = [
                p
                for p in Path(host).iterdir()
                if p.suffix in (".pth", ".egg-link") or p.name.startswith("__editable__")
            ]
            candidates += Path(host).glob("*.dist-info/direct_url.json")
            for path in candidates:
                if not path.is_file():
                    continue
                data = path.read_bytes()
                names_host = (
                    path.name.startswith("__editable__")
                    or b"file://" in data
                    or any(line.startswith(b"/") for line in data.splitlines())
                    or any(m in data for m in markers)
                )
                if names_host:
                    shadow = Path(self.path, f"site{index}", path.relative_to(host))
                    shadow.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
                    shadow.touch()


@dataclass
class Sandbox:
    """Builds bubblewrap command lines from the runner settings and the host's Python layout
    (a pure function of them, but for the Stage it makes once)."""

    settings: RunnerSettings
    bwrap: str = field(default_factory=find_bwrap)
    layout: Layout = field(default_factory=Layout.detect)
    as_root: bool = field(default_factory=lambda: os.geteuid() == 0)
    worker_script: str = field(
        default_factory=lambda: str(Path(__file__).with_name("worker.py").resolve())
    )

    def __post_init__(self) -> None:
        self.sandbox_filter = b""
        self.worker_filter = b""
        self.seccomp_syscall = 0
        if self.settings.seccomp:
            try:
                self.sandbox_filter = seccomp.sandbox_filter()
                self.worker_filter = seccomp.worker_filter()
                self.seccomp_syscall = seccomp.syscall_number("seccomp")
            except seccomp.SeccompUnavailable as exc:
                log.warning("seccomp layer off: %s", exc)
        self.stage = Stage(self.layout, self.worker_script)

    def environment(self) -> dict[str, str]:
        env = {
            "PATH": PATH,
            "HOME": HOME,
            "TMPDIR": "/tmp",
            "LANG": "C.UTF-8",
            "PYTHONDONTWRITEBYTECODE": "1",
            "KERAS_HOME": WEIGHTS,
            "KERAS_BACKEND": "tensorflow",
            "TF_CPP_MIN_LOG_LEVEL": "2",
            # matplotlib draws to files (no display here), and keeps its config and font cache
            # in /tmp: nothing of its own lands among the files a snippet gets back.
            "MPLBACKEND": "Agg",
            "MPLCONFIGDIR": "/tmp/matplotlib",
            # Fewer glibc malloc arenas: a third less address space, and some hangs near the
            # memory limit become a clean MemoryError (FACTS.md).
            "MALLOC_ARENA_MAX": "2",
        }
        if not self.layout.base_in_usr:
            # The interpreter looks for libpython where it was installed on the host.
            env["LD_LIBRARY_PATH"] = f"{PYTHON_HOME}/lib"
        return env

    def zygote_config(self, report_fd: int, requests_fd: int) -> str:
        """What the zygote (worker.py) needs: its channels, and what each child applies to
        itself: the ids it maps and runs as, its tmpfs, limits and seccomp filter."""
        s = self.settings
        uid = s.sandbox_uid if self.as_root else os.getuid()
        gid = s.sandbox_gid if self.as_root else os.getgid()
        return json.dumps(
            {
                "report": report_fd,
                "requests": requests_fd,
                # Where each child keeps its worker's channels (0: the code, 1 and 2: noise).
                "fds": {"control": 3, "out": 4, "err": 5},
                "uid": uid,
                "gid": gid,
                # The same maps as bwrap's (see _write_id_maps): root for the child's own
                # set-up and its init, the sandbox uid for the worker.
                "uid_map": f"0 0 1\n{uid} {uid} 1\n" if self.as_root else f"{uid} {uid} 1\n",
                "gid_map": f"0 0 1\n{gid} {gid} 1\n" if self.as_root else f"{gid} {gid} 1\n",
                "init_ids": [0, 0] if self.as_root else None,
                "tmpfs": [s.tmpfs_mb * 1024 * 1024, s.tmpfs_mb * TMPFS_INODES_PER_MB],
                "dev_shm": [DEV_SHM_BYTES, DEV_SHM_INODES],
                "home": HOME,
                "limits": {
                    "memory_mb": s.memory_mb,
                    "max_processes": s.max_processes,
                    "open_files": s.open_files,
                    "file_size_mb": s.file_size_mb,
                    "cpu_time_s": s.cpu_time_s,
                },
                "code_limit_bytes": s.code_limit_bytes,
                "spawn_niceness": s.spawn_niceness,
                "direct_ops": s.direct_ops,
                "weights_dir": WEIGHTS,
                "worker_filter": base64.b64encode(self.worker_filter).decode(),
                "seccomp_syscall": self.seccomp_syscall,
            }
        )

    def _staged(self) -> tuple[list[tuple[str, str]], list[list[object]]]:
        """The host trees to bind under STAGE, and the set-up step's mounts that turn them
        into /opt: (binds as (host, sandbox path)), (operations for worker.py ``setup``)."""
        lay, s = self.layout, self.settings
        top = f"{STAGE}/top"
        binds = [(self.stage.path, top)]
        ops: list[list[object]] = [["overlay", OPT, [f"{top}/opt", f"{top}/empty"]]]
        if not lay.base_in_usr:
            binds.append((lay.base, f"{STAGE}/python"))
            ops.append(["overlay", f"{PYTHON_HOME}/lib", [f"{top}/pylib", f"{STAGE}/python/lib"]])
            ops += [["hide", path] for path in self.stage.hidden]
        for index, host in enumerate(lay.site):
            binds.append((host, f"{STAGE}/site{index}"))
            lowers = [f"{top}/site{index}", f"{STAGE}/site{index}"]
            ops.append(["overlay", lay.site_inside(host), lowers])
        if s.weights_dir.is_dir():
            binds.append((str(s.weights_dir.resolve()), f"{STAGE}/keras"))
            ops.append(["overlay", WEIGHTS, [f"{top}/empty", f"{STAGE}/keras"]])
        size = s.tmpfs_mb * 1024 * 1024
        inodes = s.tmpfs_mb * TMPFS_INODES_PER_MB
        ops += [["tmpfs", path, size, inodes] for path in ("/tmp", HOME)]
        ops.append(["tmpfs", "/dev/shm", DEV_SHM_BYTES, DEV_SHM_INODES])
        ops += [["detach", inside] for _, inside in reversed(binds)]
        ops += [["uncover", f"/proc/{name}"] for name in ("sys", "sysrq-trigger", "irq", "bus")]
        return binds, ops

    def argv(
        self,
        config: str,
        *,
        info_fd: int,
        block_fd: int | None,
        seccomp_fd: int | None,
    ) -> list[str]:
        """The whole command line; ``spawn`` hands bwrap its options through a file
        descriptor (``--args``) so that they do not show in the sandbox's /proc/1/cmdline."""
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
            # /dev: five device nodes and a small /dev/shm, no terminals; root's, so not
            # writable.
            "--perms", "0755", "--tmpfs", "/dev",
            "--perms", "01777", "--size", str(DEV_SHM_BYTES), "--tmpfs", "/dev/shm",
        ]  # fmt: skip
        for name in DEVICES:
            args += ["--dev-bind", f"/dev/{name}", f"/dev/{name}"]
        args += ["--symlink", "/proc/self/fd", "/dev/fd"]
        for number, name in enumerate(("stdin", "stdout", "stderr")):
            args += ["--symlink", f"/proc/self/fd/{number}", f"/dev/{name}"]
        args += [
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
        binds, ops = self._staged()
        # bwrap would create these 0700, unreadable for the sandbox uid (FACTS.md).
        args += ["--perms", "0755", "--dir", STAGE, "--perms", "0755", "--dir", OPT]
        for host, inside in binds:
            args += ["--ro-bind", host, inside]
        if block_fd is not None:
            args += ["--userns-block-fd", str(block_fd)]
        if seccomp_fd is not None:
            args += ["--seccomp", str(seccomp_fd)]
        env, worker_env = self.environment(), {}
        if not self.layout.base_in_usr:
            # The set-up step runs the interpreter from the stage, with its libpython there;
            # it hands the worker the one under /opt.
            worker_env["LD_LIBRARY_PATH"] = env["LD_LIBRARY_PATH"]
            env["LD_LIBRARY_PATH"] = f"{STAGE}/python/lib"
        args += ["--chdir", HOME, "--clearenv"]
        for name, value in env.items():
            args += ["--setenv", name, value]
        # The set-up step mounts (CAP_SYS_ADMIN, in the sandbox's own namespaces only), then
        # execs the zygote, which keeps these capabilities (in those namespaces only) to write
        # each child's id maps (SETFCAP: a map that holds root); it runs no learner code. Each
        # child drops every capability, the bounding set and its groups, and switches to the
        # sandbox uid, before its worker runs anything (worker.py ``become_unprivileged``).
        caps = ["CAP_SYS_ADMIN", "CAP_SETPCAP", "CAP_SETUID", "CAP_SETGID", "CAP_SETFCAP"]
        args += ["--cap-drop", "ALL"]
        for cap in caps:
            args += ["--cap-add", cap]
        worker = [self.layout.python, "-I", "-B", WORKER, config]
        stage_python = self.layout.interpreter
        if not self.layout.base_in_usr:
            stage_python = stage_python.replace(PYTHON_HOME, f"{STAGE}/python", 1)
        setup = json.dumps({"ops": ops, "env": worker_env})
        script = f"{STAGE}/top{WORKER}"
        command = [stage_python, "-I", "-S", "-B", script, "--setup", setup, "--", *worker]
        nice = ["/usr/bin/nice", "-n", str(s.spawn_niceness)] if s.spawn_niceness else []
        return [*nice, *args, "--", *command]

    def spawn(self) -> SandboxProcess:
        """Start a zygote's sandbox (blocks for a few milliseconds)."""
        if not self.stage.intact():
            self.stage = Stage(self.layout, self.worker_script)
        return SandboxProcess.start(self)


def _memfd(name: str, data: bytes) -> int:
    fd = os.memfd_create(name, os.MFD_CLOEXEC)
    os.write(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _pipe() -> tuple[int, int]:
    read, write = os.pipe2(os.O_CLOEXEC)
    return read, write


@dataclass
class SandboxProcess:
    """One running zygote sandbox (bwrap, its init, and the zygote in it). The pool owns it and
    must call ``kill()`` and ``wait()``; ``zygote.Zygote`` speaks to the zygote."""

    popen: subprocess.Popen[bytes]
    init_pid: int  # the sandbox's pid 1 (as the host sees it): the zygote is its child
    init_pidfd: int | None  # killing it ends everything inside
    requests: socket.socket  # to the zygote: one message per child, with the child's pipes
    report: int  # read ends: the zygote's events, and its start-up noise
    diag: int
    info: int  # kept open: bwrap writes more to it later, and dies of SIGPIPE if nobody reads
    _reaped: tuple[int, float] | None = None  # (wait status, peak RSS of the tree in MiB)

    @classmethod
    def start(cls, sandbox: Sandbox) -> SandboxProcess:
        requests, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        requests.setblocking(False)  # a zygote that stopped reading fails a fork, not the loop
        report_r, report_w = _pipe()
        diag_r, diag_w = _pipe()
        info_r, info_w = _pipe()
        block_r, block_w = _pipe() if sandbox.as_root else (None, None)
        seccomp_fd = None
        if sandbox.sandbox_filter:
            seccomp_fd = _memfd("tutor-seccomp", sandbox.sandbox_filter)
        argv = sandbox.argv(
            sandbox.zygote_config(report_w, theirs.fileno()),
            info_fd=info_w,
            block_fd=block_r,
            seccomp_fd=seccomp_fd,
        )
        # bwrap reads its options from this fd: they name host paths, and its command line is
        # the sandbox's /proc/1/cmdline. The command after "--" names only sandbox paths.
        at, end = argv.index(sandbox.bwrap) + 1, argv.index("--")
        args_fd = _memfd("tutor-bwrap-args", b"".join(a.encode() + b"\0" for a in argv[at:end]))
        argv = [*argv[:at], "--args", str(args_fd), *argv[end:]]
        passed = [
            fd
            for fd in (report_w, theirs.fileno(), info_w, block_r, seccomp_fd, args_fd)
            if fd is not None
        ]
        try:
            popen = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=diag_w,
                stderr=diag_w,
                pass_fds=passed,
                env={"PATH": PATH},  # bwrap itself does not need, or get, the bot's environment
                close_fds=True,
            )
        finally:
            theirs.close()
            for fd in [*passed, diag_w]:
                with contextlib.suppress(OSError):
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
            requests.close()
            for fd in (report_r, diag_r, info_r):
                os.close(fd)
            raise SandboxUnavailable(f"the sandbox did not start: {exc}") from exc
        finally:
            if block_w is not None:
                os.close(block_w)  # end of file unblocks bwrap: the id maps are written
        return cls(popen, init_pid, init_pidfd, requests, report_r, diag_r, info_r)

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
            exited: asyncio.Future[None] = loop.create_future()

            def wake() -> None:
                if not exited.done():
                    exited.set_result(None)

            loop.add_reader(pidfd, wake)
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

    def close(self) -> None:
        self.requests.close()
        for fd in (self.report, self.diag, self.info, self.init_pidfd):
            if fd is not None and fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.init_pidfd = None
        self.report = self.diag = self.info = -1


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
