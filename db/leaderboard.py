"""What counts on a guild's leaderboard, and the leaderboard query: shared by the store (the
learners' ``/leaderboard``) and its moderation part (the CSV export).

The leaderboard reads the rollup ``leaderboard_days`` (db/models.py: per learner, UTC day and
topic), which the store keeps in the transaction of every change to what counts: an answer adds
to it (``ADD_TO_ROLLUP``), a reset and its undo rebuild the learner's rows (``rebuild_rollup``).
A window that starts within a day (``since``, e.g. now minus 7 days) takes that first part day
from the attempts themselves, so the result is exactly that of summing the attempts
(``leaderboard_from_attempts``, kept as the definition; tests/test_rollup.py compares them on
random histories).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Connection,
    Integer,
    Select,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    select,
    union_all,
)
from sqlalchemy.orm import InstrumentedAttribute

from bot.tutor.progress import LeaderRow, Standing, shared_ranks
from db.models import Attempt, LeaderboardDay, Learner
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


def day_number(when: datetime) -> int:
    """The UTC date of ``when`` as the rollup's ``day``: yyyymmdd."""
    day = when.astimezone(UTC)
    return day.year * 10_000 + day.month * 100 + day.day


def _stored_day(conn: Connection) -> ColumnElement[int]:
    """``day_number`` of ``attempts.answered_at`` in SQL (times are stored in UTC)."""
    if conn.dialect.name == "sqlite":
        text = func.strftime("%Y%m%d", Attempt.answered_at)
    else:
        text = func.to_char(Attempt.answered_at, "YYYYMMDD")
    return cast(text, Integer)


def _right(column: ColumnElement[bool] | InstrumentedAttribute[bool]) -> ColumnElement[int]:
    return case((column, 1), else_=0)


def rebuild_rollup(conn: Connection, learner_id: int) -> None:
    """The learner's rollup rows again from their attempts that count (after a reset, or the
    undo of one: rare, and at most one learner's history)."""
    conn.execute(delete(LeaderboardDay).where(LeaderboardDay.learner_id == learner_id))
    day = _stored_day(conn).label("day")
    totals = (
        select(
            Attempt.learner_id,
            day,
            Attempt.topic,
            Learner.platform,
            Learner.guild_id,
            func.sum(Attempt.points),
            func.count(),
            func.sum(_right(Attempt.correct)),
        )
        .join(Learner, Learner.id == Attempt.learner_id)
        .where(Attempt.learner_id == learner_id, Attempt.reset_by.is_(None))
        .group_by(Attempt.learner_id, day, Attempt.topic, Learner.platform, Learner.guild_id)
    )
    columns = ["learner_id", "day", "topic", "platform", "guild_id", "xp", "answers", "correct"]
    conn.execute(insert(LeaderboardDay).from_select(columns, totals))


def _rolled_up(
    platform: str, guild_id: str, since: datetime | None, topic: str | None
) -> Select[int, int, int, int] | CompoundSelect[int, int, int, int]:
    """Per learner: XP, answers and right answers in the window (excluded learners too)."""
    days = LeaderboardDay
    rolled = select(
        days.learner_id,
        days.xp.label("xp"),
        days.answers.label("answers"),
        days.correct.label("correct"),
    ).where(days.platform == platform, days.guild_id == guild_id)
    if topic is not None:
        rolled = rolled.where(days.topic == topic)
    if since is None:
        return rolled
    # Whole days after the one ``since`` falls in, from the rollup; the rest of that day (from
    # ``since`` to midnight UTC) from the attempts.
    midnight = datetime.combine(since.astimezone(UTC).date() + timedelta(days=1), time(), UTC)
    first_day = (
        select(
            Attempt.learner_id,
            Attempt.points.label("xp"),
            literal(1, Integer).label("answers"),
            _right(Attempt.correct).label("correct"),
        )
        .join(Learner, Learner.id == Attempt.learner_id)
        .where(
            Learner.platform == platform,
            Learner.guild_id == guild_id,
            Attempt.reset_by.is_(None),
            Attempt.answered_at >= since,
            Attempt.answered_at < midnight,
        )
    )
    if topic is not None:
        first_day = first_day.where(Attempt.topic == topic)
    rolled = rolled.where(days.day > day_number(since))
    return union_all(rolled, first_day)


