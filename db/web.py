"""The web part of the store: the public leaderboard switch, dashboard links, and the list of a
guild's learners for the dashboard (the core's ``dashboard.WebStore``).

Built over the store's ``Database`` (``WebQueries(store.database)``). Turning the leaderboard on or
off is a moderator action: written to ``mod_actions`` in the same transaction, undone by /mod undo
(db/moderation.py, ``UNDO``).
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from bot.tutor.dashboard import GuildLearner, Link
from bot.tutor.moderation import ActionKind
from bot.tutor.moderator import Actor
from db.database import Database
from db.models import GuildSettings, Learner, WebLink
from db.moderation import _log_action
from db.statements import build


def set_web_leaderboard_row(conn: Connection, platform: str, guild_id: str, on: bool) -> None:
    """Set the switch, creating the guild's settings row if it has none."""
    where = (GuildSettings.platform == platform, GuildSettings.guild_id == guild_id)
    done = conn.execute(update(GuildSettings).where(*where).values(web_leaderboard=on))
    if done.rowcount == 0:
        conn.execute(
            insert(GuildSettings).values(platform=platform, guild_id=guild_id, web_leaderboard=on)
        )


class WebQueries:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def web_leaderboard_on(self, platform: str, guild_id: str) -> bool:
        def op(conn: Connection) -> bool:
            query = select(GuildSettings.web_leaderboard).where(
                GuildSettings.platform == platform, GuildSettings.guild_id == guild_id
            )
            return bool(conn.execute(query).scalar_one_or_none())

        return await self._db.read(op)

    async def set_web_leaderboard(self, actor: Actor, on: bool, reason: str, now: datetime) -> int:
        def op(conn: Connection) -> int:
            old = conn.execute(
                select(GuildSettings.web_leaderboard).where(
                    GuildSettings.platform == actor.platform,
                    GuildSettings.guild_id == actor.guild_id,
                )
            ).scalar_one_or_none()
            set_web_leaderboard_row(conn, actor.platform, actor.guild_id, on)
            previous = json.dumps({"on": bool(old)})
            kind = ActionKind.WEB_LEADERBOARD
            return _log_action(conn, actor, kind, None, reason, now, previous)

        return await self._db.write(op)

    async def add_link(
        self, actor: Actor, token_sha256: str, now: datetime, expires_at: datetime
    ) -> int:
        def op(conn: Connection) -> int:
            result = conn.execute(
                insert(WebLink).values(
                    token_sha256=token_sha256,
                    platform=actor.platform,
                    guild_id=actor.guild_id,
                    moderator_id=actor.user_id,
                    moderator_name=actor.name[:100],
                    authority=int(actor.authority),
                    created_at=now,
                    expires_at=expires_at,
                )
            )
            key = result.inserted_primary_key
            assert key is not None
            return int(key[0])

        return await self._db.write(op)

    async def link(self, token_sha256: str) -> Link | None:
        def op(conn: Connection) -> Link | None:
            row = conn.execute(
                select(WebLink.__table__).where(WebLink.token_sha256 == token_sha256)
            ).first()
            return build(Link, row._mapping) if row else None

        return await self._db.read(op)

    async def revoke_links(
        self, platform: str, guild_id: str, now: datetime, link_id: int | None = None
    ) -> int:
        def op(conn: Connection) -> int:
            query = update(WebLink).where(
                WebLink.platform == platform,
                WebLink.guild_id == guild_id,
                WebLink.revoked_at.is_(None),
            )
            if link_id is not None:
                query = query.where(WebLink.id == link_id)
            return int(conn.execute(query.values(revoked_at=now)).rowcount)

        return await self._db.write(op)

    async def learners(self, platform: str, guild_id: str) -> list[GuildLearner]:
        """Every learner of the guild, excluded ones too, by name."""
        query = (
            select(Learner.user_id, Learner.display_name.label("name"), Learner.excluded)
            .where(Learner.platform == platform, Learner.guild_id == guild_id)
            .order_by(Learner.display_name, Learner.id)
        )

        def op(conn: Connection) -> list[GuildLearner]:
            return [build(GuildLearner, row._mapping) for row in conn.execute(query)]

        return await self._db.read(op)
