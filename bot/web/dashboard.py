"""The moderator dashboard: opened by a link from /mod dashboard, for one guild only.

The link's token goes into an HttpOnly, SameSite=Strict cookie and the browser is sent on to
/dashboard, so the token leaves the address bar and history at once. Every request checks the
token again (expired or revoked links stop working at once) and takes the guild from the link,
never from the request, so nothing of another server can be reached through it. Actions are
two steps, as on Discord: a form asks, a confirmation page shows what will happen, and only its
button (with the session's CSRF token) runs the action through the same Moderator core, which
checks the rules and writes the moderator log.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.tutor.dashboard import Link
from bot.tutor.moderation import ReportAttempt
from bot.tutor.moderator import MAX_REASON_CHARS, Actor, Query, refusal
from bot.tutor.replies import Kind, Reply
from bot.tutor.service import Window
from bot.tutor.webstats import bar_chart, daily_activity, question_stats, since_days
from bot.web.app import Web, web_of
from bot.web.security import csrf_ok, csrf_token

COOKIE = "tutor_dashboard"
ACTIVITY_DAYS = 30
LOG_PAGE = 15
HISTORY_ROWS = 50


@dataclass
class Session:
    web: Web
    link: Link
    token: str

    @property
    def actor(self) -> Actor:
        return self.link.actor()

    @property
    def csrf(self) -> str:
        return csrf_token(self.token)


def client_key(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _gone(web: Web) -> Response:
    return web.message(
        "Link expired",
        "This dashboard link has expired or was revoked. Ask for a new one with /mod dashboard "
        "(or, in the terminal, /mod dashboard).",
        403,
    )


def _too_many(web: Web) -> Response:
    response = web.message("Slow down", "Too many link checks; try again in a minute.", 429)
    response.headers["Retry-After"] = "60"
    return response


async def login(request: Request) -> Response:
    web = web_of(request)
    if not await web.limiter.check(client_key(request)):
        return _too_many(web)
    token = request.path_params["token"]
    link = await web.services.web.open(token)
    if link is None:
        return _gone(web)
    response = RedirectResponse("/dashboard", status_code=303)
    left = int((link.expires_at - web.now()).total_seconds())
    response.set_cookie(
        COOKIE,
        token,
        max_age=max(1, left),
        path="/dashboard",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


async def session_of(request: Request) -> Session | Response:
    """The dashboard session of this request, or the page that refuses it."""
    web = web_of(request)
    token = request.cookies.get(COOKIE, "")
    link = await web.services.web.open(token) if token else None
    if link is None:
        # A failed check counts against the client's limit; good sessions are not limited.
        if not await web.limiter.check(client_key(request)):
            return _too_many(web)
        return _gone(web)
    return Session(web, link, token)


def _authed(
    handler: Callable[[Request, Session], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        session = await session_of(request)
        if isinstance(session, Response):
            return session
        return await handler(request, session)

    return endpoint


def _refused(s: Session, reply: Reply) -> Response:
    return s.web.page("result.html", 403, s=s, reply=reply, back="/dashboard")


async def overview(request: Request, s: Session) -> Response:
    if refused := refusal(s.actor, Query.DASHBOARD):
        return _refused(s, Reply(text=refused, kind=Kind.ERROR))
    services, actor = s.web.services, s.actor
    now = s.web.now()
    attempts = await services.moderator.store.export_attempts(
        actor.platform, actor.guild_id, since_days(now, ACTIVITY_DAYS)
    )
    days = daily_activity(attempts, now.date(), ACTIVITY_DAYS)
    learners = await services.web.learners(actor)
    page = _number(request.query_params.get("log", "1")) or 1
    log_rows = await services.moderator.store.mod_log(
        actor.platform, actor.guild_id, LOG_PAGE + 1, (page - 1) * LOG_PAGE
    )
    return s.web.page(
        "dashboard.html",
        s=s,
        answers_chart=bar_chart([(f"{d.day:%m-%d}", d.answers) for d in days]),
        learners_chart=bar_chart([(f"{d.day:%m-%d}", d.learners) for d in days]),
        days=days,
        total_answers=sum(d.answers for d in days),
        stats=question_stats(
            attempts, await services.reports.store.report_counts(actor.platform, actor.guild_id)
        )[:15],
        learners=learners if isinstance(learners, list) else [],
        log=log_rows[:LOG_PAGE],
        log_page=page,
        log_more=len(log_rows) > LOG_PAGE,
        public=await services.web.leaderboard_public(actor.platform, actor.guild_id),
        board_url=services.web.leaderboard_url(actor.platform, actor.guild_id),
        windows=[w.value for w in Window],
        activity_days=ACTIVITY_DAYS,
    )


async def learner(request: Request, s: Session) -> Response:
    user_id = request.path_params["user_id"]
    found = await s.web.services.moderator.learner_report(s.actor, user_id)
    if isinstance(found, Reply):
        return s.web.page("result.html", 404, s=s, reply=found, back="/dashboard")
    report, attempts = found
    history: list[ReportAttempt] = sorted(attempts, key=lambda a: a.answered_at, reverse=True)
    return s.web.page(
        "learner.html",
        s=s,
        user_id=user_id,
        report=report,
        weekly_chart=bar_chart([(f"{w:%m-%d}", n) for w, n in report.weekly], height=80),
        history=history[:HISTORY_ROWS],
        max_reason=MAX_REASON_CHARS,
    )


async def export(request: Request, s: Session) -> Response:
    window = request.query_params.get("window", "all")
    if window not in Window.__members__.values():
        window = "all"
    reply = await s.web.services.moderator.export(s.actor, Window(window))
    if reply.attachment is None:
        return _refused(s, reply)
    return Response(
        reply.attachment.data,
        # Two CSV tables (leaderboard, attempts) in one ZIP file, as /mod export sends them.
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{reply.attachment.name}"'},
    )


# --- actions: ask, confirm, act ------------------------------------------------------------------

ACTIONS = ("reset", "exclude", "include", "undo", "web-leaderboard-on", "web-leaderboard-off")


@dataclass(frozen=True)
class Asked:
    action: str
    user_id: str
    action_id: int | None
    reason: str


def _asked(form: dict[str, str]) -> Asked | str:
    """The action a form asks for, or what is wrong with it."""
    action = form.get("action", "")
    if action not in ACTIONS:
        return "Unknown action."
    reason = " ".join(form.get("reason", "").split())[:MAX_REASON_CHARS]
    action_id = None
    if action == "undo":
        action_id = _number(form.get("action_id", ""))
        if action_id is None:
            return "Give the number of the action to undo."
    elif action in ("reset", "exclude", "include") and not reason:
        return "Give a reason: it goes into the moderator log."
    return Asked(action, form.get("user_id", "")[:64], action_id, reason)


async def _form(request: Request, s: Session) -> dict[str, str] | Response:
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    if not csrf_ok(s.token, values.get("csrf", "")):
        reply = Reply(text="This form is out of date; open the dashboard again.", kind=Kind.ERROR)
        return s.web.page("result.html", 403, s=s, reply=reply, back="/dashboard")
    return values


async def ask(request: Request, s: Session) -> Response:
    form = await _form(request, s)
    if isinstance(form, Response):
        return form
    asked = _asked(form)
    if isinstance(asked, str):
        return s.web.page(
            "result.html", 400, s=s, reply=Reply(text=asked, kind=Kind.ERROR), back="/dashboard"
        )
    name = ""
    if asked.user_id:
        learners = await s.web.services.web.learners(s.actor)
        names = {g.user_id: g.name for g in learners} if isinstance(learners, list) else {}
        name = names.get(asked.user_id, asked.user_id)
    return s.web.page("confirm.html", s=s, asked=asked, name=name)


async def act(request: Request, s: Session) -> Response:
    form = await _form(request, s)
    if isinstance(form, Response):
        return form
    asked = _asked(form)
    back = "/dashboard"
    if isinstance(asked, str):
        reply = Reply(text=asked, kind=Kind.ERROR)
    else:
        reply = await _run(s, asked)
        if asked.user_id:
            back = f"/dashboard/learner/{quote(asked.user_id, safe='')}"
    status = 200 if reply.kind is not Kind.ERROR else 400
    return s.web.page("result.html", status, s=s, reply=reply, back=back)


async def _run(s: Session, asked: Asked) -> Reply:
    mods, actor = s.web.services.moderator, s.actor
    match asked.action:
        case "reset":
            return await mods.reset(actor, asked.user_id, asked.reason)
        case "exclude":
            return await mods.exclude(actor, asked.user_id, asked.reason)
        case "include":
            return await mods.include(actor, asked.user_id, asked.reason)
        case "undo":
            assert asked.action_id is not None
            return await mods.undo(actor, asked.action_id, asked.reason)
        case _:
            return await s.web.services.web.set_leaderboard(actor, asked.action.endswith("-on"))


async def revoke(request: Request, s: Session) -> Response:
    form = await _form(request, s)
    if isinstance(form, Response):
        return form
    everyone = form.get("scope") == "all"
    reply = await s.web.services.web.revoke(s.actor, None if everyone else s.link.id)
    response = s.web.page("result.html", s=None, reply=reply, back=None)
    response.delete_cookie(COOKIE, path="/dashboard")
    return response


def _number(text: str) -> int | None:
    if text.isascii() and text.isdigit() and 0 < len(text) < 16 and int(text) > 0:
        return int(text)
    return None


def routes() -> list[Route]:
    return [
        Route("/dashboard/login/{token}", login),
        Route("/dashboard", _authed(overview)),
        Route("/dashboard/learner/{user_id}", _authed(learner)),
        Route("/dashboard/export.zip", _authed(export)),
        Route("/dashboard/ask", _authed(ask), methods=["POST"]),
        Route("/dashboard/act", _authed(act), methods=["POST"]),
        Route("/dashboard/revoke", _authed(revoke), methods=["POST"]),
    ]
