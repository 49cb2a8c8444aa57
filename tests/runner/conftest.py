"""Fixtures for the runner's tests: one real sandboxed pool shared by the slow tests.

The limits are lowered (snekbox-style) so that attacks end in seconds; the planted secrets are in
the environment *before* the pool starts, so every worker is spawned by a process that has them.

The wall clock stays at the default on purpose: on a busy 2-core machine a legitimate snippet (or
a busy loop on its way to the CPU limit) can take many times longer than on a quiet one, and a
test must show which limit ended a run, not race the clock. A test of the wall clock itself
lowers it for its own pool.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio

from bot.runner.pool import Runner
from bot.settings import RunnerSettings

PLANTED_TOKEN = "planted-discord-token-8c1f2e7d"
PLANTED_DB_URL = "sqlite+aiosqlite:////srv/planted-secret-db-5a9b.db"

TEST_LIMITS = RunnerSettings(
    workers=2,
    queue_limit=10,
    wall_timeout_s=30,
    cpu_time_s=3,
    memory_mb=2048,
    max_processes=48,
    output_limit_bytes=8 * 1024,
    file_size_mb=4,
    tmpfs_mb=16,
    warmup_models=(),
)


@pytest.fixture(scope="session")
def planted_secrets() -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in ("DISCORD_TOKEN", "TUTOR_DATABASE_URL")}
    os.environ["DISCORD_TOKEN"] = PLANTED_TOKEN
    os.environ["TUTOR_DATABASE_URL"] = PLANTED_DB_URL
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def runner(planted_secrets: None) -> AsyncIterator[Runner]:
    async with Runner(TEST_LIMITS) as pool:
        yield pool