def _grouped(scores: Select[str, str, int, int, int]) -> Select[str, str, int, int, int]:
    return scores.group_by(Learner.id, Learner.user_id, Learner.display_name)


def _ranked(
    scores: Select[str, str, int, int, int], limit: int, offset: int
) -> Callable[[Connection], list[LeaderRow]]:
    """A read operation: one page of ``scores`` (user id, name, score, attempts, correct per
    learner), ranked by XP, then right answers, then name (learners of one name in the order
    they joined, so that every page is cut from the same order). Equal XP shares a rank
    (``shared_ranks``): a page's first rank counts the learners with more XP."""
    score, right = scores.selected_columns.score, scores.selected_columns.correct
    query = (
        _grouped(scores)
        .order_by(score.desc(), right.desc(), Learner.display_name, Learner.id)
        .limit(limit)
        .offset(offset)
    )
    everyone = _grouped(scores).subquery()

    def op(conn: Connection) -> list[LeaderRow]:
        rows = [build(LeaderRow, row._mapping, rank=0) for row in conn.execute(query)]
        if not rows:
            return rows
        above = conn.execute(
            select(func.count()).select_from(everyone).where(everyone.c.score > rows[0].score)
        ).scalar_one()
        return shared_ranks(rows, first_rank=int(above) + 1, offset=offset)

    return op


def _window_scores(
    platform: str, guild_id: str, since: datetime | None, topic: str | None, excluded: bool
) -> Select[str, str, int, int, int]:
    totals = _rolled_up(platform, guild_id, since, topic).subquery()
    return (
        select(
            Learner.user_id,
            Learner.display_name,
            func.sum(totals.c.xp).label("score"),
            func.sum(totals.c.answers).label("attempts"),
            func.sum(totals.c.correct).label("correct"),
        )
        .join(totals, totals.c.learner_id == Learner.id)
        .where(Learner.excluded.is_(excluded))
    )


def leaderboard(
    platform: str,
    guild_id: str,
    since: datetime | None,
    limit: int,
    offset: int,
    topic: str | None,
    excluded: bool = False,
) -> Callable[[Connection], list[LeaderRow]]:
    """A read operation: one page of the guild's leaderboard, from the rollup (``excluded``:
    of the learners left out of it instead, ranked among themselves)."""
    return _ranked(_window_scores(platform, guild_id, since, topic, excluded), limit, offset)


def standing(
    platform: str, guild_id: str, since: datetime | None, topic: str | None, user_id: str
) -> Callable[[Connection], Standing]:
    """A read operation: the learner's rank and XP on the leaderboard (rank None when they are
    not on it: no answer in the window, or excluded), and how many learners it ranks."""
    everyone = _grouped(_window_scores(platform, guild_id, since, topic, False)).subquery()

    def op(conn: Connection) -> Standing:
        mine = conn.execute(
            select(everyone.c.score).where(everyone.c.user_id == user_id)
        ).scalar_one_or_none()
        learners = int(conn.execute(select(func.count()).select_from(everyone)).scalar_one())
        if mine is None:
            return Standing(None, 0, learners)
        above = conn.execute(
            select(func.count()).select_from(everyone).where(everyone.c.score > mine)
        ).scalar_one()
        return Standing(int(above) + 1, int(mine), learners)

    return op


def leaderboard_from_attempts(
    platform: str,
    guild_id: str,
    since: datetime | None,
    limit: int,
    offset: int,
    topic: str | None,
) -> Callable[[Connection], list[LeaderRow]]:
    """The leaderboard summed from every attempt that counts: what the rollup must equal."""
    # XP already excludes early repeats (session.xp_for), so the score is a plain sum.
    scores = (
        select(
            Learner.user_id,
            Learner.display_name,
            func.sum(Attempt.points).label("score"),
            func.count().label("attempts"),
            func.sum(_right(Attempt.correct)).label("correct"),
        )
        .join(Attempt, Attempt.learner_id == Learner.id)
        .where(*counted_on_leaderboard(platform, guild_id))
    )
    if since is not None:
        scores = scores.where(Attempt.answered_at >= since)
    if topic is not None:
        scores = scores.where(Attempt.topic == topic)
    return _ranked(scores, limit, offset)
