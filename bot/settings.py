"""All configuration, read from the environment once and passed down.

This is the only module that reads ``os.environ``. Every field can be given as a keyword to
``Settings(...)`` too, which is what tests and the command line do.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.shards import check_shard_ids

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///data/tutor.db"


def redis_only(url: SecretStr | None, what: str) -> SecretStr | None:
    if url is not None and not url.get_secret_value().startswith(("redis://", "rediss://")):
        raise ValueError(f"{what} must be redis://HOST:PORT/DB (or rediss://)")
    return url


class RunnerSettings(BaseModel):
    """Limits and pool size for sandboxed snippet execution (``TUTOR_RUNNER__*``).

    The single place for the runner's limits: the pool, the sandbox and the worker all take
    their numbers from here, and tests lower them by passing a changed copy.
    """

    model_config = ConfigDict(frozen=True)

    workers: int = Field(
        default_factory=lambda: os.cpu_count() or 2,
        ge=1,
        description="warm sandboxed workers kept ready, and the most snippets run at once",
    )
    queue_limit: int = Field(default=50, ge=1, description="snippets waiting, at most")
    # fit() runs in graph mode, as plain Keras: tracing a ResNet50 step takes 10-25 s on 2
    # busy cores (docs/runner.md), and a snippet must not time out where plain Python succeeds.
    wall_timeout_s: float = Field(default=60.0, gt=0, description="wall clock per snippet")
    # TF's pools use every core, so CPU time can run ahead of the wall clock.
    cpu_time_s: int = Field(default=60, ge=1, description="CPU seconds per snippet (all threads)")
    # Address space (RLIMIT_AS): importing TensorFlow alone needs ~1 GiB of it (FACTS.md).
    memory_mb: int = Field(default=3072, ge=1024)
    # RLIMIT_NPROC inside the sandbox's own user namespace: threads and processes of that one
    # sandbox. TensorFlow aborts below ~17 threads on 2 cores, and its pools grow with the cores.
    max_processes: int = Field(default=128, ge=24)
    open_files: int = Field(default=256, ge=64)
    file_size_mb: int = Field(default=32, ge=1, description="largest file a snippet may write")
    tmpfs_mb: int = Field(default=64, ge=1, description="size of the private /tmp and home")
    output_limit_bytes: int = Field(default=64 * 1024, ge=1024, description="stdout + stderr")
    code_limit_bytes: int = Field(default=64 * 1024, ge=1024)
    # Built (with random weights) before a worker reports ready, so that a learner's first
    # build of these backbones is as fast as a repeated one. Skipped while jobs are waiting.
    warmup_models: tuple[str, ...] = ("MobileNetV2",)
    # Workers import TensorFlow at this nice value, so a refill yields the CPU to running
    # snippets; a worker is put back to 0 when it gets a snippet (when the bot runs as root).
    spawn_niceness: int = Field(default=10, ge=0, le=19)
    # Eager ops run directly rather than as one-op functions, with TensorFlow's own messages
    # kept (worker.run_eager_ops_directly): half a cold snippet's CPU. False: as plain
    # TensorFlow runs them, for `bench runner` to show what this buys.
    direct_ops: bool = True
    # A worker that fails to start is retried after this long, doubling up to the maximum, for
    # as long as starts fail; the pool recovers by itself once one starts (docs/runner.md).
    restart_backoff_s: float = Field(default=1.0, gt=0)
    restart_backoff_max_s: float = Field(default=60.0, gt=0)
    # Used only when the bot runs as root: the real uid the sandboxed code runs as.
    sandbox_uid: int = Field(default=65534, ge=1)
    sandbox_gid: int = Field(default=65534, ge=1)
    seccomp: bool = True
    weights_dir: Path = Field(
        default=Path("data/keras"), description="KERAS_HOME layout, mounted read-only"
    )
    cache_dir: Path = Field(
        default=Path("data/runner-cache"),
        description="results of verified content snippets and of practice variants",
    )
    # A runner service or fleet host verifies the content's snippets in the background when it
    # starts, one at a time while it is free, so "Run it" answers from the cache at once on a
    # fresh deployment (bot.runner.prefill). The tests turn it off where they do not test it.
    prefill_cache: bool = True
    # Where the bot finds its runner (docs/deploy.md). None: the runner service on
    # ``socket_path``, started by the bot as a child when none answers there. ``redis://HOST:
    # PORT/DB``: a fleet of runner hosts behind Redis Streams (bot.runner.fleet).
    # A secret (it may hold Redis's password): never printed, and redacted from logs.
    url: SecretStr | None = None
    # False: only attach to a runner already serving socket_path (one an operator runs as
    # root, say); never start one as the bot's child.
    spawn: bool = True
    socket_path: Path = Field(
        default=Path("data/runner.sock"), description="the local runner service's Unix socket"
    )
    # Fleet: a runner host renews its running jobs every heartbeat_s; a job not renewed for
    # lost_after_s is answered "lost" (its host died) and never run again.
    heartbeat_s: float = Field(default=2.0, gt=0)
    lost_after_s: float = Field(default=15.0, gt=0)


    @field_validator("url")
    @classmethod
    def _redis_only(cls, url: SecretStr | None) -> SecretStr | None:
        return redis_only(url, "the runner URL")


StudyMode = Literal["auto", "thread", "ephemeral", "channel"]


class DiscordSettings(BaseModel):
    """The Discord frontend (``TUTOR_DISCORD__*``)."""

    # None lets Discord recommend the number of shards (AutoShardedBot).
    shard_count: int | None = Field(default=None, ge=1)
    # The shards this process runs (a shard cluster, docs/deploy.md); None: all of them.
    shard_ids: tuple[int, ...] | None = None
    # After a learner's snippet finishes, their next /run waits this long (the pool is shared).
    run_cooldown_s: float = Field(default=10.0, ge=0)
    # On SIGTERM, how long in-flight interactions may take to finish before the pool stops.
    shutdown_grace_s: float = Field(default=10.0, ge=0)
    # How a server studies until its moderators choose (/mod settings study): "auto" is a study
    # thread per learner where the bot may create threads, ephemeral messages otherwise.
    study_mode: StudyMode = "auto"

    @model_validator(mode="after")
    def _shards_in_range(self) -> DiscordSettings:
        if self.shard_ids is not None:
            check_shard_ids(self.shard_ids, self.shard_count)
        return self


class QuizSettings(BaseModel):
    """The quiz (``TUTOR_QUIZ__*``)."""

    model_config = ConfigDict(frozen=True)

    # Each learner sees the choices in an order of their own, each time a question is asked, so
    # that a grade measures knowledge, not a remembered position. Off: file order (a demo).
    shuffle_choices: bool = True


class WebSettings(BaseModel):
    """The web leaderboard and moderator dashboard (``TUTOR_WEB__*``; docs/web.md)."""

    model_config = ConfigDict(frozen=True)

    # None: no web server (``python -m bot web`` then says how to set it).
    port: int | None = Field(default=None, ge=1, le=65535)
    host: str = "127.0.0.1"
    # Where people reach the server, for the links /mod dashboard sends (default: host:port).
    public_url: str | None = None
    # A dashboard link works this long after /mod dashboard made it (and until revoked).
    link_ttl_s: int = Field(default=3600, ge=60, le=7 * 24 * 3600)
    # Dashboard token checks per client address and minute; more get 429 (guessing is pointless
    # with 256-bit tokens, but each check costs a database read).
    token_checks_per_minute: int = Field(default=20, ge=1)

    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        return f"http://{self.host}:{self.port or 8080}"


class PracticeSettings(BaseModel):
    """/practice: generated questions (``TUTOR_PRACTICE__*``, bot/tutor/practice_mode.py)."""

    model_config = ConfigDict(frozen=True)

    # A practice answer earns this fraction of a curriculum answer's XP, once per variant, so
    # that the leaderboards keep rewarding the curriculum. 0 turns practice XP off.
    xp_rate: float = Field(default=0.25, ge=0, le=1)
    # The Discord bot computes the variants whose answers are not cached yet in the background,
    # one at a time, from its start; off, each is computed when a learner first needs it.
    warm_up: bool = True


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
    # The shared state of several bot processes (docs/deploy.md, "Shard clusters"): the
    # IDENTIFY lock and the run gate. Unset: the runner fleet's Redis (``runner.url``) if there
    # is one, else nothing is shared (one process). A secret (it may hold a password).
    redis_url: SecretStr | None = None
    runner: RunnerSettings = Field(default_factory=RunnerSettings)
    discord: DiscordSettings = Field(default_factory=DiscordSettings)
    quiz: QuizSettings = Field(default_factory=QuizSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    practice: PracticeSettings = Field(default_factory=PracticeSettings)

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, url: SecretStr | None) -> SecretStr | None:
        return redis_only(url, "the Redis URL")

    def shared_redis_url(self) -> str | None:
        """The Redis that several bot processes share, if any."""
        url = self.redis_url or self.runner.url
        return url.get_secret_value() if url is not None else None
