"""The sandbox's isolation layer against the real sandbox and real TensorFlow (no mocks).

- Memory: every route by which a snippet could hold memory that RLIMIT_AS does not count is
  either closed or capped (docs/runner.md, "Memory"). One probe snippet tries to hold twice
  ``memory_mb`` through each route in turn, releases it, and reports how much it held; each route
  is its own test below.
- No exec on any thread: the worker's filter is on every thread, TensorFlow's pool threads
  included, in a warm worker.
- No host path: nothing a snippet can read names the project directory, the host's Python prefix
  or the host's home directory.
- TensorFlow, Keras and numpy still work under all of it.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import textwrap
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from bot.runner.pool import Runner
from bot.runner.result import RunResult, Status
from bot.runner.sandbox import DEV_SHM_BYTES, DEV_SHM_INODES, TMPFS_INODES_PER_MB
from tests.runner.helpers import TEST_LIMITS

pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="session")]

PROJECT = Path(__file__).resolve().parents[2]
# Generous clocks: these snippets do real work, and the machine may be busy with other tests.
LIMITS = TEST_LIMITS.model_copy(
    update={
        "workers": 1,
        "wall_timeout_s": 180,
        "cpu_time_s": 120,
        "open_files": 256,
        "output_limit_bytes": 4 * 1024 * 1024,  # the host-path test prints what it read
    }
)
MIB = 1024 * 1024
TARGET = 2 * LIMITS.memory_mb * MIB  # what each route tries to hold
# Bounds in MiB, from docs/runner.md's table; 0 for a route that is closed.
TMPFS_MB = 2 * LIMITS.tmpfs_mb  # /tmp and the home directory
INODES = 2 * LIMITS.tmpfs_mb * TMPFS_INODES_PER_MB
PIPES_MB = LIMITS.open_files * 64 / 1024  # 16 pages per pipe, one descriptor each
SHM_MB = DEV_SHM_BYTES / MIB  # /dev/shm, for POSIX semaphores (multiprocessing's locks)
ROUTES = {
    "sysv_shm": 0,
    "sysv_msg": 0,
    "sysv_sem": 0,
    "posix_mq": 0,
    "posix_shm": SHM_MB,
    "memfd": 0,
    "processes": 0,
    "sockets": 0,
    "splice": 0,
    "inotify": 0,
    "aio": 0,
    "ptys": 0,
    "file_locks": 0,
    "pipes": PIPES_MB,
    "tmpfs_files": TMPFS_MB + SHM_MB,
    # an inode, its dentry and name: ~1.5 KiB at most
    "tmpfs_inodes": (INODES + DEV_SHM_INODES) * 1.5 / 1024,
    "timers": 256 * 0.5 / 1024,  # RLIMIT_SIGPENDING timers, ~0.5 KiB each
}

# Each route holds as much as it can, up to TARGET, counting what it holds in HELD; it stops at
# the first refusal (which the report names), then lets everything go.
PROBE = r"""
import ctypes, errno, fcntl, json, mmap, os, socket, time
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
libc.syscall.restype = ctypes.c_long
TARGET = __TARGET__
CHUNK = 64 * 1024 * 1024
HELD = [0]


def got(n):
    HELD[0] += n


def more():
    return HELD[0] < TARGET


def check(rc, what):
    if rc is None or rc < 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")
    return rc


def sysv_shm():
    ids = []
    try:
        while more():
            ids.append(check(libc.shmget(0, CHUNK, 0o1600), "shmget"))  # IPC_PRIVATE|CREAT
            addr = libc.shmat(ids[-1], None, 0)
            check(-1 if addr in (None, 2**64 - 1) else 0, "shmat")
            ctypes.memset(addr, 1, CHUNK)
            libc.shmdt(ctypes.c_void_p(addr))  # RLIMIT_AS counted it only while attached
            got(CHUNK)
    finally:
        for i in ids:
            libc.shmctl(i, 0, None)  # IPC_RMID


