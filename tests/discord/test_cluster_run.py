"""/run in a shard cluster: the bot here (through SimCord) and another bot process share a real
Redis, so a learner whose snippet runs in the other process is refused here, in the same words
as on one bot, and then waits out the cooldown the other process started."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.settings import Settings
from tests.discord.fakes import FakeRunner
from tests.discord.helpers import refusals, run_code, text_of, world
from tests.helpers import child, said, tell


@pytest.fixture
def settings(settings: Settings, redis_url: str) -> Settings:
    return settings.model_copy(update={"redis_url": SecretStr(redis_url)})


@pytest.fixture
def runner() -> FakeRunner:
    return FakeRunner()


async def test_a_run_held_by_another_bot_process_is_refused_here(
    env, runner, redis_url: str, content_dir: Path, tmp_path: Path
):
    runner.env = env
    _, channel, alice = world(env)
    other = {
        "redis_url": redis_url,
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'other.db'}",
        "content_dir": str(content_dir),
    }
    with child("hold", **other, user=str(alice.id), cooldown_s=5.0) as bot_b:
        assert said(bot_b) == {"held": True}  # Alice's snippet runs in bot B
        busy = await alice.slash(channel, "run")
        assert busy.ephemeral and busy.modal is None
        assert "already have a snippet running" in text_of(busy.response)
        tell(bot_b)
        assert said(bot_b) == {"released": True}

    cooling = await alice.slash(channel, "run")
    assert re.search(r"Please wait [1-5] s", text_of(cooling.response))
    time.sleep(5.1)  # noqa: ASYNC251 (the cooldown is Redis's real time, not SimCord's)
    ran = await run_code(alice, channel)
    assert "✅ Ran successfully" in text_of(ran.response)
    assert len(refusals(env)) == 2
