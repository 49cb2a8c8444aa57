"""A runner fleet on Redis Streams: the bot's side (``FleetRunner``) and what hosts share.

Jobs are entries of one stream, read by the runner hosts (bot.runner.host) through one
consumer group, each host taking one only when it has a warm worker free. Everything that must
hold across bot processes lives in Redis and changes in one script at a time, so two bot
processes can never both admit a learner's second snippet:

- admission (``_ADMIT``): a runner host is up, the learner has no snippet queued or running
  (a lock, ``SET NX``-style, renewed while the bot waits), their cooldown has passed, and fewer
  than ``queue_limit`` snippets wait; then the job is added to the stream.
- positions (``_POSITION``): undelivered entries up to ours; hosts publish on a channel when they
  take a job, and waiting bots recount then (no polling).
- results: the host pushes the final message (bot.runner.wire) to a list per job; the bot waits
  on it with ``BLPOP``.
- a host that dies mid-job stops renewing its pending entry; after ``lost_after_s`` anyone (a
  host or a waiting bot) claims it with ``XAUTOCLAIM`` and answers it ``lost``, in the same script
  that acknowledges and deletes it: it is never delivered, so never run, again.

Keys live under ``tutor:runner:``; see docs/deploy.md for the layout.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable
from typing import Any, cast

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from bot.runner.gate import CoolingDown
from bot.runner.pool import (
    AlreadyRunning,
    PositionCallback,
    QueueFull,
    RunRefused,
    refuse_before_admitting,
)
from bot.runner.result import RunResult, lost_result
from bot.runner.wire import decode, final
from bot.settings import RunnerSettings

log = logging.getLogger(__name__)

PREFIX = "tutor:runner:"
STREAM = PREFIX + "jobs"
GROUP = "hosts"
HOSTS = PREFIX + "hosts"  # sorted set: host name -> until when (ms) it counts as up
IDLE = PREFIX + "idle"  # hash: host name -> warm workers free at its last heartbeat
DONE = PREFIX + "done"  # hash: host name -> jobs it answered (for operators and tests)
MOVED = PREFIX + "moved"  # channel: the queue moved (a job was taken or withdrawn)
RESULT_TTL_S = 600  # a result nobody collected (its bot died) is dropped after this
LOCK_TTL_S = 30.0  # a learner's lock outlives a dead bot process this long, at most
WAIT_ROUND_S = 1.0  # how long one BLPOP blocks before the lock is renewed and the lost reaped
REAPER = "reaper"  # the consumer that lost jobs are claimed to, and acknowledged at once
FIRST_POSITION_S = 0.2  # a job a free host takes at once is never shown a place in the queue


def user_key(user: str) -> str:
    return f"{PREFIX}user:{user}"


def cooldown_key(user: str) -> str:
    return f"{PREFIX}cooldown:{user}"


def result_key(job_id: str) -> str:
    return f"{PREFIX}result:{job_id}"


# Redis TIME in milliseconds, in a script.
_NOW = "local t = redis.call('TIME'); local now = t[1] * 1000 + math.floor(t[2] / 1000)\n"

# KEYS: stream, hosts, user lock, cooldown. ARGV: group, queue limit, lock ttl ms, code, user,
# use_cache. Returns {'ok', id, place} or a refusal {'nohost'|'running'|'full'} /
# {'cooldown', ms}.
_ADMIT = (
    _NOW
    + """
if redis.call('ZCOUNT', KEYS[2], now, '+inf') == 0 then return {'nohost'} end
if redis.call('EXISTS', KEYS[3]) == 1 then return {'running'} end
local wait = redis.call('PTTL', KEYS[4])
if wait > 0 then return {'cooldown', wait} end
local pending = redis.call('XPENDING', KEYS[1], ARGV[1])[1]
local waiting = redis.call('XLEN', KEYS[1]) - pending
if waiting >= tonumber(ARGV[2]) then return {'full'} end
local id = redis.call('XADD', KEYS[1], '*', 'code', ARGV[4], 'user', ARGV[5], 'use_cache', ARGV[6])
redis.call('SET', KEYS[3], id, 'PX', ARGV[3])
return {'ok', id, waiting + 1}
"""
)

# KEYS: stream, hosts, moved channel. ARGV: group, id, withdraw ('1': take the job out if it
# still waits). Returns the job's place among the waiting (1: next), 0 once a host has it, -1
# when it was withdrawn (asked, or because no runner host is up any more).
_POSITION = (
    _NOW
    + """
