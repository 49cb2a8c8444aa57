"""A shard cluster's processes share a Redis (bot/cluster.py): their IDENTIFYs take turns per
``max_concurrency`` bucket across processes, and the run gate (one snippet per learner, then a
cooldown) holds for all of them. Real processes (tests/cluster_child.py, each a real bot with
its services opened from Settings), a real redis-server, real PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from itertools import pairwise
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.client import create_bot
from bot.cluster import IdentifyLock, SharedRunGate, connect
from bot.runner.gate import CoolingDown, StillRunning
from bot.services import open_services
from bot.settings import DiscordSettings, Settings
from tests.helpers import SAMPLE_BANK, child, said, tell

INTERVAL_S = 1.0  # the tests' IDENTIFY spacing (Discord's is 5 s: IDENTIFY_INTERVAL_S)
MARGIN_S = 0.05  # Redis expires keys to the millisecond; time.time() is one clock here


def test_identifies_take_turns_per_bucket_across_processes(
    redis_url: str, tmp_path: Path
) -> None:
    """Two processes with 4 shards each, max_concurrency 2: shards 0, 2, 4, 6 share bucket 0 and
    1, 3, 5, 7 bucket 1. Both processes start their first shard at once (each is its process's
    "initial" IDENTIFY, which discord.py alone would not delay), yet within each bucket no two
    IDENTIFYs are closer than the interval, whichever processes they come from."""
    common = {
        "redis_url": redis_url,
        "content_dir": str(SAMPLE_BANK),
        "shard_count": 8,
        "identify_interval_s": INTERVAL_S,
        "max_concurrency": 2,
    }
    with (
        child("identify", **common, shard_ids=[0, 1, 2, 3],
              database_url=f"sqlite+aiosqlite:///{tmp_path / 'a.db'}") as a,
        child("identify", **common, shard_ids=[4, 5, 6, 7],
              database_url=f"sqlite+aiosqlite:///{tmp_path / 'b.db'}") as b,
    ):  # fmt: skip
        assert said(a) == said(b) == {"ready": True}
        tell(a)
        tell(b)
        identified = [said(p) for p in (a, a, a, a, b, b, b, b)]
    assert sorted(i["shard"] for i in identified) == list(range(8))
    for bucket in (0, 1):
        times = sorted(i["at"] for i in identified if i["shard"] % 2 == bucket)
        gaps = [later - earlier for earlier, later in pairwise(times)]
        assert min(gaps) >= INTERVAL_S - MARGIN_S, (bucket, gaps)


async def test_without_redis_the_identify_hook_is_discord_pys_own(tmp_path: Path) -> None:
    settings = Settings(
        database_url=SecretStr(f"sqlite+aiosqlite:///{tmp_path / 't.db'}"),
        content_dir=SAMPLE_BANK,
        discord=DiscordSettings(shard_count=2),
    )
    services = await open_services(settings, runner=None)
    bot = create_bot(settings, services=services)
    try:
        assert services.identify is None and services.redis is None
        started = time.monotonic()
        await bot.before_identify_hook(0, initial=True)  # discord.py: the first goes at once
        assert time.monotonic() - started < 1.0
    finally:
        await services.close()


async def test_an_unreachable_redis_paces_identifies_like_discord_py() -> None:
    redis = connect("redis://127.0.0.1:1/0")  # nothing listens there
    try:
        lock = IdentifyLock(redis, interval_s=0.2)
        started = time.monotonic()
        await lock.wait_turn(3, 1)
        assert time.monotonic() - started >= 0.2
    finally:
        await redis.aclose()


def cluster_settings(database_url: str, redis_url: str, cooldown_s: float) -> Settings:
    return Settings(
        database_url=SecretStr(database_url),
        content_dir=SAMPLE_BANK,
        redis_url=SecretStr(redis_url),
        discord=DiscordSettings(shard_count=2, shard_ids=(1,), run_cooldown_s=cooldown_s),
    )


@pytest.mark.postgres
async def test_the_run_gate_holds_across_bot_processes(
    redis_url: str, pg_url: str
) -> None:
    """Bot process B (a child) runs Ada's snippet: this process (A) refuses her second one
    while it runs, then for the cooldown B started; Bob meanwhile is admitted. A process that
    dies mid-run holds her no longer than the lease."""
    # Pauses of a few seconds: the steps between two checks may take a second on a busy machine.
    services = await open_services(cluster_settings(pg_url, redis_url, 5.0), runner=None)
    gate = services.run_gate
    assert isinstance(gate, SharedRunGate)
    config = {"redis_url": redis_url, "database_url": pg_url, "content_dir": str(SAMPLE_BANK)}
    try:
        with child("hold", **config, user="ada", cooldown_s=5.0) as b:
            assert said(b) == {"held": True}
            with pytest.raises(StillRunning):
                await gate.admit("ada")
            with pytest.raises(StillRunning):
                async with gate.hold("ada"):
                    pass
            async with gate.hold("bob"):  # another learner is not held up
                pass
            tell(b)
            assert said(b) == {"released": True}
        with pytest.raises(CoolingDown, match=r"Please wait [1-5] s"):
            await gate.admit("ada")
        await asyncio.sleep(5.1)
        await gate.admit("ada")  # the cooldown is over, for every process

        with child("hold", **config, user="cy", lease_s=4.0) as c:
            assert said(c) == {"held": True}
            c.kill()  # kill -9 mid-run: nothing releases Cy's run
            c.wait(30)
            with pytest.raises(StillRunning):
                await gate.admit("cy")
            await asyncio.sleep(4.1)
        await gate.admit("cy")  # the dead process's mark expired with its lease
    finally:
        await services.close()


def test_the_shared_redis_is_the_fleets_unless_given_and_is_a_secret() -> None:
    from pydantic import ValidationError

    from bot.settings import RunnerSettings

    assert Settings().shared_redis_url() is None  # the embedded default shares nothing
    fleet = RunnerSettings(url=SecretStr("redis://:fleet-secret@10.0.0.5:6379/0"))
    assert Settings(runner=fleet).shared_redis_url() == "redis://:fleet-secret@10.0.0.5:6379/0"
    own = Settings(runner=fleet, redis_url=SecretStr("redis://:hunter2@10.0.0.7:6379/1"))
    assert own.shared_redis_url() == "redis://:hunter2@10.0.0.7:6379/1"
    assert "hunter2" not in repr(own) and "hunter2" not in own.model_dump_json()
    with pytest.raises(ValidationError, match="must be redis://"):
        Settings(redis_url=SecretStr("http://10.0.0.7/"))
