"""``python -m bot runner serve --url redis://...``: one runner host of a fleet.

The host serves its own pool (bot.runner.service.build_pool) and takes a job from the stream
(``XREADGROUP COUNT 1``) only when the pool has a warm worker free, so queued work always
goes to a host that can start it. While a job runs the host renews it every ``heartbeat_s``
(``XCLAIM`` to itself, which resets its idle time); if the host dies, the job goes quiet and is
answered ``lost`` by whoever reaps first (bot.runner.fleet). The result is delivered in one
script that first checks the job is still this host's, so a host that was presumed dead (a
long stall) never answers a job twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from typing import Any, cast

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from bot.runner.fleet import (
    DONE,
    GROUP,
    HOSTS,
    IDLE,
    MOVED,
    RESULT_TTL_S,
    STREAM,
    call,
    connect,
    ensure_group,
    reap,
    result_key,
)
from bot.runner.pool import Runner, RunRefused
from bot.runner.prefill import start_filling
from bot.runner.sandbox import SandboxUnavailable
from bot.runner.service import READY, build_pool
from bot.runner.wire import BadMessage, Job, outcome
from bot.settings import RunnerSettings
from bot.tutor.content import Bank

log = logging.getLogger(__name__)

# KEYS: stream, result list, jobs done per host. ARGV: group, host, id, message, ttl s.
# Delivers only if the job is still pending for this host (not reaped as lost meanwhile).
# Returns 1 if delivered.
_DELIVER = """
local mine = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1, ARGV[2])
if #mine == 0 then return 0 end
redis.call('HINCRBY', KEYS[3], ARGV[2], 1)
redis.call('RPUSH', KEYS[2], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[5])
redis.call('XACK', KEYS[1], ARGV[1], ARGV[3])
redis.call('XDEL', KEYS[1], ARGV[3])
return 1
"""


# KEYS: stream. ARGV: group. Entries not delivered to any host (the stream holds only those and
# the running ones: answered jobs are deleted).
_WAITING = """
return redis.call('XLEN', KEYS[1]) - redis.call('XPENDING', KEYS[1], ARGV[1])[1]
"""


def default_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class FleetHost:
    """Takes jobs from the fleet's stream into a local pool. ``run()`` until ``stop()``."""

    def __init__(self, settings: RunnerSettings, pool: Runner, name: str | None = None) -> None:
        assert settings.url is not None
        self.settings = settings
        self.pool = pool
        self.name = name or default_name()
        self.redis = connect(settings.url.get_secret_value())
        self.running: dict[str, asyncio.Task[None]] = {}
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self, on_ready: Callable[[], None] | None = None) -> None:
        """Take jobs until ``stop()``; ``on_ready`` once this host counts as up."""
        await ensure_group(self.redis)
        heart = asyncio.ensure_future(self._heartbeat())
        try:
            await self._beat()
            if on_ready is not None:
                on_ready()
            log.info("fleet host %s: taking jobs from %s", self.name, STREAM)
            await self._take_jobs()
        finally:
            # Jobs running finish (their sandbox limits bound them); no new ones are taken.
            if self.running:
                await asyncio.wait(
                    list(self.running.values()), timeout=self.settings.wall_timeout_s + 10
                )
            heart.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heart
            with contextlib.suppress(RedisError):
                await self.redis.zrem(HOSTS, self.name)
                await cast(Awaitable[int], self.redis.hdel(IDLE, self.name))
                if not self.running:  # nothing of ours pending: the group forgets us
                    await self.redis.xgroup_delconsumer(STREAM, GROUP, self.name)
            await self.redis.aclose()

    async def _take_jobs(self) -> None:
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            while not self._stopping.is_set():
                free = asyncio.ensure_future(self.pool.wait_free())
                await asyncio.wait({free, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if not free.done():
                    free.cancel()
                    return
                try:
                    await self._report_idle()
                    batch = await self.redis.xreadgroup(
                        GROUP, self.name, {STREAM: ">"}, count=1, block=1000
                    )
                except RedisConnectionError as exc:
                    log.error("fleet host %s: Redis unreachable (%s); retrying", self.name, exc)
                    await asyncio.sleep(1)
                    continue
                if not batch:
                    self.pool.expect_work(False)
                for _, entries in batch or ():
                    for job_id, fields in entries:
                        # Before the job takes its worker: the replacement the pool then starts
                        # skips the warm-up if more jobs wait (told after, it warmed up: ~0.5 s
                        # of a burst's first refill, measured with `bench runner --fleet`).
                        self.pool.expect_work(await self._waiting() > 0)
                        self.running[job_id] = asyncio.ensure_future(self._execute(job_id, fields))
                        # Let the pool hand the job its worker before we look for another.
                        await asyncio.sleep(0)
                        await self._report_idle()
                        await self.redis.publish(MOVED, job_id)
        finally:
            stopping.cancel()

    async def _execute(self, job_id: str, fields: dict[str, Any]) -> None:
        try:
            try:
                job = Job.from_dict({**fields, "use_cache": fields.get("use_cache") != "0"})
                # The fleet admitted it (one per learner across bots): the id is the pool's user.
                message = outcome(await self.pool.run(job.code, job_id, use_cache=job.use_cache))
            except (RunRefused, SandboxUnavailable, BadMessage) as exc:
                message = outcome(exc)
            delivered = await call(
                self.redis, _DELIVER, [STREAM, result_key(job_id), DONE],
                GROUP, self.name, job_id, json.dumps(message), RESULT_TTL_S,
            )  # fmt: skip
            if not delivered:
                log.warning("job %s was answered lost meanwhile; its result is dropped", job_id)
        except Exception:
            log.exception("fleet host %s: job %s failed", self.name, job_id)
        finally:
            self.running.pop(job_id, None)

    async def _beat(self) -> None:
        s = self.settings
        now_ms = int((await self.redis.time())[0]) * 1000
        # Up until as long a silence as makes its jobs lost: a busy host is not gone.
        await self.redis.zadd(HOSTS, {self.name: now_ms + int(s.lost_after_s * 1000)})
        await self._report_idle()
        if self.running:
            # Renew our running jobs: claimed by ourselves, their idle time starts again.
            await self.redis.xclaim(STREAM, GROUP, self.name, 0, list(self.running), justid=True)
        await reap(self.redis, s.lost_after_s)

    async def _waiting(self) -> int:
        """Jobs in the stream that no host has taken yet."""
        return int(await call(self.redis, _WAITING, [STREAM], GROUP))

    async def _report_idle(self) -> None:
        """Warm workers free, for operators (and the benchmark): at each heartbeat, when a
        worker frees up, and when a job takes one."""
        idle = str(self.pool.stats()["idle"])
        await cast(Awaitable[int], self.redis.hset(IDLE, self.name, idle))

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.settings.heartbeat_s)
            try:
                await self._beat()
            except RedisError as exc:
                log.error("fleet host %s: heartbeat failed: %s", self.name, exc)


async def serve_fleet(
    settings: RunnerSettings, name: str | None = None, bank: Bank | None = None
) -> int:
    """A fleet host until SIGTERM/SIGINT; with ``bank``, filling the results cache meanwhile
    (bot.runner.prefill; hosts sharing a cache directory each fill it, which only repeats
    work)."""
    pool = build_pool(settings)
    try:
        await pool.start()
    except SandboxUnavailable as exc:
        log.error("this host cannot run snippets: %s", exc)
        return 1
    host = FleetHost(settings, pool, name)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, host.stop)

    def ready() -> None:  # on stdout for whoever started us (tests, a supervisor)
        sys.stdout.buffer.write(READY)
        sys.stdout.flush()

    filling = start_filling(pool, bank)
    try:
        await host.run(ready)
    finally:
        if filling is not None:
            filling.cancel()
        await pool.close()
    return 0
