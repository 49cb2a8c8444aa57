"""The verified-results cache is built when a runner starts: "Run it" answers at once on a fresh
deployment, without ``content check --execute`` having been run there."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.runner.cache import ResultCache
from bot.runner.local import LocalService
from bot.runner.pool import Runner
from bot.runner.prefill import fill_cache
from bot.tutor.content import load_bank
from tests.runner.helpers import TEST_LIMITS

pytestmark = pytest.mark.slow

MODEL = "import tensorflow as tf\nmodel = tf.keras.Sequential([tf.keras.Input((8,)), {}])\n"
MATCHES = MODEL.format("tf.keras.layers.Dense(5)")
WRONG = MODEL.format("tf.keras.layers.Dense(4)")
UNCHECKED = "print('no expect: not verified, not stored')\n"


def question(qid: str, code: str, expect: str) -> str:
    body = "\n".join("      " + line for line in code.splitlines())
    return f"""
  - id: {qid}
    topic: shapes
    difficulty: 1
    kind: short_answer
    prompt: What is the output shape?
    code: |
{body}
    accept: ["(None, 5)"]
    hint: Count the units.
    explanation: Five units.
{expect}"""


def write_bank(folder: Path) -> Path:
    folder.mkdir()
    expect = "    expect:\n      output_shape: '(None, 5)'\n"
    (folder / "bank.yaml").write_text(
        "questions:"
        + question("matches", MATCHES, expect)
        + question("wrong", WRONG, expect)
        + question("unchecked", UNCHECKED, ""),
        encoding="utf-8",
    )
    return folder


@pytest.mark.asyncio(loop_scope="session")
async def test_fill_cache_stores_only_results_that_match_their_expect(
    runner: Runner, tmp_path: Path
):
    bank = load_bank(write_bank(tmp_path / "content"))
    cache = ResultCache(tmp_path / "cache")

    assert await fill_cache(runner, bank, cache) == 1

    stored = cache.get(MATCHES)
    assert stored is not None and stored.models[0].output_shape == "(None, 5)"
    assert cache.get(WRONG) is None and cache.get(UNCHECKED) is None
    assert await fill_cache(runner, bank, cache) == 0  # nothing left to verify


@pytest.mark.asyncio(loop_scope="session")
async def test_the_prefill_lets_a_fleet_hosts_waiting_jobs_go_first(runner: Runner, tmp_path: Path):
    # A fleet host's queue is in Redis, not in its pool: the host says when jobs wait there
    # (expect_work), and the prefill waits as it does for the pool's own queue.
    bank = load_bank(write_bank(tmp_path / "content"))
    cache = ResultCache(tmp_path / "cache")
    runner.expect_work(True)
    try:
        filling = asyncio.ensure_future(fill_cache(runner, bank, cache))
        await runner.wait_free()  # a warm worker waits: an ungated prefill would take it now
        for _ in range(20):
            await asyncio.sleep(0.05)
            assert runner.stats()["running"] == 0 and runner.stats()["queued"] == 0
        assert not filling.done()
    finally:
        runner.expect_work(False)
    assert await asyncio.wait_for(filling, 300) == 1  # the fleet's queue drained: it goes on
    assert cache.get(MATCHES) is not None


async def test_a_fresh_runner_service_fills_the_cache_and_then_answers_from_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("TUTOR_CONTENT_DIR", str(write_bank(tmp_path / "content")))
    settings = TEST_LIMITS.model_copy(
        update={
            "workers": 1,
            "socket_path": tmp_path / "runner.sock",
            "cache_dir": tmp_path / "cache",
            "prefill_cache": True,
        }
    )
    service = LocalService(settings)
    await service.start()
    try:
        cache = ResultCache(settings.cache_dir)
        async with asyncio.timeout(240):
            while cache.get(MATCHES) is None:  # noqa: ASYNC110 (a file another process writes)
                await asyncio.sleep(0.5)
        stored = cache.get(MATCHES)
        assert stored is not None

        answered = await service.run(MATCHES, "ada")

        # The stored result itself (a fresh run would have taken its own time).
        assert answered.duration_s == stored.duration_s and answered == stored
    finally:
        await service.close()
