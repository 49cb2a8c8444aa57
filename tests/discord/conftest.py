"""Fixtures for driving the real bot through SimCord: a real SqlStore on a temporary SQLite file,
the real discord.py machinery, and only the snippet runner replaced where a test says so."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import simcord

from bot import Settings, create_bot
from bot.client import TutorBot, sync_commands
from bot.runner.api import SnippetRunner

CONTENT = Path(__file__).parent / "content"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "tutor.db"


@pytest.fixture
def settings(db_path: Path) -> Settings:
    return Settings(
        database_url=f"sqlite+aiosqlite:///{db_path}",
        content_dir=CONTENT,
        discord={"shard_count": 1},
    )


@pytest.fixture
def runner() -> SnippetRunner | None:
    """The runner the bot gets; tests override it (None: /run is unavailable)."""
    return None


@pytest.fixture
async def bots() -> AsyncIterator[list[TutorBot]]:
    """Every bot a test started; closed at the end (their store and runner with them)."""
    made: list[TutorBot] = []
    yield made
    for bot in made:
        await bot.close()


@pytest.fixture
def simcord_bot(
    settings: Settings, runner: SnippetRunner | None, bots: list[TutorBot]
) -> TutorBot:
    bot = create_bot(settings, runner=runner)
    bots.append(bot)
    return bot


@pytest.fixture
async def env(simcord_env: simcord.Env) -> simcord.Env:
    """SimCord's environment (its pytest plugin) with the commands synced globally, as
    `python -m bot sync-commands` does for production."""
    await sync_commands(simcord_env.bot)
    return simcord_env


def attempts(db_path: Path) -> list[tuple[str, str, int, str, str]]:
    """(question_id, answer, correct, user_id, guild_id) of every stored attempt, read straight
    from the SQLite file the bot wrote."""
    with sqlite3.connect(db_path) as db:
        return db.execute(
            "SELECT a.question_id, a.answer, a.correct, l.user_id, l.guild_id "
            "FROM attempts a JOIN learners l ON l.id = a.learner_id ORDER BY a.id"
        ).fetchall()


async def restart(
    env: simcord.Env,
    settings: Settings,
    bots: list[TutorBot],
    runner: SnippetRunner | None = None,
) -> TutorBot:
    """A new bot process on the same database: the old one shut down, a fresh one attached."""
    old = env.bot
    new = create_bot(settings, runner=runner)
    bots.append(new)
    await env.restart_bot(new)
    await old.close()
    await sync_commands(new)
    return new
