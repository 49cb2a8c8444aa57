"""Fixtures for driving the real bot through SimCord: a real SqlStore on a temporary SQLite file,
the real discord.py machinery, and only the snippet runner replaced where a test says so."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import simcord
from pydantic import SecretStr

from bot import Settings, create_bot
from bot.client import TutorBot, sync_commands
from bot.runner.api import SnippetRunner
from bot.settings import DiscordSettings, QuizSettings, RunnerSettings, StudyMode

CONTENT = Path(__file__).parent / "content"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "tutor.db"


@pytest.fixture
def content_dir() -> Path:
    return CONTENT


@pytest.fixture
def shuffle_choices() -> bool:
    """File order: tests click choices by their number in the file (test_grades.py shuffles)."""
    return False


@pytest.fixture
def study_mode() -> StudyMode:
    """The channel mode: tests of what a question does find it as the command's response
    (test_study.py overrides this to test each mode, and the default, automatic)."""
    return "channel"


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    """The runner's results cache (practice answers too): the test's own, empty unless a test
    fills it."""
    return tmp_path / "runner-cache"


@pytest.fixture
def settings(
    db_path: Path, content_dir: Path, shuffle_choices: bool, study_mode: StudyMode, cache_dir: Path
) -> Settings:
    return Settings(
        database_url=SecretStr(f"sqlite+aiosqlite:///{db_path}"),
        content_dir=content_dir,
        discord=DiscordSettings(shard_count=1, study_mode=study_mode),
        quiz=QuizSettings(shuffle_choices=shuffle_choices),
        # Given whole, so the environment's TUTOR_RUNNER__PREFILL_CACHE=false (tests/conftest.py)
        # does not reach it: a runner service would otherwise fill the cache in the background.
        runner=RunnerSettings(cache_dir=cache_dir, prefill_cache=False),
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
def simcord_bot(settings: Settings, runner: SnippetRunner | None, bots: list[TutorBot]) -> TutorBot:
    bot = create_bot(settings, runner=runner)
    bots.append(bot)
    return bot


@pytest.fixture
async def env(simcord_env: simcord.Env) -> simcord.Env:
    """SimCord's environment (its pytest plugin) with the commands synced globally, as
    `python -m bot sync-commands` does for production."""
    await sync_commands(simcord_env.bot)
    return simcord_env
