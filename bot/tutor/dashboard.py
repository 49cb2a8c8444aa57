"""The web side of moderation: the public leaderboard switch and dashboard links.

A dashboard link carries a random 256-bit token; the store keeps only its SHA-256, so neither the
database nor a backup opens a dashboard. A link works until it expires or is revoked, for the
guild and the moderator it was made for, with the authority the platform granted them when they
asked for it (the web cannot look up Discord roles; links are short-lived for that reason).
Who may do what is decided by the same rules as every /mod command (``moderator.refusal``).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from bot.tutor.moderation import ActionKind
from bot.tutor.moderator import Actor, Authority, Query, _done, _error, places, refusal
from bot.tutor.replies import Reply

# Answers look like the moderator's own (_done, _error): private, a confirmation or an error.
TOKEN_BYTES = 32
# The terminal chat's learners (bot/console.py): their board has its own page, /local.
LOCAL = ("terminal", "local")


@dataclass(frozen=True)
class Link:
    """A stored dashboard link (its token is not stored)."""

    id: int
    platform: str
    guild_id: str
    moderator_id: str
    moderator_name: str
    authority: int
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None

    def actor(self) -> Actor:
        return Actor(
            self.platform,
            self.guild_id,
            self.moderator_id,
            self.moderator_name,
            Authority(self.authority),
        )

    def usable(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at


@dataclass(frozen=True)
class GuildLearner:
    user_id: str
    name: str
    excluded: bool


class WebStore(Protocol):
    async def web_leaderboard_on(self, platform: str, guild_id: str) -> bool: ...

    async def set_web_leaderboard(
        self, actor: Actor, on: bool, reason: str, now: datetime
    ) -> int: ...

    async def add_link(
        self, actor: Actor, token_sha256: str, now: datetime, expires_at: datetime
    ) -> int: ...

    async def link(self, token_sha256: str) -> Link | None: ...

    async def revoke_links(
        self, platform: str, guild_id: str, now: datetime, link_id: int | None = None
    ) -> int: ...

    async def learners(self, platform: str, guild_id: str) -> list[GuildLearner]: ...


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


class WebAccess:
    def __init__(
        self,
        store: WebStore,
        base_url: str,
        link_ttl: timedelta,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        new_token: Callable[[], str] = lambda: secrets.token_urlsafe(TOKEN_BYTES),
    ) -> None:
        self.store = store
        self.base_url = base_url.rstrip("/")
        self.link_ttl = link_ttl
        self.now = now
        self.new_token = new_token

    async def leaderboard_public(self, platform: str, guild_id: str) -> bool:
        return await self.store.web_leaderboard_on(platform, guild_id)

    def leaderboard_url(self, platform: str, guild_id: str) -> str:
        if (platform, guild_id) == LOCAL:
            return f"{self.base_url}/local"
        return f"{self.base_url}/leaderboard/{platform}/{guild_id}"

    async def set_leaderboard(self, actor: Actor, on: bool) -> Reply:
        """Publish (or stop publishing) the guild's leaderboard; written to the moderator log
        and undone by /mod undo like every action."""
        if refused := refusal(actor, ActionKind.WEB_LEADERBOARD):
            return _error(refused)
        if on == await self.store.web_leaderboard_on(actor.platform, actor.guild_id):
            return _done(f"The web leaderboard is already {'on' if on else 'off'}.")
        why = "web leaderboard on" if on else "web leaderboard off"
        action = await self.store.set_web_leaderboard(actor, on, why, self.now())
        where = f" at {self.leaderboard_url(actor.platform, actor.guild_id)}" if on else ""
        state = "public" if on else "no longer public"
        return _done(
            f"{places(actor.platform).capitalize()} leaderboard is {state}{where} "
            f"(action #{action}). Reversible with /mod undo {action}."
        )

    async def dashboard_link(self, actor: Actor) -> Reply:
        """A new link to the dashboard, for this moderator only: send it privately."""
        if refused := refusal(actor, Query.DASHBOARD):
            return _error(refused)
        token = self.new_token()
        now = self.now()
        expires = now + self.link_ttl
        await self.store.add_link(actor, token_hash(token), now, expires)
        minutes = int(self.link_ttl.total_seconds() // 60)
        return _done(
            f"Your moderator dashboard (works for {minutes} minutes, for you only; do not "
            f"share it): {self.base_url}/dashboard/login/{token}\n"
            f"/mod dashboard with revoke revokes every one of {places(actor.platform)} dashboard "
            "links."
        )

    async def open(self, token: str) -> Link | None:
        """The link this token opens, if it is still usable."""
        if not token or len(token) > 100:
            return None
        link = await self.store.link(token_hash(token))
        return link if link is not None and link.usable(self.now()) else None

    async def learners(self, actor: Actor) -> list[GuildLearner] | Reply:
        """Every learner of the actor's guild (excluded ones too), or the refusal."""
        if refused := refusal(actor, Query.LEARNER):
            return _error(refused)
        return await self.store.learners(actor.platform, actor.guild_id)

    async def revoke(self, actor: Actor, link_id: int | None = None) -> Reply:
        """Revoke one link (``link_id``) or every link of the actor's guild."""
        if refused := refusal(actor, Query.DASHBOARD):
            return _error(refused)
        count = await self.store.revoke_links(actor.platform, actor.guild_id, self.now(), link_id)
        return _done(f"Revoked {count} dashboard link{'s' if count != 1 else ''}.")
