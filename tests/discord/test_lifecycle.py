"""Start-up and shut-down: the dev-guild sync, SIGTERM with an answer in flight, the command
line with and without a token."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

import pytest
import simcord

from bot import create_bot
from bot.client import run_until_stopped, sync_commands
from tests.discord.fakes import FakeRunner
from tests.discord.helpers import attempts, question_of, text_of, unsettled, world
from tests.helpers import ROOT


@pytest.fixture
def runner() -> FakeRunner:
    return FakeRunner()


async def test_sigterm_lets_the_answer_in_flight_commit_then_closes_everything(
    env: simcord.Env, runner: FakeRunner, db_path
):
    _, channel, alice = world(env)
    asked = await alice.slash(channel, "quiz", topic="basics", difficulty="easy")
    bot = env.bot
    never = asyncio.Event()  # stands in for the gateway connection of bot.start(token)

    async def connection() -> None:
        await never.wait()

    serving = asyncio.create_task(run_until_stopped(bot, connection()))
    await asyncio.sleep(0)

    with unsettled(env):
        clicked = await alice.click(question_of(asked), label="2")
    assert not clicked.acknowledged  # the handler has not even started
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.wait_for(serving, 10)

    assert clicked.acknowledged
    assert "Correct!" in text_of(clicked.followups[0])
    assert [row[0] for row in attempts(db_path)] == ["pick-a-base"]
    assert bot.is_closed() and runner.closed
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handler removed again


async def test_dev_guild_sync_publishes_to_that_guild_only(settings, bots):
    dev_id = 1456074443980811111
    bot = create_bot(settings.model_copy(update={"dev_guild_id": dev_id}), runner=None)
    bots.append(bot)
    env = simcord.Env(bot)
    dev = env.create_guild("dev", id=dev_id)
    other = env.create_guild("other")
    await env.start()
    try:
        learn = dev.create_text_channel("learn")
        alice = dev.add_member(env.create_user("alice"))
        bob = other.add_member(env.create_user("bob"))
        assert "quiz" in alice.available_commands(learn)
        assert bob.available_commands(other.create_text_channel("x")) == ()
        asked = await alice.slash(learn, "quiz", topic="basics")
        assert asked.acknowledged
    finally:
        await env.shutdown()


def _cli(*args: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=ROOT,
        timeout=120,
    )


def test_run_with_a_token_starts_discord_and_never_prints_the_token(tmp_path):
    token = "MTAxNTk5OTk5OTk5OTk5OTk5.Gx-fake.secret-part-that-must-never-be-printed"
    result = _cli(
        "run",
        "--database-url",
        f"sqlite+aiosqlite:///{tmp_path / 't.db'}",
        env={"DISCORD_TOKEN": token},
    )

    # Offline, Discord cannot be reached; online, the made-up token is rejected. Either way
    # the Discord path was taken, it failed cleanly, and the token appears nowhere.
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert "cannot reach Discord" in output or "Discord rejected DISCORD_TOKEN" in output
    assert "logging in using static token" in output
    assert token not in output and "secret-part" not in output


def test_run_without_a_token_is_the_terminal_chat(tmp_path):
    env = {k: "" for k in ("DISCORD_TOKEN",)}
    result = _cli(
        "run",
        "--database-url",
        f"sqlite+aiosqlite:///{tmp_path / 't.db'}",
        env=env,
        stdin="/quit\n",
    )

    assert result.returncode == 0, result.stderr
    assert "I'm your transfer-learning tutor" in result.stdout


async def test_one_process_serves_guilds_on_several_shards(settings, bots, db_path):
    sharded = settings.model_copy(
        update={"discord": settings.discord.model_copy(update={"shard_count": 2})}
    )
    bot = create_bot(sharded, runner=None)
    bots.append(bot)
    env = simcord.Env(bot)
    await env.start()
    try:
        await sync_commands(bot)
        for shard in (0, 1):
            guild = env.create_guild(f"shard {shard}", shard_id=shard)
            channel = guild.create_text_channel("learn")
            member = guild.add_member(env.create_user(f"learner{shard}"))
            asked = await member.slash(channel, "quiz", topic="basics", difficulty="easy")
            await member.click(question_of(asked), label="2")
            seen = bot.get_guild(guild.id)
            assert seen is not None and seen.shard_id == shard
        assert sorted(bot.shards) == [0, 1]
    finally:
        await env.shutdown()
    assert len(attempts(db_path)) == 2


def test_sync_commands_needs_a_token(tmp_path):
    result = _cli(
        "sync-commands",
        "--database-url",
        f"sqlite+aiosqlite:///{tmp_path / 't.db'}",
        env={"DISCORD_TOKEN": ""},
    )

    assert result.returncode == 1
    assert "sync-commands needs DISCORD_TOKEN" in result.stderr
