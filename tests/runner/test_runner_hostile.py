"""One test per attack or limit, against the real sandbox and real TensorFlow (no mocks).

Each asserts that the run was contained and that the result says what happened. The tests do not
wait for the pool to refill after each attack (every worker is single-use, so that is a fresh
TensorFlow import each time): the next test simply queues for a worker, and the last test checks
that after all of them every worker came back warm and the pool still serves.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import sqlite3
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from bot.runner.pool import Runner
from bot.runner.result import RunResult, Status
from tests.runner.helpers import PLANTED_DB_URL, PLANTED_TOKEN, TEST_LIMITS

pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="session")]

PROJECT = Path(__file__).resolve().parents[2]
# Reads the worker's report channel (its control fd) from the worker's own command line.
CONTROL_FD = (
    "import json\n"
    'config = json.loads(open("/proc/self/cmdline", "rb").read().split(b"\\0")[-2])\n'
    'control = config["fds"]["control"]\n'
)


# What must never reach a terminal: C0 controls but tab and newline, DEL, C1, bidi marks.
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


async def run(runner: Runner, code: str) -> RunResult:
    return await runner.run(textwrap.dedent(code), user=f"attacker-{uuid.uuid4().hex[:6]}")


async def test_busy_loop_hits_the_cpu_limit(runner: Runner):
    result = await run(runner, "while True:\n    pass\n")
    assert result.status is Status.TIMEOUT
    assert result.limit is not None and result.limit.name == "cpu_time_s"
    assert result.limit.value == TEST_LIMITS.cpu_time_s
    assert result.explanation and "time limit" in result.explanation


async def test_busy_loop_that_ignores_sigxcpu_still_ends_at_the_cpu_limit(runner: Runner):
    # The hard limit, a second later, kills (SIGKILL): the CPU time used says why.
    result = await run(
        runner,
        """
        import signal
        signal.signal(signal.SIGXCPU, signal.SIG_IGN)
        while True:
            pass
        """,
    )
    assert result.status is Status.TIMEOUT
    assert result.limit is not None and result.limit.name == "cpu_time_s"


async def test_sleeping_past_the_wall_clock():
    limits = TEST_LIMITS.model_copy(update={"workers": 1, "wall_timeout_s": 3})
    async with Runner(limits, spawn_limit=1) as alone:
        result = await run(alone, "import time\nprint('before')\ntime.sleep(600)\n")
    assert result.status is Status.TIMEOUT
    assert result.limit is not None and result.limit.name == "wall_timeout_s"
    assert result.stdout == "before\n"  # what it printed before it was stopped is kept
    assert result.duration_s == limits.wall_timeout_s


async def test_memory_bomb(runner: Runner):
    result = await run(
        runner,
        """
        blocks = []
        while True:
            blocks.append(bytearray(64 * 1024 * 1024))
        """,
    )
    assert result.status is Status.MEMORY_LIMIT
    assert result.exception is not None and result.exception.type == "MemoryError"
    assert result.limit is not None and result.limit.name == "memory_mb"
    assert result.explanation and "memory" in result.explanation


async def test_tensorflow_allocation_beyond_the_limit():
    # TensorFlow's allocator retries for ~10 s before it raises: a longer wall clock here.
    limits = TEST_LIMITS.model_copy(update={"workers": 1, "wall_timeout_s": 90})
    async with Runner(limits, spawn_limit=1) as alone:
        result = await run(alone, "import tensorflow as tf\nx = tf.zeros((60000, 60000))\n")
    assert result.status is Status.MEMORY_LIMIT
    assert result.exception is not None and result.exception.type == "ResourceExhaustedError"
    assert result.exception is not None and result.exception.line == 2


async def test_fork_bomb(runner: Runner):
    result = await run(runner, "import os\nwhile True:\n    os.fork()\n")
    assert result.status is Status.ERROR
    # One process per sandbox (seccomp; docs/runner.md, "Memory"): the first fork is refused.
    assert result.exception is not None and result.exception.type == "PermissionError"
    assert result.exception.line == 3


async def test_thread_bomb(runner: Runner):
    result = await run(
        runner,
        """
        import threading, time
        while True:
            threading.Thread(target=time.sleep, args=(600,), daemon=True).start()
        """,
    )
    assert result.status is Status.ERROR
    assert result.exception is not None and result.exception.type == "RuntimeError"
    assert result.limit is not None and result.limit.name == "max_processes"


async def test_output_flood(runner: Runner):
    result = await run(runner, "while True:\n    print('flood ' * 100)\n")
    assert result.status is Status.OUTPUT_LIMIT
    assert result.limit is not None and result.limit.value == TEST_LIMITS.output_limit_bytes
    assert 0 < len(result.stdout) <= TEST_LIMITS.output_limit_bytes
    assert any("cut" in note for note in result.notes)


async def test_filling_tmp_stops_at_the_tmpfs_size(runner: Runner):
    marker = f"fill-{uuid.uuid4().hex}"
    result = await run(
        runner,
        f"""
        for i in range(1000):
            with open(f"/tmp/{marker}-{{i}}", "wb") as f:
                f.write(bytes(2 * 1024 * 1024))
        """,
    )
    assert result.status is Status.MEMORY_LIMIT  # tmpfs files are memory
    assert result.exception is not None and result.exception.type == "OSError"
    assert "No space left on device" in result.exception.message
    assert result.limit is not None and result.limit.name == "tmpfs_mb"
    assert result.explanation and "/tmp" in result.explanation
    assert not list(Path("/tmp").glob(f"{marker}*"))  # noqa: ASYNC240 (host's /tmp untouched)


async def test_one_file_larger_than_the_file_size_limit(runner: Runner):
    result = await run(runner, "open('/tmp/big', 'wb').write(bytes(6 * 1024 * 1024))\n")
    assert result.status is Status.ERROR
    assert result.exception is not None and "File too large" in result.exception.message
    assert result.limit is not None and result.limit.name == "file_size_mb"


async def test_reading_stdin_gets_end_of_file(runner: Runner):
    result = await run(runner, "import sys\nprint(repr(sys.stdin.read()))\ninput()\n")
    assert result.stdout == "''\n"
    assert result.exception is not None and result.exception.type == "EOFError"
    assert result.exception.line == 3


async def test_connecting_to_a_listener_on_the_host(runner: Runner):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        result = await run(
            runner,
            f"""
            import socket
            socket.create_connection(("127.0.0.1", {port}), timeout=3)
            """,
        )
        listener.settimeout(0.5)
        with pytest.raises(TimeoutError):
            listener.accept()  # nothing ever reached it
    assert result.status is Status.ERROR
    assert result.exception is not None and result.exception.type == "PermissionError"


async def test_environment_holds_no_secret(runner: Runner):
    assert os.environ["DISCORD_TOKEN"] == PLANTED_TOKEN  # the bot has it...
    result = await run(
        runner,
        """
        import glob, os
        print(dict(os.environ))
        for path in glob.glob("/proc/*/environ"):
            try:
                print(path, open(path, "rb").read())
            except OSError as exc:
                print(path, type(exc).__name__)
        """,
    )
    assert result.status is Status.OK
    assert "/proc/1/environ" in result.stdout  # it did look
    for secret in (PLANTED_TOKEN, PLANTED_DB_URL, "DISCORD_TOKEN", "TUTOR_"):
        assert secret not in result.stdout  # ...the sandbox does not


async def test_database_and_project_tree_are_not_visible(runner: Runner, tmp_path: Path):
    database = tmp_path / "tutor.db"
    with sqlite3.connect(database) as db:
        db.execute("create table t (secret text)")
        db.execute("insert into t values ('learner-data-3e1d')")
    targets = [
        str(database),
        str(PROJECT / "bot" / "settings.py"),
        str(PROJECT / "content" / "seed.yaml"),
        str(PROJECT / "pyproject.toml"),
    ]
    result = await run(
        runner,
        f"""
        import os
        for path in {targets!r}:
            try:
                open(path, "rb").read()
                print("READ", path)
            except OSError as exc:
                print("refused", type(exc).__name__)
        print("listing", os.path.exists({str(PROJECT)!r}), sorted(os.listdir("/")))
        """,
    )
    assert "READ" not in result.stdout
    assert result.stdout.count("refused FileNotFoundError") == len(targets)
    assert "listing False" in result.stdout
    assert "learner-data" not in result.stdout


async def test_writing_outside_the_sandbox(runner: Runner):
    name = f"escape-{uuid.uuid4().hex}"
    places = ["/usr", "/opt/venv", "/opt/tutor", "/", "/etc", str(PROJECT), "/proc/1"]
    result = await run(
        runner,
        f"""
        for place in {places!r}:
            try:
                open(place + "/{name}", "w").write("x")
                print("WROTE", place)
            except OSError as exc:
                print("refused", place, type(exc).__name__)
        """,
    )
    assert "WROTE" not in result.stdout
    assert result.stdout.count("refused") == len(places)
    assert not [p for p in ["/usr", "/", "/etc", str(PROJECT)] if Path(p, name).exists()]  # noqa: ASYNC240


async def test_killing_the_parent(runner: Runner):
    result = await run(
        runner,
        """
        import os, signal
        for target in (os.getppid(), 1, -1):
            try:
                os.kill(target, signal.SIGKILL)
                print("sent", target)
            except OSError as exc:
                print("refused", target, type(exc).__name__)
        print("still here, parent", os.getppid())
        """,
    )
    # In its own pid namespace the snippet sees only the sandbox: its parent is the sandbox's
    # init (pid 1, not its uid), and the bot is out of reach altogether.
    assert result.status is Status.OK
    assert "refused 1 PermissionError" in result.stdout
    assert "still here, parent 1" in result.stdout
    assert os.getppid() > 1  # and this test process, the "bot", is alive to check


async def test_ctypes_segfault(runner: Runner):
    result = await run(runner, "import ctypes\nctypes.string_at(0)\n")
    assert result.status is Status.CRASHED and result.limit is None
    assert result.notes == (
        "The Python process running the snippet stopped: it crashed with a segmentation fault "
        "(SIGSEGV): native code, such as ctypes, touched memory it does not own.",
    )
    assert "Segmentation fault" in result.stderr  # faulthandler's report, with the line
    assert 'File "<snippet>", line 2' in result.stderr


async def test_killed_from_outside_is_a_crash_not_the_cpu_limit(runner: Runner):
    # What an OOM kill looks like from here: SIGKILL, with the CPU time barely touched.
    result = await run(runner, "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n")
    assert result.status is Status.CRASHED and result.limit is None
    assert len(result.notes) == 1 and "killed (SIGKILL)" in result.notes[0]
    assert "out of memory" in result.notes[0]


@pytest.mark.parametrize(
    "code, exit_code",
    [
        ("import os\nos._exit(255)\n", 255),  # 128 + 127: no such signal
        ("import os\nos._exit(137)\n", 137),  # 128 + SIGKILL: the worker's report decides
        ("import ctypes\nctypes.CDLL(None)._exit(200)\n", 200),  # past the worker's report
    ],
    ids=["255", "137", "libc-200"],
)
async def test_exit_codes_are_not_signals(runner: Runner, code: str, exit_code: int):
    result = await run(runner, code)
    assert result.status is Status.CRASHED and result.limit is None
    assert result.notes == (
        f"The Python process running the snippet stopped: it exited with code {exit_code} "
        "before the snippet finished (os._exit() or native code).",
    )


async def test_a_process_that_stops_reporting_but_lives_on(runner: Runner):
    result = await run(runner, CONTROL_FD + "import os, time\nos.close(control)\ntime.sleep(600)\n")
    assert result.status is Status.CRASHED and result.limit is None
    assert any("stopped reporting" in note for note in result.notes)


async def test_a_long_exception_class_name_is_still_the_snippets_exception(runner: Runner):
    name = "Very" + "Long" * 100 + "Error"
    result = await run(runner, f"class {name}(Exception):\n    pass\nraise {name}('too long')\n")
    assert result.status is Status.ERROR
    assert result.exception is not None and result.exception.message == "too long"
    assert result.exception.type.startswith("VeryLongLong") and len(result.exception.type) == 200
    assert result.exception.line == 3 and not result.notes


async def test_spawning_a_shell(runner: Runner):
    result = await run(
        runner,
        """
        import os, subprocess
        print("system:", os.system("echo pwned"))
        subprocess.run(["/bin/sh", "-c", "echo pwned"])
        """,
    )
    assert "pwned" not in result.stdout
    assert result.status is Status.ERROR
    assert result.exception is not None and result.exception.type == "PermissionError"
    assert result.exception.line == 4


async def test_writing_into_the_runners_channel(runner: Runner):
    result = await run(
        runner,
        """
        import json, os, time
        config = json.loads(open("/proc/self/cmdline", "rb").read().split(b"\\0")[-2])
        os.write(config["fds"]["control"], b'{"event": "result", "status": 5}\\n')
        time.sleep(600)
        """,
    )
    assert result.status is Status.CRASHED  # a result, not an exception in the bot
    assert any("channel" in note for note in result.notes)


async def test_flooding_the_runners_channel_costs_other_users_nothing(runner: Runner):
    await runner.wait_idle(within_s=300)  # both workers warm: the two runs share the machine
    flood = CONTROL_FD + "import os\nwhile True:\n    os.write(control, b'x' * 65536)\n"
    lags: list[float] = []

    async def measure_lag() -> None:
        while True:
            before = time.monotonic()
            await asyncio.sleep(0.02)
            lags.append(time.monotonic() - before - 0.02)

    ticker = asyncio.create_task(measure_lag())
    try:
        flooded, other = await asyncio.gather(
            run(runner, flood),
            runner.run("import tensorflow as tf\nprint(int(tf.constant(2) * 21))\n", "bystander"),
        )
        # Both can be back within one tick on a quiet machine: let the ticker take its sample.
        await asyncio.sleep(0.1)
    finally:
        ticker.cancel()
    assert flooded.status is Status.CRASHED  # not the wall clock, nor the CPU limit
    assert any("channel" in note for note in flooded.notes)
    assert other.status is Status.OK and other.stdout == "42\n"
    # A loop kept busy shows as lags of seconds; scheduling on a busy machine, as milliseconds.
    assert lags and max(lags) < 1.0


async def test_terminal_escapes_from_a_snippet_are_cleaned_everywhere(runner: Runner):
    escapes = "\\x1b[2J\\x9b31m\\x85\\u202e\\u2066\\u200f\\u061c\\x07"
    result = await run(
        runner,
        f"""
        import tensorflow as tf

        class Shaped(tf.keras.Sequential):
            @property
            def output_shape(self):
                return "(None, 5){escapes}"

        globals()["model{escapes}"] = Shaped([tf.keras.Input((4,)), tf.keras.layers.Dense(5)])
        print("out{escapes}put\\tkept\\nnext line")
        raise type("Bad{escapes}Error", (Exception,), {{}})("message{escapes}")
        """,
    )
    assert result.status is Status.ERROR
    assert result.stdout == "output\tkept\nnext line\n"  # escapes gone, tabs and newlines kept
    assert result.exception is not None and result.exception.type == "BadError"
    assert result.exception.message == "message"
    assert [(m.name, m.output_shape) for m in result.models] == [("model", "(None, 5)")]
    for text in (result.render(), result.stderr, *result.notes):
        assert not UNSAFE.search(text), repr(text)


async def test_the_pool_still_serves_after_every_attack(runner: Runner):
    # Every attack above used up a worker; all of them must have come back warm.
    await runner.wait_idle(within_s=300)
    assert runner.stats()["running"] == 0 and runner.health().state == "ok"
    result = await run(runner, "import tensorflow as tf\nprint(int(tf.constant(20) + 22))\n")
    assert result.status is Status.OK and result.stdout == "42\n"
