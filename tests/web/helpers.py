"""What the web tests share: a world of learners in two guilds and the terminal, answering
through the real tutor and store, and the services the web app runs over."""

from __future__ import annotations

import html as html_lib
import itertools
import re
import socket
from datetime import timedelta
from typing import Any

from pydantic import SecretStr

from bot.services import Services, open_services
from bot.settings import Settings, WebSettings
from bot.tutor.content import Bank
from bot.tutor.dashboard import WebAccess
from bot.tutor.moderator import Actor, Authority, Moderator
from bot.tutor.service import LearnerRef, Tutor
from db import SqlStore
from db.web import WebQueries
from tests.helpers import Clock

BASE = "http://testserver"
MOD = Actor("test", "g1", "mod-1", "Mo", Authority.MODERATOR)
OTHER_MOD = Actor("test", "g2", "mod-2", "Zed", Authority.MODERATOR)
LOCAL_ADMIN = Actor("terminal", "local", "ada", "ada", Authority.MANAGER)
# All four sample questions right: 70 XP; the first only: 10 XP.
ALL_RIGHT = ("2", "global average pooling", "1", "(None, 5)")
# A name that would run a script (and break the markup) if it were not escaped.
HOSTILE = '<script>alert("x")</script> & <b>bold</b>'


def who(
    name: str, guild: str = "g1", platform: str = "test", user: str | None = None
) -> LearnerRef:
    return LearnerRef(platform, user or name.lower(), guild, name)


async def answer(tutor: Tutor, ref: LearnerRef, answers: tuple[str, ...] = ALL_RIGHT) -> None:
    for text in answers:
        await tutor.quiz(ref)
        await tutor.answer(ref, text)


class Tokens:
    """Predictable dashboard tokens, so a test can open the link it asked for."""

    def __init__(self) -> None:
        self.made: list[str] = []
        self._n = itertools.count(1)

    def __call__(self) -> str:
        token = f"tok{next(self._n):04d}-" + "x" * 40
        self.made.append(token)
        return token


async def web_services(
    bank: Bank,
    store: SqlStore,
    clock: Clock,
    tokens: Tokens,
    base: str = BASE,
    redis_url: str | None = None,
) -> Services:
    """``redis_url``: as ``TUTOR_REDIS_URL`` (a web process of a cluster)."""
    settings = Settings(
        web=WebSettings(port=8080, public_url=base),
        redis_url=SecretStr(redis_url) if redis_url else None,
    )
    services = await open_services(settings, bank=bank, store=store, runner=None)
    services.tutor = Tutor(bank, store, now=clock, shuffle=False)
    services.moderator = Moderator(bank, store.moderation, now=clock)
    services.web = WebAccess(
        WebQueries(store.database), base, timedelta(hours=1), now=clock, new_token=tokens
    )
    return services


async def populate(services: Services, clock: Clock) -> None:
    """g1: Ada 70 XP, Bob and the hostile name 10 XP each (a tie); g2: Gus 70 XP; the
    terminal: Tia 10 XP."""
    tutor = services.tutor
    await answer(tutor, who("Ada"))
    await answer(tutor, who("Bob"), ALL_RIGHT[:1])
    await answer(tutor, who(HOSTILE, user="hostile"), ALL_RIGHT[:1])
    await answer(tutor, who("Gus", guild="g2"))
    await answer(tutor, who("Tia", guild="local", platform="terminal"), ALL_RIGHT[:1])
    clock.advance(minutes=1)


async def spread_activity(services: Services, clock: Clock, days: int = 12) -> None:
    """One new learner of g1 a day for ``days`` days (10 or 20 XP each), so that the charts
    have something to show; the clock ends a day after the last."""
    for day in range(days):
        await answer(services.tutor, who(f"Learner {day + 1}"), ALL_RIGHT[: 1 + day % 2])
        clock.advance(days=1)


def link_token(reply_text: str) -> str:
    """The token in a /mod dashboard reply."""
    return reply_text.split("/dashboard/login/")[1].split()[0]


def form_of(html: str, **fields: Any) -> dict[str, str]:
    """The hidden fields of the first form on a page, with ``fields`` added."""
    first = html[html.index("<form") : html.index("</form>")]
    found = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', first)
    hidden = {name: html_lib.unescape(value) for name, value in found}  # as a browser reads it
    return {**hidden, **{k: str(v) for k, v in fields.items()}}


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]{64})"', html)
    assert found is not None, "no CSRF token on the page"
    return found.group(1)


def free_port() -> int:
    """A TCP port nobody listens on now (another process could take it first: rare)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