def sysv_msg():
    class Msg(ctypes.Structure):
        _fields_ = [("mtype", ctypes.c_long), ("text", ctypes.c_char * 8192)]
    ids, msg = [], Msg(1, b"x" * 8192)
    try:
        while more():
            ids.append(check(libc.msgget(0, 0o1600), "msgget"))
            while libc.msgsnd(ids[-1], ctypes.byref(msg), 8192, 0o4000) == 0:  # IPC_NOWAIT
                got(8192)
    finally:
        for i in ids:
            libc.msgctl(i, 0, None)


def sysv_sem():
    ids = []
    try:
        while more():
            ids.append(check(libc.semget(0, 32000, 0o1600), "semget"))
            got(32000 * 64)  # the kernel's struct sem, per semaphore
    finally:
        for i in ids:
            libc.semctl(i, 0, 0)


def posix_mq():
    names = []
    try:
        while more():
            names.append(f"/probe{len(names)}".encode())
            flags = os.O_CREAT | os.O_RDWR | os.O_NONBLOCK
            q = check(libc.mq_open(names[-1], flags, 0o600, None), "mq_open")
            while libc.mq_send(q, b"x" * 8192, 8192, 0) == 0:
                got(8192)
    finally:
        for name in names:
            libc.mq_unlink(name)


def posix_shm():
    # libc's shm_open itself: Python's SharedMemory also starts a resource tracker (a fork).
    names = []
    try:
        while more():
            names.append(f"/probe{len(names)}".encode())
            flags = os.O_CREAT | os.O_RDWR
            fd = check(libc.shm_open(names[-1], flags, 0o600), "shm_open")
            try:
                while more():
                    got(os.write(fd, b"\x01" * CHUNK))
            finally:
                os.close(fd)
    finally:
        for name in names:
            libc.shm_unlink(name)


def memfd():
    fds, chunk = [], b"\x01" * (1024 * 1024)
    try:
        while more():
            fds.append(os.memfd_create("probe"))
            try:
                while more():
                    got(os.write(fds[-1], chunk))
            except OSError as exc:  # this one is full (RLIMIT_FSIZE): the next one
                if exc.errno != errno.EFBIG:
                    raise
    finally:
        for fd in fds:
            os.close(fd)


def processes():
    children, share = [], 512 * 1024 * 1024
    try:
        while more():
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:  # each child has an address space, and an RLIMIT_AS, of its own
                try:
                    block = bytearray(share)
                    for i in range(0, share, 4096):
                        block[i] = 1
                    os.write(w, b"1")
                    time.sleep(600)
                finally:
                    os._exit(0)
            children.append(pid)
            os.close(w)
            ok = os.read(r, 1) == b"1"
            os.close(r)
            if not ok:
                raise OSError(errno.ENOMEM, "a child could not allocate")
            got(share)
    finally:
        for pid in children:
            os.kill(pid, 9)
            os.waitpid(pid, 0)


def sockets():
    socks = []
    try:
        while more():
            socks += socket.socketpair()
            for s in socks[-2:]:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024 * 1024)
                s.setblocking(False)
                try:
                    while True:
                        got(s.send(b"x" * 65536))
                except BlockingIOError:
                    pass
    finally:
        for s in socks:
            s.close()


def splice():
    r, w = os.pipe()
    try:
        page = mmap.mmap(-1, 4096)
        iov = (ctypes.c_void_p * 2)(ctypes.addressof(ctypes.c_char.from_buffer(page)), 4096)
        got(check(libc.vmsplice(w, iov, 1, 0), "vmsplice"))
    finally:
        os.close(r)
        os.close(w)


def inotify():
    os.close(check(libc.inotify_init1(0), "inotify_init1"))
    got(1)


def aio():
    ctx = ctypes.c_ulong(0)
    check(libc.syscall(206, 4096, ctypes.byref(ctx)), "io_setup")  # x86_64
    got(4096 * 32)
    libc.syscall(207, ctx)  # io_destroy


def ptys():
    fds = []
    try:
        while more():
            master, slave = os.openpty()
            fds += [master, slave]
            os.set_blocking(master, False)
            try:
                while True:
                    got(os.write(master, b"x" * 4096))
            except BlockingIOError:
                pass
    finally:
        for fd in fds:
            os.close(fd)


