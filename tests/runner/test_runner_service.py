"""The runner as its own service (bot.runner.service) and the bot's client of it
(bot.runner.local): the bot process never spawns a sandbox, the runner gets none of the bot's
secrets, a runner that dies mid-job answers ``lost`` and comes back by itself, and a runner
already on the socket is used instead of a second one."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.runner.local import LocalService, RunnerRestarting
from bot.runner.result import Status
from bot.settings import RunnerSettings
from tests.helpers import ROOT, chat_argv
from tests.runner.helpers import (
    PLANTED_DB_URL,
    PLANTED_TOKEN,
    PLOT_SNIPPET,
    TEST_LIMITS,
    check_plot_result,
)

pytestmark = pytest.mark.slow

SLEEPER = "import time\nprint('started', flush=True)\ntime.sleep(25)\nprint('finished')\n"


def limits(tmp_path: Path) -> RunnerSettings:
    return TEST_LIMITS.model_copy(
        update={"workers": 1, "socket_path": tmp_path / "runner.sock", "cache_dir": tmp_path}
    )


@pytest.fixture
async def service(tmp_path: Path, planted_secrets: None) -> AsyncIterator[LocalService]:
    runner = LocalService(limits(tmp_path))
    await runner.start()
    yield runner
    await runner.close()


def children(pid: int) -> list[tuple[int, str]]:
    """(pid, command name) of the direct children of ``pid``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        if int(stat[stat.rindex(")") + 2 :].split()[1]) == pid:
            found.append((int(entry), name))
    return found


def environment_of(pid: int) -> bytes:
    return Path(f"/proc/{pid}/environ").read_bytes()


async def run_until_admitted(service: LocalService, code: str) -> object:
    """Run ``code``; while the runner is coming back after a crash, try again (a person would)."""
    for _ in range(60):
        try:
            return await service.run(code, "ada")
        except RunnerRestarting:
            await asyncio.sleep(1)
    raise AssertionError("the runner did not come back within a minute")


AS_BOT = """
import asyncio, json, sys
from pathlib import Path
from bot.runner.local import LocalService
from tests.runner.helpers import TEST_LIMITS

async def main():
    where = {"socket_path": Path(sys.argv[1]), "cache_dir": Path(sys.argv[2]), "workers": 1}
    service = LocalService(TEST_LIMITS.model_copy(update=where))
    result = await service.run("import tensorflow as tf\\nprint(tf.constant(2) * 21)", "ada")
    print(json.dumps({"runner": service.child.pid, "result": result.to_dict()}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until told
    await service.close()

asyncio.run(main())
"""


