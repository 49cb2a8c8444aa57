"""The dashboard's token-check limit in Redis: one budget per client for every web process on
that Redis (several ``python -m bot web`` behind a load balancer, docs/deploy.md), where the
in-memory ``RateLimit`` would give an attacker one budget per process.

Imported only when a shared Redis is configured (redis-py costs 0.2 s to import).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import time
from collections.abc import Callable

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bot.logs import redact
from bot.runner.fleet import call
from bot.web.security import RateLimit

log = logging.getLogger(__name__)

PREFIX = "tutor:web:token-checks:"
# A check takes well under a millisecond on a reachable Redis. redis-py retries a refused
# connection with back-off for seconds, and a host that drops packets would hold a login for
# minutes: past this, the check is answered without Redis.
TIMEOUT_S = 1.0
# After a failure, how long this process limits on its own before asking Redis again, so that
# an outage costs one request a timeout now and then, not every request.
RETRY_S = 10.0

# A sliding window per client: a sorted set of the times of its counted checks.
# Why a Lua script: the count and the check must be one step, or two web processes could both
# read 19 of 20 and both admit; a script runs alone on the server, and unlike MULTI it can
# decide between reading and writing (only an admitted check is counted, as in memory).
# Why a sorted set and not fixed windows (INCR + EXPIRE): it is exactly the in-memory limit, at
# most `limit` checks in any `period`, where fixed windows admit twice the limit across a
# window's edge; it costs at most `limit` small members per client.
# The key expires one period after its last counted check: nothing stays behind a client.
# KEYS: the client's window. ARGV: now (ms), period (ms), limit, a member unique to this check.
# Returns 1 (admitted and counted) or 0 (refused).
_CHECK = """
local now, period = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - period)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], period)
return 1
"""


def window_key(client: str) -> str:
    """The Redis key of a client's window. The address is hashed so that a listing of keys
    shows none (addresses are few, so this keeps them from a glance, not from a search); a
    token never reaches Redis at all."""
    digest = hashlib.sha256(client.encode("utf-8", "surrogateescape")).hexdigest()
    return PREFIX + digest[:32]


class RedisRateLimit:
    """At most ``limit`` token checks per ``period_s`` per client, counted in Redis for every
    web process on it (a ``TokenCheckLimit``).

    ``clock`` is wall time (``time.time``), the one clock processes on several machines share;
    tests inject their own. Web hosts keep their clocks synchronised (NTP): a host whose clock is
    off by s seconds moves its checks by s in a 60-second window.

    Redis unreachable (down, or slower than ``timeout_s``): this process falls back to an
    in-memory limit of the same size, as a process without Redis has, so moderators can still
    log in and guessing stays limited (per process, while it lasts); logged once per outage.
    Refusing every check instead (503) would lock moderators out of a dashboard that needs
    only the database. Redis is asked again ``retry_s`` after each failure."""

    def __init__(
        self,
        redis: aioredis.Redis,
        limit: int,
        period_s: float = 60.0,
        clock: Callable[[], float] = time.time,
        *,
        timeout_s: float = TIMEOUT_S,
        retry_s: float = RETRY_S,
    ) -> None:
        self.redis = redis
        self.limit = limit
        self.period_s = period_s
        self.clock = clock
        self.timeout_s = timeout_s
        self.retry_s = retry_s
        self.fallback = RateLimit(limit, period_s, clock)
        self._down_until: float | None = None  # None: Redis answered last time

    async def check(self, client: str) -> bool:
        now = self.clock()
        if self._down_until is not None and now < self._down_until:
            return self.fallback.allow(client)
        now_ms = int(now * 1000)
        try:
            async with asyncio.timeout(self.timeout_s):
                admitted = await call(
                    self.redis, _CHECK, [window_key(client)],
                    now_ms, int(self.period_s * 1000), self.limit,
                    f"{now_ms}-{secrets.token_hex(8)}",
                )  # fmt: skip
        except (RedisError, OSError, TimeoutError) as exc:
            self._redis_down(now, exc)
            return self.fallback.allow(client)
        if self._down_until is not None:
            self._down_until = None
            log.warning("token-check limit: the shared Redis answers again; one budget again")
        return int(admitted) == 1

    def _redis_down(self, now: float, exc: BaseException) -> None:
        if self._down_until is None:
            # The exception's class and message (a host and port at most, URL credentials
            # redacted), never the URL this client was made from.
            reason = type(exc).__name__ + (f": {redact(str(exc))}" if str(exc) else "")
            log.warning(
                "token-check limit: the shared Redis cannot be reached (%s); this web process "
                "limits token checks on its own until it answers (asked again every %g s)",
                reason,
                self.retry_s,
            )
        self._down_until = now + self.retry_s