def pipes():
    fds = []
    try:
        while more():
            r, w = os.pipe()
            fds.append(r)
            try:
                fcntl.fcntl(w, 1031, 1024 * 1024)  # F_SETPIPE_SZ
            except OSError:
                pass  # it keeps its default size
            os.set_blocking(w, False)
            try:
                while True:
                    got(os.write(w, b"x" * 65536))
            except BlockingIOError:
                pass
            os.close(w)  # the read end alone keeps the data
    finally:
        for fd in fds:
            os.close(fd)


def tmpfs_files():
    made, chunk = [], b"\x01" * (1024 * 1024)
    try:
        for place in ("/tmp", os.path.expanduser("~"), "/dev/shm", "/dev", "/", "/opt"):
            try:
                while more():
                    made.append(os.path.join(place, f"probe-{len(made)}"))
                    with open(made[-1], "wb") as f:
                        for _ in range(2):
                            f.write(chunk)
                            f.flush()
                            got(len(chunk))
            except OSError:
                pass  # full, or not writable: the next place
    finally:
        for path in made:
            try:
                os.unlink(path)
            except OSError:
                pass


def tmpfs_inodes():
    made = []
    try:
        for place in ("/tmp", os.path.expanduser("~")):
            d = os.open(place, os.O_RDONLY)
            try:
                while len(made) < 500_000:
                    made.append((d, f"i{len(made)}"))
                    os.close(os.open(made[-1][1], os.O_CREAT | os.O_WRONLY, dir_fd=d))
                    got(1024)  # reported in KiB per inode
            except OSError as exc:
                made.pop()
                if exc.errno != errno.ENOSPC:
                    raise
    finally:
        for d, name in made:
            os.unlink(name, dir_fd=d)


def file_locks():
    fds = [os.open(f"/tmp/lock{i}", os.O_CREAT | os.O_RDWR) for i in range(200)]
    started, n = time.monotonic(), 0
    try:
        while more() and time.monotonic() - started < 10:  # each lock costs ~0.2 KiB
            for fd in fds:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 2 * n)
                got(192)
            n += 1
    finally:
        for i, fd in enumerate(fds):
            os.close(fd)
            os.unlink(f"/tmp/lock{i}")


def timers():
    timer = ctypes.c_void_p()
    while HELD[0] < 100_000 * 512:
        check(libc.timer_create(1, None, ctypes.byref(timer)), "timer_create")
        got(512)


for route in __ROUTES__:
    HELD[0], note, started = 0, "", time.monotonic()
    try:
        globals()[route]()
    except Exception as exc:
        note = f"{type(exc).__name__}: {exc}"
    print(json.dumps({"route": route, "held_mb": HELD[0] / 2**20, "note": note,
                      "s": round(time.monotonic() - started, 2)}), flush=True)
"""


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def pool() -> AsyncIterator[Runner]:
    async with Runner(LIMITS) as runner:
        yield runner


async def run(runner: Runner, code: str) -> RunResult:
    await runner.wait_idle(within_s=300)  # a warm worker (TensorFlow's threads running)
    return await runner.run(textwrap.dedent(code), user=f"isolation-{uuid.uuid4().hex[:6]}")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def held(pool: Runner) -> dict[str, dict[str, object]]:
    code = PROBE.replace("__TARGET__", str(TARGET)).replace("__ROUTES__", repr(list(ROUTES)))
    result = await run(pool, code)
    assert result.status is Status.OK, result.render()
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    return {line["route"]: line for line in lines}


@pytest.mark.parametrize("route", list(ROUTES))
async def test_memory_route_is_closed_or_capped(held: dict[str, dict[str, object]], route: str):
    report = held[route]
    bound = ROUTES[route]
    assert float(report["held_mb"]) <= bound, report  # type: ignore[arg-type]
    assert float(str(report["held_mb"])) * MIB < TARGET / 2
    if bound == 0:
        assert report["note"], report  # refused, and the snippet was told why
    else:
        assert float(str(report["held_mb"])) > 0, report  # open, up to its cap


async def test_creating_files_until_the_inodes_run_out_names_the_tmpfs_limit(pool: Runner):
    result = await run(pool, "for i in range(10**6):\n    open(f'/tmp/f{i}', 'w').close()\n")
    assert result.status is Status.MEMORY_LIMIT  # tmpfs files and inodes are memory
    assert result.exception is not None and "No space left on device" in result.exception.message
    assert result.limit is not None and result.limit.name == "tmpfs_mb"
    assert result.limit.value == LIMITS.tmpfs_mb


EXEC_FROM_THREADS = r"""
import os, threading, tensorflow as tf