def test_the_bot_runs_snippets_through_a_child_service_without_its_secrets(tmp_path: Path):
    """A process that is only the bot (the suite's own pools are children of pytest)."""
    secrets = {"DISCORD_TOKEN": PLANTED_TOKEN, "TUTOR_DATABASE_URL": PLANTED_DB_URL}
    bot = subprocess.Popen(
        [sys.executable, "-c", AS_BOT, str(tmp_path / "runner.sock"), str(tmp_path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, **secrets},
    )  # fmt: skip
    assert bot.stdin is not None and bot.stdout is not None
    try:
        report = json.loads(bot.stdout.readline())
        assert report["result"]["status"] == "ok", report
        assert "42" in report["result"]["stdout"]
        runner = report["runner"]
        # The bot started the runner and nothing else: the sandboxes are the runner's.
        assert [name[:6] for pid, name in children(bot.pid) if pid == runner] == ["python"]
        assert not [name for _, name in children(bot.pid) if "bwrap" in name]
        assert any("bwrap" in name for _, name in children(runner))
        # The runner never sees the Discord token or the database URL (the sandbox sees less).
        environ = environment_of(runner)
        assert PLANTED_TOKEN.encode() not in environ
        assert PLANTED_DB_URL.encode() not in environ
    finally:
        bot.stdin.close()
        assert bot.wait(60) == 0


async def test_a_runner_killed_mid_job_answers_lost_once_and_comes_back(service):
    assert service.child is not None
    first = service.child.pid
    running = asyncio.ensure_future(service.run(SLEEPER, "ada"))
    await asyncio.sleep(0.5)
    while (await service.ping() or {}).get("running", 0) == 0:  # noqa: ASYNC110 (another process)
        await asyncio.sleep(0.2)
    os.kill(first, signal.SIGKILL)

    result = await asyncio.wait_for(running, 30)

    assert result.status is Status.LOST
    assert result.explanation and "not run again" in result.explanation
    again = await run_until_admitted(service, "print('back')")
    assert getattr(again, "stdout", "") == "back\n"
    assert service.child is not None and service.child.pid != first


async def test_a_crashing_snippet_leaves_the_runner_service_up(service):
    assert service.child is not None
    pid = service.child.pid

    result = await service.run("import os\nos.abort()", "ada")

    assert result.status is Status.CRASHED
    assert service.child.returncode is None and service.child.pid == pid
    assert (await service.run("print('still here')", "ada")).stdout == "still here\n"


async def test_files_and_layer_tables_cross_the_services_wire(service):
    result = await service.run(PLOT_SNIPPET, "ada")

    check_plot_result(result.to_dict())
    assert [f.name for f in result.files] == ["history.csv", "loss.png"]
    assert result.files[1].data.startswith(b"\x89PNG") and result.models[0].surprise is not None


async def test_a_runner_already_on_the_socket_is_used_not_started_again(service, tmp_path):
    attached = LocalService(limits(tmp_path))
    only_attach = LocalService(limits(tmp_path), spawn=False)
    try:
        await attached.start()
        result = await only_attach.run("print('shared')", "bea")
        assert attached.child is None and only_attach.child is None
        assert result.stdout == "shared\n"
    finally:
        await attached.close()
        await only_attach.close()
    # Closing a client that only attached leaves the runner serving.
    assert await service.ping() is not None


async def test_closing_the_bot_stops_its_runner_and_removes_the_socket(tmp_path):
    runner = LocalService(limits(tmp_path))
    await runner.start()
    assert runner.child is not None
    child = runner.child

    await runner.close()

    assert child.returncode is not None
    assert not (tmp_path / "runner.sock").exists()


def test_the_terminal_chat_runs_snippets_through_its_own_runner_service(tmp_path: Path):
    """`python -m bot chat` (and so `make run` without a token) starts the runner service on
    the first /run and stops it on the way out."""
    socket = tmp_path / "runner.sock"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUTOR_")}
    env |= {
        "TUTOR_RUNNER__SOCKET_PATH": str(socket),
        "TUTOR_RUNNER__WORKERS": "1",
        "TUTOR_RUNNER__WARMUP_MODELS": "[]",
        "TUTOR_RUNNER__CACHE_DIR": str(tmp_path / "cache"),
    }
    done = subprocess.run(
        chat_argv(tmp_path / "tutor.db"),
        input="/run import tensorflow as tf; print(int(tf.constant(6) * 7))\n/quit\n",
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=300,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert "Ran successfully" in done.stdout and "42" in done.stdout, done.stdout
    assert "runner service on" in done.stderr  # a child process served it
    assert not socket.exists()  # and stopped with the chat


BOT = """
import asyncio, sys
from pathlib import Path
from bot.runner.local import LocalService
from tests.runner.helpers import TEST_LIMITS

async def main():
    service = LocalService(TEST_LIMITS.model_copy(update={"socket_path": Path(sys.argv[1])}))
    await service.start()
    print(service.child.pid, flush=True)
    await asyncio.sleep(600)

asyncio.run(main())
"""


def test_a_bot_killed_with_sigkill_takes_its_runner_along(tmp_path: Path):
    bot = subprocess.Popen(
        [sys.executable, "-c", BOT, str(tmp_path / "runner.sock")],
        stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    assert bot.stdout is not None
    runner = int(bot.stdout.readline())
    assert Path(f"/proc/{runner}").exists()

    bot.kill()
    bot.wait()

    deadline = time.monotonic() + 30
    while alive(runner) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not alive(runner)


def alive(pid: int) -> bool:
    """Running, not a zombie (the runner's parent is gone, so init reaps it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"
