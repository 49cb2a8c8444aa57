"""Seccomp filters for the sandbox, compiled with libseccomp (ctypes; Debian's ``libseccomp2``).

A layer on top of the namespaces, not instead of them: when libseccomp is missing the sandbox
still isolates (and the runner logs that this layer is off), but then the memory routes listed
below are no longer closed, which docs/runner.md says. Two programs:

- ``sandbox_filter()``, loaded by bubblewrap before its command starts, so every process and
  thread of the generation (the zygote, its children, every worker) carries it from the first
  instruction. It refuses:
  - ways out: sockets of any kind, ``setns``, ptrace, keyrings, BPF, perf, userfaultfd,
    io_uring, modules, the new mount API;
  - every way to hold memory that RLIMIT_AS (per process) does not count, but other processes:
    SysV shared memory, message queues and semaphores, POSIX message queues, memfd, inotify
    watches, AIO rings, byte-range file locks, pipes grown past their default size, and
    splice/vmsplice/tee (which pin pages, whole huge pages included, into pipes). TensorFlow
    needs none of them (import, build, fit, tf.data, predict: test_runner_isolation.py).
  fork, ``unshare``, ``mount`` and ``umount2`` stay allowed here for the sandbox's set-up, the
  zygote and each child's own namespaces (worker.py), none of which runs learner code.
- ``worker_filter()``, installed by each worker as its first act in its child, while it is the
  only thread (a fresh fork) and before any TensorFlow op, synchronised onto every thread
  (TSYNC) besides: everything above, plus no other process (fork/vfork/clone without
  CLONE_THREAD: each would get its own address space), no ``unshare`` or new namespace, no
  execve (no shell or other program), and no mount or umount2.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import functools
import os

SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_CMP_MASKED_EQ = 7
CLONE_THREAD = 0x10000
F_SETPIPE_SZ = 1031
_RANGE_LOCKS = (6, 7, 37, 38)  # F_SETLK, F_SETLKW, F_OFD_SETLK, F_OFD_SETLKW
# CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET | NEWTIME
_NAMESPACE_FLAGS = (
    0x20000,
    0x02000000,
    0x04000000,
    0x08000000,
    0x10000000,
    0x20000000,
    0x40000000,
    0x80,
)

_DENIED = (
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp",
    "pivot_root", "chroot", "unshare", "setns",
    "move_mount", "open_tree", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
    "keyctl", "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd",
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load",
    "open_by_handle_at", "name_to_handle_at", "fanotify_init", "syslog", "acct",
    "swapon", "swapoff", "reboot", "quotactl", "vhangup", "personality",
    "socket", "socketpair",
)  # fmt: skip

# Memory a process can hold outside its own address space (docs/runner.md, "Memory").
_MEMORY_ROUTES = (
    "shmget", "shmat", "shmdt", "shmctl",  # SysV shared memory: lives on after shmdt
    "msgget", "msgsnd", "msgrcv", "msgctl",  # SysV message queues
    "semget", "semop", "semtimedop", "semctl",  # SysV semaphore sets (up to 32,000 each)
    "mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive", "mq_notify", "mq_getsetattr",
    "memfd_create", "memfd_secret",
    "vmsplice", "splice", "tee",  # pin pages (a whole huge page each) into pipe buffers
    "inotify_init", "inotify_init1",  # a watch pins kernel memory, up to a million per user
    "io_setup",  # AIO rings
)  # fmt: skip


class SeccompUnavailable(RuntimeError):
    pass


class _ArgCmp(ctypes.Structure):
    _fields_ = [
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    ]


def _errno_action(code: int) -> int:
    return 0x00050000 | (code & 0xFFFF)


@functools.cache
def _lib() -> ctypes.CDLL:
    name = ctypes.util.find_library("seccomp") or "libseccomp.so.2"
    try:
        lib = ctypes.CDLL(name, use_errno=True)
    except OSError as exc:
        message = f"libseccomp not found ({exc}): apt-get install libseccomp2"
        raise SeccompUnavailable(message) from exc
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.argtypes = [
        ctypes.c_void_p,
        ctypes.c_uint32,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.POINTER(_ArgCmp),
    ]
    lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    return lib


class _Filter:
    def __init__(self) -> None:
        self.lib = _lib()
        self.ctx = self.lib.seccomp_init(SCMP_ACT_ALLOW)
        if not self.ctx:
            raise SeccompUnavailable("seccomp_init failed")

    def deny(
        self, name: str, code: int = errno.EPERM, *conditions: tuple[int, int, int, int]
    ) -> None:
        number = self.lib.seccomp_syscall_resolve_name(name.encode())
        if number < 0:  # not a syscall on this architecture
            return
        args = (_ArgCmp * max(1, len(conditions)))(*(_ArgCmp(*c) for c in conditions))
        rc = self.lib.seccomp_rule_add_array(
            self.ctx, _errno_action(code), number, len(conditions), args
        )
        if rc < 0:
            raise SeccompUnavailable(f"seccomp rule for {name} failed: {os.strerror(-rc)}")

    def export(self) -> bytes:
        read, write = os.pipe()
        try:
            rc = self.lib.seccomp_export_bpf(self.ctx, write)
            os.close(write)
            if rc < 0:
                raise SeccompUnavailable(f"seccomp_export_bpf failed: {os.strerror(-rc)}")
            chunks = []
            while chunk := os.read(read, 65536):
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            os.close(read)
            self.lib.seccomp_release(self.ctx)


def syscall_number(name: str) -> int:
    """The number of a syscall on this architecture (the worker calls seccomp(2) directly)."""
    number = _lib().seccomp_syscall_resolve_name(name.encode())
    if number < 0:
        raise SeccompUnavailable(f"no {name} syscall on this architecture")
    return int(number)


def _add_rules(f: _Filter, *, processes: bool) -> None:
    """The rules both filters share; with ``processes`` also no second process and no new
    namespace (the worker's), without them what the zygote and its children's set-up need."""
    for name in _DENIED:
        if processes or name != "unshare":
            f.deny(name)
    for name in _MEMORY_ROUTES:
        f.deny(name)
    if processes:
        # One process per sandbox: RLIMIT_AS bounds each process, so every other one would add
        # its own address space. Threads (CLONE_THREAD) share the one address space.
        for name in ("fork", "vfork"):
            f.deny(name)
        f.deny("clone", errno.EPERM, (0, SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0))
    for flag in _NAMESPACE_FLAGS:
        f.deny("clone", errno.EPERM, (0, SCMP_CMP_MASKED_EQ, flag, flag))
    # The kernel reads fcntl's command as a 32-bit int: compare only the low 32 bits (set high
    # ones must not hide it). A pipe keeps 16 pages at most (64 KiB): no F_SETPIPE_SZ up to
    # 1 MiB. No byte-range locks: the kernel does not count them (a quarter of a million, 50
    # MiB, in 25 s over 240 files); flock() stays, one lock per open file (HDF5 uses it).
    f.deny("fcntl", errno.EPERM, (1, SCMP_CMP_MASKED_EQ, 0xFFFFFFFF, F_SETPIPE_SZ))
    for command in _RANGE_LOCKS:
        f.deny("fcntl", errno.ENOLCK, (1, SCMP_CMP_MASKED_EQ, 0xFFFFFFFF, command))
    # clone3 passes its flags in memory, where seccomp cannot look: ENOSYS makes glibc fall
    # back to clone(), whose flags the rules above can see.
    f.deny("clone3", errno.ENOSYS)


@functools.cache
def sandbox_filter() -> bytes:
    """Loaded by bubblewrap for the whole generation (the zygote and every child): all but
    fork and unshare, which the zygote and each child's own set-up need."""
    f = _Filter()
    _add_rules(f, processes=False)
    return f.export()


@functools.cache
def worker_filter() -> bytes:
    """Installed by each worker before any TensorFlow op or learner code: every rule, no
    second process or namespace, and no exec or mount."""
    f = _Filter()
    _add_rules(f, processes=True)
    for name in ("execve", "execveat", "mount", "umount2"):
        f.deny(name)
    return f.export()