before = set(os.listdir("/proc/self/task"))
print("threads before", len(before))
attempts = []

def try_exec(where):
    tid = str(threading.get_native_id())
    try:
        os.execv("/bin/echo", ["/bin/echo", "EXECUTED", where])
    except OSError as exc:
        attempts.append((where, tid, tid in before, type(exc).__name__))
    return 0

@tf.function
def graph(x):
    return tf.py_function(lambda v: v + try_exec("py_function"), [x], tf.float32)

graph(tf.constant(1.0))
ds = tf.data.Dataset.range(8).map(
    lambda i: tf.py_function(lambda j: j + try_exec("tf.data map"), [i], tf.int64),
    num_parallel_calls=4,
)
list(ds.as_numpy_iterator())
thread = threading.Thread(target=try_exec, args=("threading.Thread",))
thread.start()
thread.join()
try_exec("main thread")
for where, tid, existed, refusal in sorted(set(attempts)):
    print("refused", where, "pool thread" if existed else "new thread", refusal)
filters = set()
for tid in os.listdir("/proc/self/task"):
    try:
        with open(f"/proc/self/task/{tid}/status") as f:
            filters |= {line.split()[1] for line in f if line.startswith("Seccomp_filters")}
    except FileNotFoundError:  # a thread that ended since the listing (TensorFlow's come and go)
        pass
print("threads", len(os.listdir("/proc/self/task")), "filters per thread", sorted(filters))
"""


async def test_no_thread_of_a_warm_worker_can_exec(pool: Runner):
    result = await run(pool, EXEC_FROM_THREADS)
    assert "EXECUTED" not in result.stdout, result.render()
    assert result.status is Status.OK, result.render()
    lines = result.stdout.splitlines()
    assert int(lines[0].split()[-1]) >= 3  # warmed: TensorFlow's pool threads already ran
    for where in ("py_function", "tf.data map", "threading.Thread", "main thread"):
        assert any(f"refused {where} " in line and "PermissionError" in line for line in lines)
    # tf.function ran the Python function on a thread that existed before the snippet began.
    assert "refused py_function pool thread PermissionError" in lines
    # Every thread carries the same filters: bubblewrap's and the worker's.
    assert lines[-1].endswith("filters per thread ['2']"), lines[-1]


HOST_PATHS = r"""
import glob, importlib.metadata, json, os, site, sys, sysconfig

seen = {}

def read(path):
    try:
        with open(path, "rb") as f:
            seen[path] = f.read().decode("utf-8", "replace")
    except OSError as exc:
        seen[path] = type(exc).__name__

for path in ("/proc/self/mountinfo", "/proc/1/mountinfo", "/proc/self/maps", "/proc/self/cmdline",
             "/proc/1/cmdline", "/proc/self/environ", "/proc/self/mounts",
             os.path.join(sys.prefix, "pyvenv.cfg")):
    read(path)
for folder in site.getsitepackages() + sys.path:
    for pattern in ("*.pth", "__editable__*", "*.dist-info/direct_url.json"):
        for path in glob.glob(os.path.join(folder, pattern)):
            read(path)
for fd in os.listdir("/proc/self/fd"):
    try:
        seen[f"fd {fd}"] = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        pass
