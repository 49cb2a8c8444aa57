"""Fixtures for the runner's tests: one real sandboxed pool shared by the slow tests, with the
lowered limits of tests/runner/helpers.py, and a pool at the production limits that runs every
snippet of the equality corpus once. The planted secrets are in the environment *before* the
pools start, so every worker is spawned by a process that has them."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bot.runner.cache import ResultCache
from bot.runner.explain import default_explainer
from bot.runner.pool import Runner
from bot.runner.result import RunResult
from bot.runner.verify import Checked, check_snippets
from bot.settings import RunnerSettings
from bot.tutor.content import Bank, load_bank
from tests.runner import corpus
from tests.runner.helpers import PLANTED_DB_URL, PLANTED_TOKEN, TEST_LIMITS

PROJECT = Path(__file__).resolve().parents[2]


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


# --- every snippet once: content, rule examples and near misses, mistakes (corpus.py) ---------

# The production limits (content check --execute and learners get these), two workers.
REAL_LIMITS = RunnerSettings(workers=2, queue_limit=200)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def real_runner(planted_secrets: None) -> AsyncIterator[Runner]:
    async with Runner(REAL_LIMITS) as pool:
        yield pool


@pytest.fixture(scope="session")
def bank() -> Bank:
    return load_bank(PROJECT / "content")


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def content_checked(real_runner: Runner, bank: Bank) -> tuple[list[Checked], ResultCache]:
    """``content check --execute`` once for the session (the same call the command makes).

    Every snippet runs in the sandbox (nothing is taken from the cache), and verified results go
    to the project's own cache, as the command's would: `make test`'s `content check --execute`
    that follows then finds them there, so each content snippet runs once per `make test`."""
    cache = ResultCache(PROJECT / REAL_LIMITS.cache_dir)
    return await check_snippets(bank, real_runner, cache, use_cache=False), cache


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def sandbox_results(
    real_runner: Runner, runner: Runner, content_checked: tuple[list[Checked], ResultCache]
) -> dict[str, RunResult]:
    """Every corpus snippet's sandbox result, by key; limit rules on the low-limit pool."""
    rules = default_explainer().rules
    results = {f"content:{c.question.id}": c.result for c in content_checked[0]}
    unlimited = [r for r in rules if not corpus.limited(r)]
    snippets = corpus.rule_snippets(unlimited) + corpus.mistake_snippets()
    tight = corpus.rule_snippets(r for r in rules if corpus.limited(r))

    async def one(pool: Runner, snippet: corpus.Snippet) -> None:
        results[snippet.key] = await pool.run(snippet.code, user=snippet.key, use_cache=False)

    await asyncio.gather(*(one(real_runner, s) for s in snippets), *(one(runner, s) for s in tight))
    return results


@pytest.fixture(scope="session")
def plain_results(bank: Bank) -> dict[str, dict[str, Any]]:
    """The same snippets as plain Python on the pinned TensorFlow (corpus.run_plain)."""
    rules = [r for r in default_explainer().rules if not corpus.limited(r)]
    snippets = (
        corpus.content_snippets(bank) + corpus.rule_snippets(rules) + corpus.mistake_snippets()
    )
    return corpus.run_plain(snippets, REAL_LIMITS.weights_dir.resolve())
