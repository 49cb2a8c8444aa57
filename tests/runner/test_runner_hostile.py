"""One test per attack or limit, against the real sandbox and real TensorFlow (no mocks).

Each asserts that the run was contained, that the result says what happened, and (through the
``still_serving`` fixture) that the pool refilled and keeps serving afterwards.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import textwrap
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from bot.runner.pool import Runner
from bot.runner.result import RunResult, Status
from tests.runner.conftest import PLANTED_DB_URL, PLANTED_TOKEN, TEST_LIMITS

pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="session")]

PROJECT = Path(__file__).resolve().parents[2]


@pytest_asyncio.fixture(loop_scope="session")
async def still_serving(runner: Runner) -> AsyncIterator[Runner]:
    yield runner
    # The attack's worker is gone; its replacement must come up cleanly.
    await runner.wait_idle(within_s=120)
    assert runner.stats()["running"] == 0


async def run(runner: Runner, code: str) -> RunResult:
    return await runner.run(textwrap.dedent(code), user=f"attacker-{uuid.uuid4().hex[:6]}")


async def test_busy_loop_hits_the_cpu_limit(still_serving: Runner):
    result = await run(still_serving, "while True:\n    pass\n")
    assert result.status is Status.TIMEOUT
    assert result.limit is not None and result.limit.name == "cpu_time_s"
    assert result.limit.value == TEST_LIMITS.cpu_time_s
    assert result.explanation and "time limit" in result.explanation


async def test_sleeping_past_the_wall_clock(still_serving: Runner):
    result = await run(still_serving, "import time\nprint('before')\ntime.sleep(600)\n")
    assert result.status is Status.TIMEOUT
    assert result.limit is not None and result.limit.name == "wall_timeout_s"
    assert result.stdout == "before\n"  # what it printed before it was stopped is kept
    assert result.duration_s == TEST_LIMITS.wall_timeout_s


async def test_memory_bomb(still_serving: Runner):
    result = await run(
        still_serving,
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
    limits = TEST_LIMITS.model_copy(update={"workers": 1, "wall_timeout_s": 30})
    async with Runner(limits, spawn_limit=1) as alone:
        result = await run(alone, "import tensorflow as tf\nx = tf.zeros((60000, 60000))\n")
    assert result.status is Status.MEMORY_LIMIT
    assert result.exception is not None and result.exception.type == "ResourceExhaustedError"
    assert result.exception is not None and result.exception.line == 2


async def test_fork_bomb(still_serving: Runner):
    result = await run(still_serving, "import os\nwhile True:\n    os.fork()\n")
    assert result.status is Status.ERROR
    # One process per sandbox (seccomp; docs/runner.md, "Memory"): the first fork is refused.
    assert result.exception is not None and result.exception.type == "PermissionError"
    assert result.exception.line == 3


async def test_thread_bomb(still_serving: Runner):
    result = await run(
        still_serving,
        """
        import threading, time
        while True:
            threading.Thread(target=time.sleep, args=(600,), daemon=True).start()
        """,
    )
    assert result.status is Status.ERROR
    assert result.exception is not None and result.exception.type == "RuntimeError"
    assert result.limit is not None and result.limit.name == "max_processes"


async def test_output_flood(still_serving: Runner):
    result = await run(still_serving, "while True:\n    print('flood ' * 100)\n")
    assert result.status is Status.OUTPUT_LIMIT
    assert result.limit is not None and result.limit.value == TEST_LIMITS.output_limit_bytes
    assert 0 < len(result.stdout) <= TEST_LIMITS.output_limit_bytes
    assert any("cut" in note for note in result.notes)


async def test_filling_tmp_stops_at_the_tmpfs_size(still_serving: Runner):
    marker = f"fill-{uuid.uuid4().hex}"
    result = await run(
        still_serving,
        f"""
        for i in range(1000):
            with open(f"/tmp/{marker}-{{i}}", "wb") as f:
                f.write(bytes(2 * 1024 * 1024))
        """,
    )
    assert result.status is Status.ERROR
    assert result.exception is not None and result.exception.type == "OSError"
    assert "No space left on device" in result.exception.message
    assert result.limit is not None and result.limit.name == "tmpfs_mb"
    assert not list(Path("/tmp").glob(f"{marker}*"))  # noqa: ASYNC240 (host's /tmp untouched)


async def test_one_file_larger_than_the_file_size_limit(still_serving: Runner):
    result = await run(still_serving, "open('/tmp/big', 'wb').write(bytes(6 * 1024 * 1024))\n")
    assert result.status is Status.ERROR
    assert result.exception is not None and "File too large" in result.exception.message
    assert result.limit is not None and result.limit.name == "file_size_mb"


async def test_reading_stdin_gets_end_of_file(still_serving: Runner):
    result = await run(still_serving, "import sys\nprint(repr(sys.stdin.read()))\ninput()\n")
    assert result.stdout == "''\n"
    assert result.exception is not None and result.exception.type == "EOFError"
    assert result.exception.line == 3


async def test_connecting_to_a_listener_on_the_host(still_serving: Runner):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        result = await run(
            still_serving,
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


async def test_environment_holds_no_secret(still_serving: Runner):
    assert os.environ["DISCORD_TOKEN"] == PLANTED_TOKEN  # the bot has it...
    result = await run(
        still_serving,
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


async def test_database_and_project_tree_are_not_visible(still_serving: Runner, tmp_path: Path):
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
        still_serving,
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


async def test_writing_outside_the_sandbox(still_serving: Runner):
    name = f"escape-{uuid.uuid4().hex}"
    places = ["/usr", "/opt/venv", "/opt/tutor", "/", "/etc", str(PROJECT), "/proc/1"]
    result = await run(
        still_serving,
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


async def test_killing_the_parent(still_serving: Runner):
    result = await run(
        still_serving,
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


async def test_ctypes_segfault(still_serving: Runner):
    result = await run(still_serving, "import ctypes\nctypes.string_at(0)\n")
    assert result.status is Status.CRASHED
    assert any("SIGSEGV" in note for note in result.notes)
    assert "Segmentation fault" in result.stderr  # faulthandler's report, with the line
    assert 'File "<snippet>", line 2' in result.stderr


async def test_spawning_a_shell(still_serving: Runner):
    result = await run(
        still_serving,
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


async def test_writing_into_the_runners_channel(still_serving: Runner):
    result = await run(
        still_serving,
        """
        import json, os, time
        config = json.loads(open("/proc/self/cmdline", "rb").read().split(b"\\0")[-2])
        os.write(config["fds"]["control"], b'{"event": "result", "status": 5}\\n')
        time.sleep(600)
        """,
    )
    assert result.status is Status.CRASHED  # a result, not an exception in the bot
    assert any("channel" in note for note in result.notes)


async def test_the_pool_still_serves_after_every_attack(runner: Runner):
    result = await run(runner, "import tensorflow as tf\nprint(int(tf.constant(20) + 22))\n")
    assert result.status is Status.OK and result.stdout == "42\n"
