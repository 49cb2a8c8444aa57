"""The runner through Redis versus the local runner service (``python -m bench runner --fleet``).
A benchmark, not a test: it prints a table and writes it to bench/RESULTS-fleet.md.

Everything runs on this machine: a throwaway Redis server (tests/runner/redis_server.py), the
local runner service as the bot starts it (bot.runner.local), and fleet hosts as processes
(``python -m bot runner serve --url``), one warm worker each.

(1) transport: a verified content result (answered from the runner's cache, no sandbox), so
    the figure is what the way to the runner costs: Unix socket vs Redis Streams + BLPOP.
(2) a small snippet end to end with a warm worker free (each sample waits until the worker
    used by the last one has been replaced).
(3) throughput: SNIPPETS small snippets from as many learners at once, through the local
    service, one fleet host and two (on this one machine the two hosts share its cores).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import cast

from pydantic import SecretStr

from bench.runner import _machine, _pct
from bot.runner.cache import ResultCache
from bot.runner.fleet import IDLE, FleetRunner
from bot.runner.local import LocalService
from bot.runner.result import RunResult, Status
from bot.runner.service import READY
from bot.settings import RunnerSettings, Settings
from tests.runner.redis_server import redis_server

RESULTS = Path(__file__).with_name("RESULTS-fleet.md")
TRANSPORT_SAMPLES = 50
SNIPPET_SAMPLES = 8
SNIPPETS = 8
CACHED = "print('a verified content snippet')\n"
SMALL = (
    "import tensorflow as tf\n"
    "model = tf.keras.Sequential([tf.keras.Input((8,)), tf.keras.layers.Dense(5)])\n"
)


@contextlib.asynccontextmanager
async def _hosts(settings: RunnerSettings, count: int) -> AsyncIterator[None]:
    env = dict(os.environ, TUTOR_RUNNER=settings.model_dump_json(exclude={"url"}))
    assert settings.url is not None
    url = settings.url.get_secret_value()  # a secret: not in the JSON of the settings
    started = []
    try:
        for n in range(count):
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "runner", "serve", "--name", f"bench{n}",
                "--url", url, stdout=asyncio.subprocess.PIPE, env=env,
            )  # fmt: skip
            started.append(process)
            assert process.stdout is not None
            assert await process.stdout.readline() == READY
        yield
    finally:
        for process in started:
            process.terminate()
        for process in started:
            await process.wait()


async def _fleet_idle(client: FleetRunner, hosts: int) -> None:
    """Until every host reports a warm worker free (hosts report at each heartbeat)."""
    while True:
        idle = await cast(Awaitable[dict[str, str]], client.redis.hgetall(IDLE))
        if sum(int(v) > 0 for v in idle.values()) >= hosts:
            return
        await asyncio.sleep(0.05)


async def _timed(run: Awaitable[RunResult]) -> float:
    started = time.perf_counter()
    result = await run
    assert result.status is Status.OK, result
    return time.perf_counter() - started


async def _local(settings: RunnerSettings) -> tuple[list[float], list[float]]:
    service = LocalService(settings)
    try:
        await service.start()
        await service.wait_idle()
        transport = [
            await _timed(service.run(CACHED, "bench")) for _ in range(TRANSPORT_SAMPLES)
        ]
        snippet = []
        for _ in range(SNIPPET_SAMPLES):
            await service.wait_idle()
            snippet.append(await _timed(service.run(SMALL, "bench", use_cache=False)))
        return transport, snippet
    finally:
        await service.close()


async def _fleet(settings: RunnerSettings) -> tuple[list[float], list[float]]:
    client = FleetRunner(settings)
    try:
        async with _hosts(settings, 1):
            await _fleet_idle(client, 1)
            transport = [
                await _timed(client.run(CACHED, "bench")) for _ in range(TRANSPORT_SAMPLES)
            ]
            snippet = []
            for _ in range(SNIPPET_SAMPLES):
                await _fleet_idle(client, 1)
                snippet.append(await _timed(client.run(SMALL, "bench", use_cache=False)))
        return transport, snippet
    finally:
        await client.close()


def _row(name: str, values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return (
        f"| {name} | {len(ms)} | {_pct(ms, 0.5):.1f} | {_pct(ms, 0.9):.1f} | "
        f"{min(ms):.1f} | {max(ms):.1f} |"
    )


async def _burst(runner: LocalService | FleetRunner) -> float:
    """Snippets per second, SNIPPETS of them from as many learners, all sent at once."""
    started = time.perf_counter()
    runs = (runner.run(SMALL, f"learner{n}", use_cache=False) for n in range(SNIPPETS))
    await asyncio.gather(*map(_timed, runs))
    return SNIPPETS / (time.perf_counter() - started)


async def _throughput_local(settings: RunnerSettings) -> float:
    service = LocalService(settings)
    try:
        await service.start()
        await service.wait_idle()
        return await _burst(service)
    finally:
        await service.close()


async def _throughput(settings: RunnerSettings, hosts: int) -> float:
    client = FleetRunner(settings)
    try:
        async with _hosts(settings, hosts):
            await _fleet_idle(client, hosts)
            return await _burst(client)
    finally:
        await client.close()


async def main(settings: Settings) -> int:
    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as tmp, redis_server() as url:
        base = settings.runner.model_copy(
            update={
                "workers": 1, "cache_dir": Path(tmp) / "cache", "socket_path": Path(tmp) / "r.sock",
                "heartbeat_s": 0.2, "queue_limit": SNIPPETS,
                # Not the content's verification in the background (a runner service starts it
                # by default): its runs took the one worker between the measured snippets.
                "prefill_cache": False,
            }
        )  # fmt: skip
        ResultCache(base.cache_dir).put(CACHED, RunResult(Status.OK, stdout="cached\n"))
        fleet = base.model_copy(update={"url": SecretStr(url)})
        print(f"Benchmarking the runner fleet on {_machine()}", file=sys.stderr)
        local_t, local_s = await _local(base)
        fleet_t, fleet_s = await _fleet(fleet)
        local = await _throughput_local(base)
        one, two = await _throughput(fleet, 1), await _throughput(fleet, 2)
    added = {
        "t": (statistics.median(fleet_t) - statistics.median(local_t)) * 1000,
        "s": (statistics.median(fleet_s) - statistics.median(local_s)) * 1000,
    }
    lines = [
        "# Runner fleet benchmark",
        "",
        f"Machine: {_machine()}.",
        f"One warm worker per runner (warm-up {list(base.warmup_models)}); Redis on 127.0.0.1; "
        f"generated by `python -m bench runner --fleet` on {time.strftime('%Y-%m-%d')}.",
        "",
        "| measure (milliseconds, end to end) | n | p50 | p90 | min | max |",
        "| --- | --- | --- | --- | --- | --- |",
        _row("(1) cached result, local runner service (Unix socket)", local_t),
        _row("(1) cached result, through Redis (one fleet host)", fleet_t),
        _row("(2) small snippet, local runner service", local_s),
        _row("(2) small snippet, through Redis (one fleet host)", fleet_s),
        "",
        f"- added by Redis, p50: **{added['t']:.1f} ms** on the transport alone, "
        f"**{added['s']:.1f} ms** on a small snippet (goal: within 20 ms of local)",
        f"- throughput, {SNIPPETS} small snippets from {SNIPPETS} learners at once: "
        f"**{local:.2f}/s** through the local runner service, **{one:.2f}/s** through Redis "
        f"with one host, **{two:.2f}/s** with two (both hosts on this one machine, sharing its "
        "cores; single-use workers, so a runner's rate is bound by how fast it forks and "
        "readies the next worker)",
        f"- load average when it ended: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
        "(other work on the machine slows the workers, and so the throughput)",
    ]
    table = "\n".join(lines) + "\n"
    print(table)
    RESULTS.write_text(table, encoding="utf-8")
    print(f"written to {RESULTS}", file=sys.stderr)
    return 0