import tensorflow, keras, numpy
seen["python"] = repr([sys.path, sys.prefix, sys.base_prefix, sys.exec_prefix, sys.executable,
                       getattr(sys, "_base_executable", None), sys.meta_path, sys.path_hooks,
                       list(sys.path_importer_cache), os.getcwd(), dict(os.environ),
                       sysconfig.get_paths(), sysconfig.get_config_vars(), site.getsitepackages()])
seen["modules"] = repr([getattr(m, "__file__", None) for m in list(sys.modules.values())])
seen["metadata"] = repr([str(d.locate_file("")) for d in importlib.metadata.distributions()])
seen["listing"] = repr([os.listdir(p) for p in ("/", "/opt", "/.stage") if os.path.isdir(p)])
print(json.dumps(seen))
"""


# The project directory, the host's Python (virtualenv and base installation), the host's home
# directory, and the staging directory the sandbox's /opt is built from.
HOST_MARKERS = {
    str(PROJECT),
    os.path.realpath(sys.prefix),
    os.path.realpath(sys.base_prefix),
    sys.base_prefix,
    str(Path.home()) + "/",
    "tutor-sandbox-",
}


async def test_no_host_path_is_visible_inside(pool: Runner):
    host = HOST_MARKERS
    result = await run(pool, HOST_PATHS)
    assert result.status is Status.OK, result.render()
    seen = json.loads(result.stdout)
    assert "/opt/venv/lib" in seen["/proc/self/maps"]  # it did read what it looked for
    assert len(seen) > 10
    leaks = {(where, marker) for where, text in seen.items() for marker in host if marker in text}
    assert not leaks


TENSORFLOW_AT_WORK = """
import numpy as np, tensorflow as tf, keras

base = keras.applications.MobileNetV2(input_shape=(96, 96, 3), include_top=False, weights=None)
model = keras.Sequential([base, keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(5)])
model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
x = np.random.rand(8, 96, 96, 3).astype("float32")
y = np.random.randint(0, 5, 8)
model.fit(x, y, epochs=1, batch_size=4, verbose=0)
ds = tf.data.Dataset.from_tensor_slices((x, y)).map(
    lambda a, b: (a * 2, b), num_parallel_calls=tf.data.AUTOTUNE).batch(4).prefetch(2)
model.fit(ds, epochs=1, verbose=0)
small = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
small.compile("sgd", "mse", run_eagerly=False)  # graph mode too
small.fit(np.ones((8, 4)), np.ones((8, 2)), verbose=0)
print(model.predict(x[:2], verbose=0).shape, float(np.linalg.det(np.eye(3))))
"""


async def test_tensorflow_keras_and_numpy_work_under_the_filters(pool: Runner):
    result = await run(pool, TENSORFLOW_AT_WORK)
    assert result.status is Status.OK, result.render()
    assert result.stdout == "(2, 5) 1.0\n"
    assert [m.name for m in result.models] == ["base", "model", "small"]


DIVERGED_THREAD = """
import ctypes, sys, threading
from bot.runner import seccomp, worker

program = seccomp.worker_filter()
libc = ctypes.CDLL(None, use_errno=True)
ready, done = threading.Event(), threading.Event()


def diverge():  # this thread alone gets a filter of its own (prctl: the calling thread only)
    class Prog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]

    libc.prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS
    assert libc.prctl(22, 2, ctypes.byref(Prog(len(program) // 8, program)), 0, 0) == 0
    ready.set()
    done.wait()


threading.Thread(target=diverge, daemon=True).start()
ready.wait()
try:
    worker.install_filter(program, seccomp.syscall_number("seccomp"))
    print("installed")
except OSError as exc:
    print("refused:", exc)
"""


async def test_a_filter_that_cannot_reach_every_thread_is_refused():
    # TSYNC needs every thread's filters to be the caller's ancestors; a thread that diverged
    # cannot be synchronised, and the worker must stop rather than run a snippet half-filtered.
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", DIVERGED_THREAD, stdout=asyncio.subprocess.PIPE, cwd=PROJECT
    )
    out, _ = await child.communicate()
    assert out.decode().startswith("refused:"), out
    assert "could not be synchronised" in out.decode()
