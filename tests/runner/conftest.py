"""Fixtures for the runner's tests: one real sandboxed pool shared by the slow tests, with the
lowered limits of tests/runner/helpers.py. The planted secrets are in the environment *before*
the pool starts, so every worker is spawned by a process that has them."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio

from bot.runner.pool import Runner
from tests.runner.helpers import PLANTED_DB_URL, PLANTED_TOKEN, TEST_LIMITS


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
