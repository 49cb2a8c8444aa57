"""Several bot processes, each running some of the Discord shards (the cluster pattern,
docs/deploy.md "Shard clusters"), sharing one PostgreSQL database and one Redis.

What must hold across those processes lives in Redis:

- ``IdentifyLock``: Discord lets a bot start (IDENTIFY) one session per ``max_concurrency``
  bucket (``shard_id % max_concurrency``) every 5 seconds, whichever process starts it. The
  bot's ``before_identify_hook`` waits here for its bucket's turn: a key set with ``NX PX 5000``
  is the turn, and it is never released early, so its expiry *is* the 5-second spacing.
- ``SharedRunGate``: one snippet per learner at a time and the cooldown after it, for every
  process (the in-process ``bot.runner.gate.RunGate`` is the single-process default).

Nothing here is imported without a shared Redis (redis-py costs 0.2 s to import).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bot.runner.fleet import call, connect
from bot.runner.gate import CoolingDown, StillRunning
from bot.runner.pool import RunRefused

log = logging.getLogger(__name__)

PREFIX = "tutor:cluster:"
IDENTIFY_INTERVAL_S = 5.0  # Discord: one IDENTIFY per bucket per 5 s
GATE_LEASE_S = 30.0  # a learner's running mark outlives a dead bot process this long, at most
POLL_MAX_S = 1.0  # how long a waiting IDENTIFY sleeps at most before asking again


class SharedUnreachable(RunRefused):
    def __init__(self) -> None:
        super().__init__("Snippets cannot be started right now (the bot's shared state is "
                         "unreachable); try again in a minute.")  # fmt: skip


# KEYS: the bucket's key. ARGV: owner, interval ms. Returns 0 when this IDENTIFY may go now,
# else the milliseconds until the bucket's current turn ends.
_IDENTIFY = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 0 end
local left = redis.call('PTTL', KEYS[1])
if left < 1 then return 1 end
return left
"""


class IdentifyLock:
    """Waits for a shard's turn to IDENTIFY, across every process on this Redis."""

    def __init__(self, redis: aioredis.Redis, *, interval_s: float = IDENTIFY_INTERVAL_S) -> None:
        self.redis = redis
        self.interval_s = interval_s
        self.owner = f"{socket.gethostname()}-{os.getpid()}"

    async def wait_turn(self, shard_id: int, max_concurrency: int) -> None:
        bucket = shard_id % max(1, max_concurrency)
        key = f"{PREFIX}identify:{bucket}"
        interval_ms = max(1, int(self.interval_s * 1000))
        while True:
            try:
                left = await call(
                    self.redis, _IDENTIFY, [key], f"{self.owner}:{shard_id}", interval_ms
                )
            except RedisError as exc:
                # Without Redis, pace this process's own shards as discord.py does; Discord
                # answers an IDENTIFY too early with a rate limit, and discord.py retries.
                log.warning("IDENTIFY turns: the shared Redis cannot be reached: %s", exc)
                await asyncio.sleep(self.interval_s)
                return
            if int(left) == 0:
                log.info("shard %s may IDENTIFY (bucket %s)", shard_id, bucket)
                return
            await asyncio.sleep(min(int(left) / 1000, POLL_MAX_S))


# KEYS: running mark, cooldown. ARGV: token ('' to only check), lease ms.
# Returns -1 (still running), the cooldown's milliseconds left, or 0 (admitted; marked running
# with the token when one was given).
_ADMIT = """
if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
local wait = redis.call('PTTL', KEYS[2])
if wait > 0 then return wait end
if ARGV[1] ~= '' then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) end
return 0
"""

# KEYS: running mark, cooldown. ARGV: token, cooldown ms. The mark is ours to drop only if it
# still holds our token (it may have expired and been taken by another process since).
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
if tonumber(ARGV[2]) > 0 then redis.call('SET', KEYS[2], '1', 'PX', ARGV[2]) end
return 0
"""

# KEYS: running mark. ARGV: token, lease ms.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""


class SharedRunGate:
    """``RunGate`` in Redis: the same refusals, for every bot process sharing it."""

    def __init__(
        self, redis: aioredis.Redis, cooldown_s: float, *, lease_s: float = GATE_LEASE_S
    ) -> None:
        self.redis = redis
        self.cooldown_s = cooldown_s
        self.lease_s = lease_s

    @staticmethod
    def _keys(user: str) -> list[str]:
        return [f"{PREFIX}running:{user}", f"{PREFIX}cooldown:{user}"]

    async def _admit(self, user: str, token: str) -> None:
        try:
            answer = int(
                await call(self.redis, _ADMIT, self._keys(user), token, int(self.lease_s * 1000))
            )
        except RedisError as exc:
            log.error("the shared Redis cannot be reached: %s", exc)
            raise SharedUnreachable() from exc
        if answer < 0:
            raise StillRunning()
        if answer > 0:
            raise CoolingDown(answer / 1000)

    async def admit(self, user: str) -> None:
        await self._admit(user, "")

    @contextlib.asynccontextmanager
    async def hold(self, user: str) -> AsyncIterator[None]:
        token = uuid.uuid4().hex
        await self._admit(user, token)
        renewing = asyncio.ensure_future(self._renew(user, token))
        try:
            yield
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
            try:
                await call(
                    self.redis, _RELEASE, self._keys(user), token, int(self.cooldown_s * 1000)
                )
            except RedisError as exc:  # the mark expires by itself after the lease
                log.warning("could not release a learner's run in the shared Redis: %s", exc)

    async def _renew(self, user: str, token: str) -> None:
        while True:
            await asyncio.sleep(self.lease_s / 3)
            with contextlib.suppress(RedisError):
                await call(
                    self.redis, _RENEW, self._keys(user)[:1], token, int(self.lease_s * 1000)
                )


__all__ = ["IdentifyLock", "SharedRunGate", "connect"]
