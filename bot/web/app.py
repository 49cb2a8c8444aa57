"""The web app (Starlette, server-rendered Jinja2 templates): the public leaderboards here, the
moderator dashboard in ``bot/web/dashboard.py``.

It reads and acts through the shared services (``bot.services``), as the Discord and terminal
frontends do. Every name on a page goes through Jinja's autoescaping; no page needs JavaScript.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from bot.services import Services
from bot.settings import WebSettings
from bot.tutor.dashboard import LOCAL
from bot.tutor.service import Window
from bot.tutor.webstats import search, shared_ranks
from bot.web.security import RateLimit, SecurityHeaders, TokenCheckLimit

HERE = Path(__file__).parent
PAGE_SIZE = 25
# A leaderboard page ranks everyone (shared ranks need the learners above); beyond this many,
# the page says it shows the top ones only.
MAX_RANKED = 10_000


def templates() -> Environment:
    # Autoescape every template, whatever its name: names are chosen by users.
    return Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


class Web:
    """What the routes share: the services, the templates, the token-check limiter."""

    def __init__(self, services: Services, settings: WebSettings, limiter: TokenCheckLimit) -> None:
        self.services = services
        self.settings = settings
        self.env = templates()
        self.limiter = limiter

    def now(self) -> datetime:
        return self.services.web.now()

    def page(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = self.env.get_template(template).render(**context)
        return HTMLResponse(html, status_code=status)

    def message(self, title: str, text: str, status: int) -> HTMLResponse:
        return self.page("message.html", status, title=title, text=text)


def web_of(request: Request) -> Web:
    web: Web = request.app.state.web
    return web


async def index(request: Request) -> Response:
    web = web_of(request)
    local = await web.services.web.leaderboard_public(*LOCAL)
    return web.page("index.html", local=local)


async def local_board(request: Request) -> Response:
    return await _board(request, *LOCAL, title="Terminal learners (this machine)")


async def guild_board(request: Request) -> Response:
    platform = request.path_params["platform"]
    guild = request.path_params["guild"]
    if platform == LOCAL[0]:  # terminal data has its own page
        return not_public(web_of(request))
    return await _board(request, platform, guild, title="Server leaderboard")


def not_public(web: Web) -> Response:
    # The same answer for a private board and one that does not exist: no probing for servers.
    return web.message(
        "Not public",
        "This leaderboard is not public. A moderator can publish it with "
        "/mod settings web-leaderboard on.",
        404,
    )


async def _board(request: Request, platform: str, guild: str, title: str) -> Response:
    web = web_of(request)
    if not await web.services.web.leaderboard_public(platform, guild):
        return not_public(web)
    params = request.query_params
    topics = web.services.bank.topics
    window_name = params.get("window", "all")
    topic = params.get("topic", "") or None
    problems = []
    if window_name not in Window.__members__.values():
        problems.append("Choose a window: week, month or all.")
        window_name = "all"
    if topic is not None and topic not in topics:
        problems.append("There is no such topic; showing all topics.")
        topic = None
    page = _page_number(params.get("page", "1"))
    if page is None:
        problems.append("Pages are numbered from 1.")
        page = 1
    window = Window(window_name)
    rows = await web.services.store.leaderboard(
        platform, guild, window.since(web.now()), MAX_RANKED, 0, topic
    )
    ranked = shared_ranks(rows)
    query = params.get("q", "")[:100]
    pages = max(1, -(-len(ranked) // PAGE_SIZE))
    page = min(page, pages)
    return web.page(
        "leaderboard.html",
        status=400 if problems else 200,
        title=title,
        problems=problems,
        rows=ranked[(page - 1) * PAGE_SIZE : page * PAGE_SIZE],
        found=search(ranked, query) if query else None,
        query=query,
        window=window_name,
        windows=[w.value for w in Window],
        topic=topic or "",
        topics=topics,
        page=page,
        pages=pages,
        capped=len(rows) >= MAX_RANKED,
        total=len(ranked),
    )


def _page_number(text: str) -> int | None:
    return (
        int(text) if text.isascii() and text.isdigit() and 0 < len(text) < 7 and int(text) else None
    )


def token_check_limit(services: Services, settings: WebSettings) -> TokenCheckLimit:
    """The dashboard's token-check limit: in the shared Redis when there is one (several web
    processes behind a load balancer then share one budget per client, docs/deploy.md), else
    in this process's memory."""
    per_minute = settings.token_checks_per_minute
    if services.redis is not None:
        from bot.web.shared_limit import RedisRateLimit  # redis-py: only with a shared Redis

        return RedisRateLimit(services.redis, per_minute)
    return RateLimit(per_minute)


def create_app(
    services: Services, settings: WebSettings, limiter: TokenCheckLimit | None = None
) -> Starlette:
    """The ASGI app over ``services`` (not started; ``bot.web.serve`` runs it). ``limiter``:
    tests give one with their own clock; otherwise ``token_check_limit`` chooses."""
    from bot.web import dashboard

    limiter = limiter or token_check_limit(services, settings)
    app = Starlette(
        routes=[
            Route("/", index),
            Route("/local", local_board),
            Route("/leaderboard/{platform}/{guild}", guild_board),
            *dashboard.routes(),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        ],
        middleware=[Middleware(SecurityHeaders)],
    )
    app.state.web = Web(services, settings, limiter)
    return app
