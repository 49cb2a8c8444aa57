"""Seccomp filters for the sandbox, compiled with libseccomp (ctypes; Debian's ``libseccomp2``).

A layer on top of the namespaces, not instead of them: when libseccomp is missing the sandbox
still isolates, and the runner logs that this layer is off. Two programs:

- ``sandbox_filter()``, loaded by bubblewrap before the worker starts: no sockets but Unix ones,
  no new namespaces or mounts, no ptrace, keyrings, BPF, perf, userfaultfd, io_uring or modules.
  TensorFlow imports, builds and trains under it (FACTS.md).
- ``exec_filter()``, installed by the worker itself right before the snippet: no execve, so
  the learner's code cannot start a shell or any other program.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import functools
import os

SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_CMP_NE = 1
SCMP_CMP_MASKED_EQ = 7
AF_UNIX = 1
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
    "mount", "umount2", "pivot_root", "chroot", "unshare", "setns",
    "move_mount", "open_tree", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
    "keyctl", "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd",
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load",
    "open_by_handle_at", "name_to_handle_at", "fanotify_init", "syslog", "acct",
    "swapon", "swapoff", "reboot", "quotactl", "vhangup", "personality",
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


@functools.cache
def sandbox_filter() -> bytes:
    f = _Filter()
    for name in _DENIED:
        f.deny(name)
    f.deny("socket", errno.EPERM, (0, SCMP_CMP_NE, AF_UNIX, 0))
    for flag in _NAMESPACE_FLAGS:
        f.deny("clone", errno.EPERM, (0, SCMP_CMP_MASKED_EQ, flag, flag))
    # clone3 passes its flags in memory, where seccomp cannot look: ENOSYS makes glibc fall
    # back to clone(), whose flags the rules above can see.
    f.deny("clone3", errno.ENOSYS)
    return f.export()


@functools.cache
def exec_filter() -> bytes:
    f = _Filter()
    f.deny("execve")
    f.deny("execveat")
    return f.export()
