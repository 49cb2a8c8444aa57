"""The dashboard's token-check limit with a shared Redis (several web processes behind a load
balancer, docs/deploy.md), against real redis-server processes: one budget per client for every
web process, a sliding window that comes back with time (an injected clock), nothing secret in
Redis, and what an outage does (each process falls back to its own limit, logged once, the
Redis URL nowhere). Without Redis the limit stays in memory, per process."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from bot.cluster import connect
from bot.services import Services
from bot.settings import WebSettings
from bot.web.app import create_app
from bot.web.security import RateLimit
from tests.runner import redis_server
from tests.web.helpers import MOD, Tokens, free_port, link_token, web_services

LIMIT = 6  # token checks per client and minute, in these tests
SETTINGS = WebSettings(port=8080, token_checks_per_minute=LIMIT)
START = 1_800_000_000.0  # the injected wall clock's start (seconds since the epoch)


@pytest.fixture
def tokens() -> Tokens:
    return Tokens()


@contextlib.asynccontextmanager
async def client_of(app: Starlette, address: str = "127.0.0.1") -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@contextlib.asynccontextmanager
async def web_process(bank, store, clock, tokens, redis_url: str | None) -> AsyncIterator[Services]:
    """The services of one `python -m bot web` process, from its settings (TUTOR_REDIS_URL),
    with a Redis client of its own."""
    services = await web_services(bank, store, clock, tokens, redis_url=redis_url)
    try:
        yield services
    finally:
        if services.redis is not None:
            await services.redis.aclose()
        await services.practice.close()


async def everything_in(redis_url: str) -> str:
    """Every key of the Redis and every member of its sorted sets, as one text."""
    redis = connect(redis_url)
    try:
        keys = await redis.keys("*")
        members = [m for key in keys for m in await redis.zrange(key, 0, -1)]
        return "\n".join(keys + members)
    finally:
        await redis.aclose()


async def test_two_web_processes_on_one_redis_share_one_budget_per_client(
    bank, store, clock, tokens, redis_url
):
    async with (
        web_process(bank, store, clock, tokens, redis_url) as a,
        web_process(bank, store, clock, tokens, redis_url) as b,
        client_of(create_app(a, SETTINGS)) as to_a,
        client_of(create_app(b, SETTINGS)) as to_b,
    ):
        # An attacker whose guesses the balancer spreads over both processes.
        for i in range(LIMIT):
            response = await (to_a, to_b)[i % 2].get(f"/dashboard/login/guess{i}")
            assert response.status_code == 403, i
        for process in (to_a, to_b):
            limited = await process.get("/dashboard/login/one-more")
            assert limited.status_code == 429 and limited.headers["retry-after"] == "60"
        to_b.cookies.set("tutor_dashboard", "guess", path="/dashboard")
        assert (await to_b.get("/dashboard")).status_code == 429  # a wrong cookie counts too
        # The budget is per client: a moderator elsewhere logs in through either process.
        token = link_token((await a.web.dashboard_link(MOD)).text)
        async with client_of(create_app(b, SETTINGS), address="10.0.0.7") as moderator:
            assert (await moderator.get(f"/dashboard/login/{token}")).status_code == 303
            assert (await moderator.get("/dashboard")).status_code == 200

    # Redis holds no token and no address: hashed keys, times as members; every key expires.
    stored = await everything_in(redis_url)
    for secret in ("guess", token, "127.0.0.1", "10.0.0.7"):
        assert secret not in stored
    redis = connect(redis_url)
    try:
        keys = await redis.keys("*")
        assert len(keys) == 2 and all(k.startswith("tutor:web:token-checks:") for k in keys)
        for key in keys:
            assert 0 < await redis.pttl(key) <= 60_000
    finally:
        await redis.aclose()


async def test_the_shared_budget_comes_back_as_its_window_slides(redis_url):
    from bot.web.shared_limit import RedisRateLimit

    now = [START]
    clients = [connect(redis_url), connect(redis_url)]
    a, b = (RedisRateLimit(c, 2, clock=lambda: now[0]) for c in clients)
    try:
        assert await a.check("203.0.113.9")  # at 0 s
        now[0] += 30
        assert await b.check("203.0.113.9")  # at 30 s
        assert not await a.check("203.0.113.9") and not await b.check("203.0.113.9")
        assert await b.check("198.51.100.1")  # another client
        now[0] = START + 59.9
        assert not await a.check("203.0.113.9")  # the first check is still in the window
        now[0] = START + 60.1
        assert await b.check("203.0.113.9")  # it left the window: one check back
        assert not await a.check("203.0.113.9")
        now[0] = START + 90.1
        assert await a.check("203.0.113.9")  # the second left too
    finally:
        for c in clients:
            await c.aclose()


async def test_a_redis_outage_falls_back_to_a_limit_per_process_logged_once(
    bank, store, clock, tokens, caplog
):
    """Redis stops: the process limits on its own (moderators still log in, guessing stays
    limited), says so once, never shows the URL or its password; Redis back: shared again."""
    from bot.web.shared_limit import RETRY_S, RedisRateLimit

    redis_server.require()
    caplog.set_level(logging.INFO)
    port, password = free_port(), "pw-" + "Q7x" * 8
    now = [START]
    pages: list[str] = []

    async def get(client: httpx.AsyncClient, path: str) -> int:
        response = await client.get(path)
        pages.append(f"{response.headers}\n{response.text}")
        return response.status_code

    async with web_process(bank, store, clock, tokens, None) as services:
        with redis_server.redis_server(port, password) as url:
            services.redis = connect(url)
            limiter = RedisRateLimit(services.redis, LIMIT, clock=lambda: now[0])
            async with client_of(create_app(services, SETTINGS, limiter)) as c:
                for i in range(LIMIT - 1):
                    assert await get(c, f"/dashboard/login/guess{i}") == 403
                assert "tutor:web:token-checks:" in await everything_in(url)
        # Redis is down now (the client's connections are gone with the server).
        async with client_of(create_app(services, SETTINGS, limiter)) as c:
            token = link_token((await services.web.dashboard_link(MOD)).text)
            assert await get(c, f"/dashboard/login/{token}") == 303  # not locked out
            assert await get(c, "/dashboard") == 200
            for i in range(LIMIT - 1):  # the gate stays: this process's own budget
                assert await get(c, f"/dashboard/login/down{i}") == 403
            assert await get(c, "/dashboard/login/down-more") == 429
            down = [r for r in caplog.records if "cannot be reached" in r.getMessage()]
            assert len(down) == 1 and down[0].levelno == logging.WARNING
            assert "limits token checks on its own" in down[0].getMessage()

            # Redis is back (empty: no persistence): after RETRY_S the budget is shared again.
            with redis_server.redis_server(port, password) as url:
                assert await get(c, "/dashboard/login/still-down") == 429  # not asked yet
                now[0] += RETRY_S + 1
                assert await get(c, "/dashboard/login/back") == 403
                assert "tutor:web:token-checks:" in await everything_in(url)
                back = [r for r in caplog.records if "answers again" in r.getMessage()]
                assert len(back) == 1
        await services.redis.aclose()
        services.redis = None

    logged = "\n".join(
        f"{r.getMessage()}\n{r.exc_text or ''}" for r in caplog.records if r.name != "httpx"
    )
    for secret in (password, url, f":{password}@"):
        assert secret not in logged
        assert not any(secret in page for page in pages)


async def test_a_redis_that_stops_answering_costs_a_check_its_timeout_only(redis_url):
    from bot.web.shared_limit import RedisRateLimit

    now = [START]
    admin, client = connect(redis_url), connect(redis_url)
    limiter = RedisRateLimit(client, 1, clock=lambda: now[0], timeout_s=0.3)
    try:
        assert await limiter.check("203.0.113.9")  # connected, one check counted
        await admin.execute_command("CLIENT", "PAUSE", 20_000, "ALL")  # hangs every command
        started = time.monotonic()
        assert await limiter.check("203.0.113.9")  # in memory: this process's first
        assert not await limiter.check("203.0.113.9")  # and its limit holds
        assert time.monotonic() - started < 10  # nowhere near the 20 s pause
    finally:
        await admin.execute_command("CLIENT", "UNPAUSE")
        await admin.aclose()
        await client.aclose()


async def test_without_redis_the_limit_stays_in_each_process_memory(bank, store, clock, tokens):
    from bot.web.app import token_check_limit

    async with (
        web_process(bank, store, clock, tokens, None) as a,
        web_process(bank, store, clock, tokens, None) as b,
    ):
        assert a.redis is None and isinstance(token_check_limit(a, SETTINGS), RateLimit)
        async with (
            client_of(create_app(a, SETTINGS)) as to_a,
            client_of(create_app(b, SETTINGS)) as to_b,
        ):
            for process in (to_a, to_b):  # each process has a budget of its own
                for i in range(LIMIT):
                    assert (await process.get(f"/dashboard/login/guess{i}")).status_code == 403
                assert (await process.get("/dashboard/login/more")).status_code == 429