local last = '0-0'
for _, g in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  local name, delivered
  for i = 1, #g, 2 do
    if g[i] == 'name' then name = g[i + 1] end
    if g[i] == 'last-delivered-id' then delivered = g[i + 1] end
  end
  if name == ARGV[1] then last = delivered end
end
local ahead = redis.call('XRANGE', KEYS[1], '(' .. last, ARGV[2])
if #ahead == 0 or ahead[#ahead][1] ~= ARGV[2] then return 0 end
if ARGV[3] == '1' or redis.call('ZCOUNT', KEYS[2], now, '+inf') == 0 then
  redis.call('XDEL', KEYS[1], ARGV[2])
  redis.call('PUBLISH', KEYS[3], ARGV[2])
  return -1
end
return #ahead
"""
)

# KEYS: user lock, cooldown. ARGV: job id, cooldown ms. The lock goes only if it is still ours.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
if tonumber(ARGV[2]) > 0 then redis.call('SET', KEYS[2], '1', 'PX', ARGV[2]) end
return 1
"""

# KEYS: stream. ARGV: group, reaper name, idle ms, lost result (JSON), result key prefix,
# result ttl s. Claims every entry whose host stopped renewing it, answers it lost, and
# acknowledges and deletes it in the same step. Returns the ids answered.
_REAP = """
local claimed = redis.call(
  'XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], '0-0', 'COUNT', 100, 'JUSTID')
local ids = claimed[2]
for _, id in ipairs(ids) do
  local key = ARGV[5] .. id
  redis.call('RPUSH', key, ARGV[4])
  redis.call('EXPIRE', key, ARGV[6])
  redis.call('XACK', KEYS[1], ARGV[1], id)
  redis.call('XDEL', KEYS[1], id)
end
return ids
"""


class NoRunners(RunRefused):
    def __init__(self) -> None:
        super().__init__("No runner is up right now; try again in a minute.")


class FleetUnreachable(RunRefused):
    def __init__(self) -> None:
        super().__init__("The runners cannot be reached right now; try again in a minute.")


async def call(redis: aioredis.Redis, script: str, keys: list[str], *args: object) -> Any:
    """Run a Lua script: each runs alone on the server, so its checks and writes are one step."""
    return await cast(Awaitable[Any], redis.eval(script, len(keys), *keys, *args))  # type: ignore[arg-type]


async def ensure_group(redis: aioredis.Redis) -> None:
    """The stream and its consumer group, created by whoever comes first."""
    with contextlib.suppress(ResponseError):  # BUSYGROUP: it exists
        await redis.xgroup_create(STREAM, GROUP, id="0", mkstream=True)


async def reap(redis: aioredis.Redis, lost_after_s: float) -> list[str]:
    """Answer ``lost`` for every job whose host went silent; returns their ids."""
    lost = json.dumps({"result": lost_result().to_dict()})
    ids: list[str] = await call(
        redis, _REAP, [STREAM], GROUP, REAPER, int(lost_after_s * 1000), lost,
        result_key(""), RESULT_TTL_S,
    )  # fmt: skip
    for job_id in ids:
        log.error("runner job %s lost: its host stopped while running it", job_id)
    return ids


def connect(url: str) -> aioredis.Redis:
    return aioredis.Redis.from_url(url, decode_responses=True)


