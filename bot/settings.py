"""All configuration, read from the environment once and passed down.

This is the only module that reads ``os.environ``. Every field can be given as a keyword to
``Settings(...)`` too, which is what tests and the command line do.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import AliasChoices, BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///data/tutor.db"


class RunnerSettings(BaseModel):
    """Limits and pool size for sandboxed snippet execution (``TUTOR_RUNNER__*``)."""

    workers: int = Field(default_factory=lambda: os.cpu_count() or 2, ge=0)
    wall_timeout_s: float = Field(default=30.0, gt=0)
    memory_mb: int = Field(default=3072, ge=256)
    output_limit_bytes: int = Field(default=64 * 1024, ge=1024)
    queue_limit: int = Field(default=50, ge=1)
    weights_dir: Path = Path("data/keras")


class DiscordSettings(BaseModel):
    """The Discord frontend (``TUTOR_DISCORD__*``)."""

    # None lets Discord recommend the number of shards (AutoShardedBot).
    shard_count: int | None = Field(default=None, ge=1)
    # After a learner's snippet finishes, their next /run waits this long (the pool is shared).
    run_cooldown_s: float = Field(default=10.0, ge=0)
    # On SIGTERM, how long in-flight interactions may take to finish before the pool stops.
    shutdown_grace_s: float = Field(default=10.0, ge=0)


class Settings(BaseSettings):
    """The bot's settings. Environment: ``TUTOR_*`` and ``DISCORD_TOKEN``."""

    model_config = SettingsConfigDict(
        env_prefix="TUTOR_",
        env_nested_delimiter="__",
        populate_by_name=True,
        extra="forbid",
    )

    # Secrets are SecretStr so that a repr, a log line or a traceback never shows them.
    database_url: SecretStr = SecretStr(DEFAULT_DATABASE_URL)
    discord_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("discord_token", "DISCORD_TOKEN")
    )
    content_dir: Path = Path("content")
    # Development: sync slash commands to this guild only (instant), instead of globally.
    dev_guild_id: int | None = None
    runner: RunnerSettings = Field(default_factory=RunnerSettings)
    discord: DiscordSettings = Field(default_factory=DiscordSettings)
