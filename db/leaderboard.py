"""What counts on a guild's leaderboard, and the leaderboard query: shared by the store (the
learners' ``/leaderboard``) and its moderation part (the CSV export)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, func, select

from bot.tutor.progress import LeaderRow
from db.models import Attempt, Learner
from db.statements import build


def counted_on_leaderboard(platform: str, guild_id: str) -> tuple[ColumnElement[bool], ...]:
    """The guild's learners who are not excluded, and their attempts not hidden by a reset.
    Join Learner and Attempt to use it."""
    return (
        Learner.platform == platform,
        Learner.guild_id == guild_id,
        Learner.excluded.is_(False),
        Attempt.reset_by.is_(None),
    )


def leaderboard(
    platform: str,
    guild_id: str,
    since: datetime | None,
    limit: int,
    offset: int,
    topic: str | None,
) -> Callable[[Connection], list[LeaderRow]]:
    """A read operation: one page of the guild's leaderboard, ranked by XP."""
    # XP already excludes early repeats (session.xp_for), so the score is a plain sum.
    score = func.sum(Attempt.points).label("score")
    right = func.sum(func.cast(Attempt.correct, type_=Attempt.points.type)).label("correct")
    query = (
        select(Learner.display_name, score, func.count().label("attempts"), right)
        .join(Attempt, Attempt.learner_id == Learner.id)
        .where(*counted_on_leaderboard(platform, guild_id))
        .group_by(Learner.id, Learner.display_name)
        .order_by(score.desc(), right.desc(), Learner.display_name)
        .limit(limit)
        .offset(offset)
    )
    if since is not None:
        query = query.where(Attempt.answered_at >= since)
    if topic is not None:
        query = query.where(Attempt.topic == topic)

    def op(conn: Connection) -> list[LeaderRow]:
        return [
            build(LeaderRow, row._mapping, rank=offset + i + 1)
            for i, row in enumerate(conn.execute(query))
        ]

    return op
