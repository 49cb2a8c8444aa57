"""The moderation half of the store: actions, exclusions, recoverable resets, the log, exports.

Every action is written to ``mod_actions`` in the same transaction as its effect, so the log can
never disagree with what happened.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, Connection, delete, insert, select, update

from bot.tutor.moderation import ActionKind, ModActionRow, ReportAttempt
from bot.tutor.moderator import Actor, ModerationError, Target
from db.database import Database
from db.models import (
    Attempt,
    GuildSettings,
    Learner,
    ModAction,
    OpenQuestionRow,
    ReviewCard,
    ReviewLog,
)

_CARD_COLUMNS = (
    "question_id",
    "state",
    "step",
    "stability",
    "difficulty",
    "due",
    "last_review",
    "last_rating",
)


def counted_on_leaderboard(platform: str, guild_id: str) -> tuple[ColumnElement[bool], ...]:
    """What counts on a guild's leaderboard (and its export): the guild's learners who are not
    excluded, and their attempts not hidden by a reset. Join Learner and Attempt to use it."""
    return (
        Learner.platform == platform,
        Learner.guild_id == guild_id,
        Learner.excluded.is_(False),
        Attempt.reset_by.is_(None),
    )


def _log_action(
    conn: Connection,
    actor: Actor,
    kind: ActionKind,
    learner_id: int | None,
    reason: str,
    now: datetime,
    data: str | None = None,
) -> int:
    result = conn.execute(
        insert(ModAction).values(
            platform=actor.platform,
            guild_id=actor.guild_id,
            moderator_id=actor.user_id,
            moderator_name=actor.name[:100],
            action=str(kind),
            learner_id=learner_id,
            reason=reason,
            created_at=now,
            data=data,
        )
    )
    return int(result.inserted_primary_key[0])


def _card_json(row: object) -> dict[str, object]:
    out: dict[str, object] = {}
    for column in _CARD_COLUMNS:
        value = getattr(row, column)
        out[column] = value.isoformat() if isinstance(value, datetime) else value
    return out


def _card_values(data: dict[str, object]) -> dict[str, object]:
    values = dict(data)
    for column in ("due", "last_review"):
        if values[column] is not None:
            values[column] = datetime.fromisoformat(str(values[column])).astimezone(UTC)
    return values


class ModerationQueries:
    """Mixed into SqlStore; uses its ``_db`` and open-question cache."""

    _db: Database
    _open: dict[int, object]

    async def moderator_role(self, platform: str, guild_id: str) -> str | None:
        def op(conn: Connection) -> str | None:
            query = select(GuildSettings.moderator_role_id).where(
                GuildSettings.platform == platform, GuildSettings.guild_id == guild_id
            )
            return conn.execute(query).scalar_one_or_none()

        return await self._db.read(op)

    async def set_moderator_role(
        self, actor: Actor, role_id: str | None, reason: str, now: datetime
    ) -> int:
        def op(conn: Connection) -> int:
            key = (
                GuildSettings.platform == actor.platform,
                GuildSettings.guild_id == actor.guild_id,
            )
            old = conn.execute(select(GuildSettings.moderator_role_id).where(*key)).first()
            if old is None:
                conn.execute(
                    insert(GuildSettings).values(
                        platform=actor.platform, guild_id=actor.guild_id, moderator_role_id=role_id
                    )
                )
            else:
                conn.execute(update(GuildSettings).where(*key).values(moderator_role_id=role_id))
            previous = json.dumps({"role": old.moderator_role_id if old else None})
            return _log_action(conn, actor, ActionKind.SET_ROLE, None, reason, now, previous)

        return await self._db.write(op)

    async def find_learner(self, platform: str, guild_id: str, user_id: str) -> Target | None:
        def op(conn: Connection) -> Target | None:
            row = conn.execute(
                select(Learner.id, Learner.display_name, Learner.excluded).where(
                    Learner.platform == platform,
                    Learner.guild_id == guild_id,
                    Learner.user_id == user_id,
                )
            ).first()
            return Target(row.id, row.display_name, row.excluded) if row else None

        return await self._db.read(op)

    async def reset(self, actor: Actor, target: Target, reason: str, now: datetime) -> int:
        """Hide the learner's attempts and review history (kept, marked with this action) and
        remove their review cards (kept in the action's data) and open question."""

        def op(conn: Connection) -> int:
            cards = conn.execute(
                select(*(ReviewCard.__table__.c[c] for c in _CARD_COLUMNS)).where(
                    ReviewCard.learner_id == target.learner_id
                )
            ).all()
            data = json.dumps({"cards": [_card_json(c) for c in cards]})
            action = _log_action(
                conn, actor, ActionKind.RESET, target.learner_id, reason, now, data
            )
            for table in (Attempt, ReviewLog):
                conn.execute(
                    update(table)
                    .where(table.learner_id == target.learner_id, table.reset_by.is_(None))
                    .values(reset_by=action)
                )
            conn.execute(delete(ReviewCard).where(ReviewCard.learner_id == target.learner_id))
            conn.execute(
                delete(OpenQuestionRow).where(OpenQuestionRow.learner_id == target.learner_id)
            )
            return action

        action = await self._db.write(op)
        self._open.pop(target.learner_id, None)
        return action

    async def set_excluded(
        self, actor: Actor, target: Target, excluded: bool, reason: str, now: datetime
    ) -> int:
        kind = ActionKind.EXCLUDE if excluded else ActionKind.INCLUDE

        def op(conn: Connection) -> int:
            conn.execute(
                update(Learner).where(Learner.id == target.learner_id).values(excluded=excluded)
            )
            return _log_action(conn, actor, kind, target.learner_id, reason, now)

        return await self._db.write(op)

    async def undo(
        self,
        actor: Actor,
        action_id: int,
        reason: str,
        now: datetime,
        authorise: Callable[[ActionKind], None],
    ) -> int:
        """Reverse one action of this guild; raises ModerationError if it cannot be, or if
        ``authorise`` refuses its kind (checked before anything changes)."""

        def op(conn: Connection) -> int:
            # Core rows (not ORM objects): these functions run on a plain Connection.
            row = conn.execute(
                select(ModAction.__table__).where(
                    ModAction.id == action_id,
                    ModAction.platform == actor.platform,
                    ModAction.guild_id == actor.guild_id,
                )
            ).first()
            if row is None:
                raise ModerationError(f"There is no action #{action_id} in this server.")
            if row.undone_by is not None:
                raise ModerationError(
                    f"Action #{action_id} was already undone by #{row.undone_by}."
                )
            kind = ActionKind(row.action)
            authorise(kind)
            if kind is ActionKind.UNDO:
                raise ModerationError("An undo cannot be undone; do the action again instead.")
            if kind is ActionKind.RESET:
                for table in (Attempt, ReviewLog):
                    conn.execute(
                        update(table).where(table.reset_by == row.id).values(reset_by=None)
                    )
                _restore_cards(conn, row.learner_id, json.loads(row.data or "{}"))
            elif kind in (ActionKind.EXCLUDE, ActionKind.INCLUDE):
                conn.execute(
                    update(Learner)
                    .where(Learner.id == row.learner_id)
                    .values(excluded=kind is ActionKind.INCLUDE)
                )
            elif kind is ActionKind.SET_ROLE:
                previous = json.loads(row.data or "{}").get("role")
                conn.execute(
                    update(GuildSettings)
                    .where(
                        GuildSettings.platform == row.platform,
                        GuildSettings.guild_id == row.guild_id,
                    )
                    .values(moderator_role_id=previous)
                )
            undo_id = _log_action(
                conn, actor, ActionKind.UNDO, row.learner_id, f"undo #{row.id}: {reason}", now
            )
            conn.execute(update(ModAction).where(ModAction.id == row.id).values(undone_by=undo_id))
            return undo_id

        return await self._db.write(op)

    async def mod_log(
        self, platform: str, guild_id: str, limit: int, offset: int = 0
    ) -> Sequence[ModActionRow]:
        def op(conn: Connection) -> list[ModActionRow]:
            rows = conn.execute(
                select(ModAction.__table__, Learner.display_name)
                .outerjoin(Learner, Learner.id == ModAction.learner_id)
                .where(ModAction.platform == platform, ModAction.guild_id == guild_id)
                .order_by(ModAction.id.desc())
                .limit(limit)
                .offset(offset)
            ).all()
            return [
                ModActionRow(
                    a.id,
                    a.moderator_name,
                    ActionKind(a.action),
                    a.display_name,
                    a.reason,
                    a.created_at,
                    a.undone_by,
                )
                for a in rows
            ]

        return await self._db.read(op)

    async def report_attempts(self, learner_id: int) -> tuple[list[ReportAttempt], list[datetime]]:
        """Every attempt (reset ones marked) and the times of resets still in force."""

        def op(conn: Connection) -> tuple[list[ReportAttempt], list[datetime]]:
            attempts = [
                ReportAttempt(
                    r.question_id,
                    r.topic,
                    r.correct,
                    r.hinted,
                    r.time_to_answer_ms,
                    r.answered_at,
                    r.reset_by is not None,
                )
                for r in conn.execute(
                    select(Attempt.__table__)
                    .where(Attempt.learner_id == learner_id)
                    .order_by(Attempt.answered_at, Attempt.id)
                )
            ]
            resets = list(
                conn.execute(
                    select(ModAction.created_at)
                    .where(
                        ModAction.learner_id == learner_id,
                        ModAction.action == str(ActionKind.RESET),
                        ModAction.undone_by.is_(None),
                    )
                    .order_by(ModAction.created_at)
                ).scalars()
            )
            return attempts, resets

        return await self._db.read(op)

    async def export_attempts(
        self, platform: str, guild_id: str, since: datetime | None
    ) -> list[tuple[str, ReportAttempt]]:
        """The attempts that count on this guild's leaderboard, oldest first."""

        def op(conn: Connection) -> list[tuple[str, ReportAttempt]]:
            query = (
                select(Learner.display_name, Attempt.__table__)
                .join(Attempt, Attempt.learner_id == Learner.id)
                .where(*counted_on_leaderboard(platform, guild_id))
                .order_by(Attempt.answered_at, Attempt.id)
            )
            if since is not None:
                query = query.where(Attempt.answered_at >= since)
            return [
                (
                    a.display_name,
                    ReportAttempt(
                        a.question_id,
                        a.topic,
                        a.correct,
                        a.hinted,
                        a.time_to_answer_ms,
                        a.answered_at,
                        False,
                    ),
                )
                for a in conn.execute(query)
            ]

        return await self._db.read(op)


def _restore_cards(conn: Connection, learner_id: int | None, data: dict[str, list[dict]]) -> None:
    """Put back the cards a reset removed, unless the learner has since reviewed that question
    again (the newer card wins)."""
    for saved in data.get("cards", []):
        values = _card_values(saved)
        current = conn.execute(
            select(ReviewCard.last_review).where(
                ReviewCard.learner_id == learner_id,
                ReviewCard.question_id == values["question_id"],
            )
        ).first()
        if current is None:
            conn.execute(insert(ReviewCard).values(learner_id=learner_id, **values))
        elif values["last_review"] is not None and current.last_review < values["last_review"]:
            conn.execute(
                update(ReviewCard)
                .where(
                    ReviewCard.learner_id == learner_id,
                    ReviewCard.question_id == values["question_id"],
                )
                .values(**values)
            )
