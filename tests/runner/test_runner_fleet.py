"""A runner fleet on one box: a real Redis server, runner hosts as real processes
(``python -m bot runner serve --url``, one warm worker each, the real sandbox and TensorFlow),
and two bot-side clients (``FleetRunner``), as two bot processes would have."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.runner.fleet import DONE, GROUP, STREAM, FleetRunner, NoRunners, result_key
from bot.runner.gate import CoolingDown
from bot.runner.pool import AlreadyRunning, QueueFull
from bot.runner.result import Status
from bot.runner.service import READY
from bot.settings import RunnerSettings
from tests.helpers import ROOT
from tests.runner.helpers import PLOT_SNIPPET, TEST_LIMITS, check_plot_result

pytestmark = pytest.mark.slow

SLEEP = "import time\nprint('started', flush=True)\ntime.sleep({s})\nprint('finished')\n"
LOST_AFTER_S = 4.0


def fleet_limits(url: str, tmp_path: Path, **changes: object) -> RunnerSettings:
    return TEST_LIMITS.model_copy(
        update={
            "url": SecretStr(url), "workers": 1, "cache_dir": tmp_path, "heartbeat_s": 0.5,
            "lost_after_s": LOST_AFTER_S, **changes,
        }
    )  # fmt: skip


class Fleet:
    """Runner hosts started as processes, stopped at the end."""

    def __init__(self, settings: RunnerSettings) -> None:
        self.settings = settings
        self.hosts: dict[str, asyncio.subprocess.Process] = {}

    async def add_host(self, name: str) -> asyncio.subprocess.Process:
        assert self.settings.url is not None
        url = self.settings.url.get_secret_value()  # a secret: not in the JSON of the settings
        env = dict(os.environ, TUTOR_RUNNER=self.settings.model_dump_json(exclude={"url"}))
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "runner", "serve", "--name", name, "--url", url,
            stdout=asyncio.subprocess.PIPE, env=env, cwd=ROOT,
        )  # fmt: skip
        assert process.stdout is not None
        assert await asyncio.wait_for(process.stdout.readline(), 120) == READY
        self.hosts[name] = process
        return process

    async def client(self, cooldown_s: float = 0.0) -> FleetRunner:
        return FleetRunner(self.settings, cooldown_s=cooldown_s)

    async def stop(self) -> None:
        for process in self.hosts.values():
            if process.returncode is None:
                process.terminate()
        for process in self.hosts.values():
            await process.wait()


@pytest.fixture
async def fleet(redis_url: str, tmp_path: Path) -> AsyncIterator[Fleet]:
    fleet = Fleet(fleet_limits(redis_url, tmp_path, queue_limit=2))
    yield fleet
    await fleet.stop()


async def running_jobs(client: FleetRunner) -> list[dict[str, object]]:
    """The jobs hosts have taken and not answered: [{message_id, consumer, ...}]."""
    pending = await client.redis.xpending_range(STREAM, GROUP, "-", "+", 10)
    return list(pending)


async def until_running(client: FleetRunner, count: int = 1) -> list[dict[str, object]]:
    async with asyncio.timeout(120):
        while len(jobs := await running_jobs(client)) < count:  # noqa: ASYNC110 (in Redis)
            await asyncio.sleep(0.1)
    return jobs


async def jobs_done(client: FleetRunner) -> dict[str, int]:
    done: dict[str, str] = await client.redis.hgetall(DONE)  # type: ignore[misc]
    return {host: int(n) for host, n in done.items()}


async def test_one_snippet_per_learner_across_bot_processes_and_their_cooldown(fleet: Fleet):
    await fleet.add_host("a")
    first, second = await fleet.client(cooldown_s=60), await fleet.client()
    try:
        running = asyncio.ensure_future(first.run(SLEEP.format(s=3), "ada"))
        await until_running(first)
        with pytest.raises(AlreadyRunning):
            await second.run("print(1)", "ada")
        result = await running
        assert result.status is Status.OK and result.stdout == "started\nfinished\n"
        # The cooldown the first bot set holds in the second one too.
        with pytest.raises(CoolingDown):
            await second.run("print(1)", "ada")
        other = await second.run("import tensorflow as tf\nprint(tf.constant(6) * 7)", "bea")
        assert other.status is Status.OK and "42" in other.stdout
    finally:
        await first.close()
        await second.close()


async def test_queue_cap_positions_and_a_host_that_joins_later(fleet: Fleet):
    await fleet.add_host("a")
    one, two = await fleet.client(), await fleet.client()
    places: dict[str, list[int]] = {"u1": [], "u2": []}
    try:
        busy = asyncio.ensure_future(one.run(SLEEP.format(s=20), "u0"))
        await until_running(one)
        u1 = asyncio.ensure_future(one.run("print('u1')", "u1", places["u1"].append))
        await asyncio.sleep(0.3)  # u1 is ahead of u2 in the queue
        u2 = asyncio.ensure_future(two.run("print('u2')", "u2", places["u2"].append))
        async with asyncio.timeout(30):
            while not (places["u1"] and places["u2"]):  # noqa: ASYNC110
                await asyncio.sleep(0.1)
        assert places == {"u1": [1], "u2": [2]}
        with pytest.raises(QueueFull):  # two wait: the cap, across both bots
            await two.run("print('u3')", "u3")

        await fleet.add_host("b")  # joins while host a is busy: takes the queue's head
        assert (await u1).stdout == "u1\n"
        assert (await u2).stdout == "u2\n"
        assert places["u2"][:2] == [2, 1]
        assert (await busy).status is Status.OK
        done = await jobs_done(one)
        assert done.get("b", 0) >= 1 and sum(done.values()) == 3, done
    finally:
        await one.close()
        await two.close()


async def test_a_host_killed_mid_job_gives_one_lost_result_and_no_rerun(fleet: Fleet):
    hosts = {"a": await fleet.add_host("a"), "b": await fleet.add_host("b")}
    client = await fleet.client()
    try:
        doomed = asyncio.ensure_future(client.run(SLEEP.format(s=30), "ada"))
        (job,) = await until_running(client)
        victim = str(job["consumer"])
        hosts[victim].send_signal(signal.SIGKILL)

        result = await asyncio.wait_for(doomed, LOST_AFTER_S + 30)

        assert result.status is Status.LOST
        assert result.explanation and "not run again" in result.explanation
        # Reaped once, answered once: nothing left to deliver, nothing pending, nothing run.
        await asyncio.sleep(LOST_AFTER_S + 2)
        job_id = str(job["message_id"])
        assert await client.redis.llen(result_key(job_id)) == 0  # type: ignore[misc]
        assert await client.redis.xrange(STREAM, job_id, job_id) == []
        assert await running_jobs(client) == []
        assert await jobs_done(client) == {}
        # The survivor goes on taking work.
        after = await client.run("print('next')", "bea")
        assert after.stdout == "next\n"
        assert await jobs_done(client) == {"ab".replace(victim, ""): 1}
    finally:
        await client.close()


async def test_run_snippet_sends_one_snippet_through_the_fleet(fleet: Fleet, tmp_path: Path):
    await fleet.add_host("a")
    snippet = tmp_path / "snippet.py"
    snippet.write_text(PLOT_SNIPPET)  # its plot, file and layer table cross Redis too
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUTOR_")}
    assert fleet.settings.url is not None
    url = fleet.settings.url.get_secret_value()
    argv = [sys.executable, "-m", "bot", "run-snippet", str(snippet), "--json"]

    def run_snippet() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*argv, "--runner-url", url], capture_output=True, text=True, cwd=ROOT, env=env,
            timeout=180,
        )  # fmt: skip

    done = await asyncio.to_thread(run_snippet)

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    check_plot_result(result)
    assert set(result) >= {"stdout", "stderr", "exception", "limit", "explanation", "notes"}


async def test_a_host_presumed_dead_that_wakes_up_never_answers_twice(fleet: Fleet):
    host = await fleet.add_host("a")
    client = await fleet.client()
    try:
        stalled = asyncio.ensure_future(client.run(SLEEP.format(s=2), "ada"))
        (job,) = await until_running(client)
        host.send_signal(signal.SIGSTOP)  # a long stall: no heartbeat, the job goes quiet
        try:
            result = await asyncio.wait_for(stalled, LOST_AFTER_S + 30)
        finally:
            host.send_signal(signal.SIGCONT)
        assert result.status is Status.LOST

        # Awake, the host finishes the snippet, but its result is not delivered: the job was
        # answered already, and only once.
        await asyncio.sleep(5)
        assert await client.redis.llen(result_key(str(job["message_id"]))) == 0  # type: ignore[misc]
        assert await jobs_done(client) == {}
        assert host.returncode is None
    finally:
        await client.close()


async def test_when_the_last_host_leaves_waiting_snippets_are_told_not_left_waiting(fleet: Fleet):
    host = await fleet.add_host("a")
    client = await fleet.client()
    try:
        running = asyncio.ensure_future(client.run(SLEEP.format(s=4), "ada"))
        await until_running(client)
        waiting = asyncio.ensure_future(client.run("print('never')", "bea"))
        await asyncio.sleep(0.5)
        host.terminate()  # SIGTERM: finishes its job, takes no other, and leaves

        assert (await asyncio.wait_for(running, 60)).stdout == "started\nfinished\n"
        with pytest.raises(NoRunners):
            await asyncio.wait_for(waiting, 30)
        assert await client.redis.xlen(STREAM) == 0
        assert await host.wait() == 0
    finally:
        await client.close()