class FleetRunner:
    """A SnippetRunner that sends every job through Redis to the fleet's hosts.

    ``cooldown_s``: the pause between one learner's runs, held in Redis for every bot process."""

    def __init__(self, settings: RunnerSettings, *, cooldown_s: float = 0.0) -> None:
        assert settings.url is not None
        self.settings = settings
        self.cooldown_s = cooldown_s
        self.redis = connect(settings.url.get_secret_value())
        self._moved = asyncio.Event()
        self._listener: asyncio.Task[None] | None = None
        self._ready = False
        self._closed = False

    async def start(self) -> None:
        """Create the stream if need be. Redis being down is not fatal: runs are refused
        (FleetUnreachable) until it is back."""
        if self._ready:
            return
        try:
            await ensure_group(self.redis)
        except RedisError as exc:
            log.error("the runner fleet's Redis cannot be reached: %s", exc)
            raise FleetUnreachable() from exc
        self._ready = True

    async def close(self) -> None:
        self._closed = True
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        await self.redis.aclose()

    async def run(
        self,
        code: str,
        user: str,
        on_position: PositionCallback | None = None,
        *,
        use_cache: bool = True,
    ) -> RunResult:
        refuse_before_admitting(self._closed, code, self.settings.code_limit_bytes)
        await self.start()
        try:
            job_id = await self._admit(code, user, use_cache)
        except RedisError as exc:
            log.error("the runner fleet's Redis cannot be reached: %s", exc)
            raise FleetUnreachable() from exc
        started = time.monotonic()
        watcher = asyncio.ensure_future(self._watch_position(job_id, on_position))
        try:
            return await self._result(job_id, user, watcher)
        except RedisError as exc:
            # The job may still run and its result expire unread; the learner is told now.
            log.error("lost touch with the runner fleet's Redis: %s", exc)
            raise FleetUnreachable() from exc
        except asyncio.CancelledError:
            # The caller gave up: a job still waiting leaves the queue (a running one finishes
            # on its host, and its result expires unread).
            with contextlib.suppress(RedisError):
                await self._position(job_id, withdraw=True)
            raise
        finally:
            watcher.cancel()
            if watcher.done() and not watcher.cancelled() and watcher.exception():
                log.debug("position watcher ended: %r", watcher.exception())
            cooldown_ms = int(self.cooldown_s * 1000)
            with contextlib.suppress(RedisError):
                await call(
                    self.redis, _RELEASE, [user_key(user), cooldown_key(user)], job_id, cooldown_ms
                )
            log.debug("fleet job %s took %.3f s", job_id, time.monotonic() - started)

    async def _admit(self, code: str, user: str, use_cache: bool) -> str:
        s = self.settings
        answer = await call(
            self.redis, _ADMIT, [STREAM, HOSTS, user_key(user), cooldown_key(user)],
            GROUP, s.queue_limit, int(LOCK_TTL_S * 1000), code, user, int(use_cache),
        )  # fmt: skip
        match answer:
            case ["ok", job_id, _]:
                return str(job_id)
            case ["nohost"]:
                raise NoRunners()
            case ["running"]:
                raise AlreadyRunning()
            case ["cooldown", wait_ms]:
                raise CoolingDown(int(wait_ms) / 1000)
            case ["full"]:
                raise QueueFull(s.queue_limit)
        raise RuntimeError(f"unexpected admission answer {answer!r}")

    async def _result(self, job_id: str, user: str, watcher: asyncio.Task[None]) -> RunResult:
        key = result_key(job_id)
        while True:
            item = await cast(Awaitable[list[str] | None], self.redis.blpop([key], WAIT_ROUND_S))
            if item is not None:
                result = final(decode(item[1]))
                assert result is not None  # hosts push final messages only
                return result
            gone = watcher.done() and not watcher.cancelled() and watcher.exception()
            if isinstance(gone, NoRunners):
                raise NoRunners()  # withdrawn from the queue: no host left to take it
            await cast(Awaitable[int], self.redis.pexpire(user_key(user), int(LOCK_TTL_S * 1000)))
            await reap(self.redis, self.settings.lost_after_s)

    async def _position(self, job_id: str, *, withdraw: bool = False) -> int:
        place: int = await call(
            self.redis, _POSITION, [STREAM, HOSTS, MOVED], GROUP, job_id, "1" if withdraw else "0"
        )
        return place

    async def _watch_position(self, job_id: str, on_position: PositionCallback | None) -> None:
        """Tell ``on_position`` the job's place each time the queue moves, until a host has
        it. Ends the wait (NoRunners) if every host went away while it waited."""
        self._ensure_listener()
        shown = 0
        moved = self._moved
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(moved.wait(), FIRST_POSITION_S)
        while True:
            moved = self._moved
            place = await self._position(job_id)
            if place <= 0:
                if place < 0:
                    raise NoRunners()
                return
            if place != shown and on_position is not None:
                shown = place
                try:
                    outcome = on_position(place)
                    if outcome is not None:
                        await outcome
                except Exception:
                    log.exception("on_position callback failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(moved.wait(), 5.0)  # hosts coming and going

    def _ensure_listener(self) -> None:
        if self._listener is None or self._listener.done():
            self._listener = asyncio.ensure_future(self._listen())

    async def _listen(self) -> None:
        pubsub = self.redis.pubsub()
        await pubsub.subscribe(MOVED)
        try:
            async for message in pubsub.listen():
                if message.get("type") == "message":
                    moved, self._moved = self._moved, asyncio.Event()
                    moved.set()
        finally:
            await pubsub.aclose()
