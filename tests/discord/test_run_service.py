"""The bot with its runner in another process (the embedded default: a runner service started
as a child): /run goes through the service, and a runner that dies mid-run costs that one run
("the runner was lost"), not the bot: the next /run works on a runner started again."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.runner.api import SandboxUnavailable
from bot.runner.local import LocalService
from bot.settings import Settings
from tests.discord.helpers import text_of, world

pytestmark = pytest.mark.slow

SLEEPER = "import time\nprint('started', flush=True)\ntime.sleep(30)\n"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """No pause between one learner's runs: the test runs twice in a row."""
    return settings.model_copy(
        update={"discord": settings.discord.model_copy(update={"run_cooldown_s": 0})}
    )


@pytest.fixture
async def runner(settings: Settings, tmp_path: Path) -> AsyncIterator[LocalService]:
    """The runner service, warm, started outside the bot so SimCord does not wait for it."""
    s = settings.runner.model_copy(
        update={"workers": 1, "warmup_models": (), "socket_path": tmp_path / "runner.sock"}
    )
    runner = LocalService(s)
    try:
        await runner.start()
        await runner.wait_idle()
    except SandboxUnavailable as exc:
        await runner.close()
        pytest.skip(f"the sandbox cannot run here: {exc}")
    yield runner
    await runner.close()


async def kill_when_running(runner: LocalService) -> None:
    while (await runner.ping() or {}).get("running", 0) == 0:  # noqa: ASYNC110 (another process)
        await asyncio.sleep(0.1)
    assert runner.child is not None
    os.kill(runner.child.pid, signal.SIGKILL)


@pytest.mark.simcord(settle_timeout=300)
async def test_a_runner_that_dies_mid_run_costs_that_run_not_the_bot(env, runner):
    _, channel, alice = world(env)
    killer = asyncio.ensure_future(kill_when_running(runner))

    opened = await alice.slash(channel, "run")
    submitted = await alice.submit_modal(opened, {"code": SLEEPER})
    await killer

    assert submitted.acknowledged
    assert "The runner was lost" in text_of(submitted.response)
    assert not env.bot.is_closed()
    await runner.wait_idle()  # started again by itself
    opened = await alice.slash(channel, "run")
    again = await alice.submit_modal(opened, {"code": "print('back')"})
    assert "✅ Ran successfully" in text_of(again.response), text_of(again.response)
