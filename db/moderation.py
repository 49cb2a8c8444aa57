"""The moderation part of the store: actions, exclusions, recoverable resets, undo, the log and
the exports (the moderator's ``ModerationStore``).

``SqlStore`` holds one as ``store.moderation``, sharing its ``Database``. Actions on a learner
raise their version in their transaction (db/versions.py), so that every process's store reads
them again, and call ``changed(learner_id)`` once committed, so that this one drops what it
caches about that learner at once. Every action is written to ``mod_actions`` in the same
transaction as its effect, so the log can never disagree with what happened.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, case, func, insert, select, update

from bot.tutor.moderation import ActionKind, ModActionRow, ReportAttempt
from bot.tutor.moderator import (
    SUPERSEDED_BY_LATER,
    Actor,
    ModerationError,
    Target,
    place,
    superseded,
)
from bot.tutor.progress import LeaderRow
from bot.tutor.study import change_text, settings_of
from db import statements as q
from db.database import Database
from db.leaderboard import counted_on_leaderboard, leaderboard, rebuild_rollup
from db.models import Attempt, GuildSettings, Learner, ModAction, ReviewCard, ReviewLog
from db.statements import Sql, build
from db.study import read_server, write_server
from db.versions import bump

LEARNER_ACTIONS = 20  # the latest actions on a learner, shown in their report


@dataclass(frozen=True)
class Action:
    """A row of ``mod_actions``, as undo needs it."""

    id: int
    platform: str
    guild_id: str
    action: str
    learner_id: int | None
    data: str | None
    undone_by: int | None


# --- Undo: one handler per kind of action -------------------------------------------------------


def _undo_reset(conn: Connection, action: Action) -> None:
    """Show the hidden attempts and review history again, and put back the removed cards
    unless the learner has reviewed those questions since (the newer card wins)."""
    for table in (Attempt, ReviewLog):
        conn.execute(update(table).where(table.reset_by == action.id).values(reset_by=None))
    assert action.learner_id is not None  # a reset is of one learner
    rebuild_rollup(conn, action.learner_id)
    sql = Sql(conn)
    for saved in json.loads(action.data or "{}").get("cards", []):
        sql.run(q.RESTORE_CARD, {**_card_from_json(saved), "learner_id": action.learner_id})


def _undo_exclusion(conn: Connection, action: Action) -> None:
    conn.execute(
        update(Learner)
        .where(Learner.id == action.learner_id)
        .values(excluded=action.action == ActionKind.INCLUDE)
    )


def _undo_set_role(conn: Connection, action: Action) -> None:
    previous = json.loads(action.data or "{}").get("role")
    Sql(conn).run(
        q.SET_MODERATOR_ROLE,
        {"platform": action.platform, "guild_id": action.guild_id, "moderator_role_id": previous},
    )


def _undo_web_leaderboard(conn: Connection, action: Action) -> None:
    # The switch's row exists: setting it made the row (db/web.py).
    previous = bool(json.loads(action.data or "{}").get("on"))
    conn.execute(
        update(GuildSettings)
        .where(GuildSettings.platform == action.platform, GuildSettings.guild_id == action.guild_id)
        .values(web_leaderboard=previous)
    )


def _later_change(conn: Connection, action: Action) -> int | None:
    """The newest action of the same kind in the same guild after ``action``, not undone."""
    return conn.execute(
        select(func.max(ModAction.id)).where(
            ModAction.platform == action.platform,
            ModAction.guild_id == action.guild_id,
            ModAction.action == action.action,
            ModAction.id > action.id,
            ModAction.undone_by.is_(None),
        )
    ).scalar_one_or_none()


def _undo_study(conn: Connection, action: Action) -> None:
    """Put back the study settings as they were before the change (a later change not undone
    was refused before: ``undo``)."""
    saved = json.loads(action.data or "{}")
    if read_server(conn, action.platform, action.guild_id) != settings_of(saved["after"]):
        # Changed outside the log (by hand in the database, or a version that logged nothing):
        # restoring would throw that away unseen too.
        raise ModerationError(
            f"Action #{action.id} cannot be undone: the study settings are no longer what it "
            "set them to. Set them anew with /mod settings study."
        )
    write_server(conn, action.platform, action.guild_id, settings_of(saved["before"]))


UndoHandler = Callable[[Connection, Action], None]
# Every kind of action that can be undone, and how. An undo is not in it: it cannot be undone
# (the moderator does the action again instead).
UNDO: Mapping[ActionKind, UndoHandler] = {
    ActionKind.RESET: _undo_reset,
    ActionKind.EXCLUDE: _undo_exclusion,
    ActionKind.INCLUDE: _undo_exclusion,
    ActionKind.SET_ROLE: _undo_set_role,
    ActionKind.WEB_LEADERBOARD: _undo_web_leaderboard,
    ActionKind.STUDY: _undo_study,
}


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
            moderator_name=q.db_text(actor.name[:100]),
            action=str(kind),
            learner_id=learner_id,
            reason=q.db_text(reason),
            created_at=now,
            data=data,
        )
    )
    key = result.inserted_primary_key
    assert key is not None  # an INSERT of one row
    return int(key[0])


def _change(kind: str, data: str | None) -> str:
    """What a settings change changed, for the log (empty for other actions)."""
    if kind != ActionKind.STUDY or not data:
        return ""
    saved = json.loads(data)
    return change_text(saved["before"], saved["after"])


# A reset keeps the cards it removes in its action's data, as JSON (times in ISO 8601).
def _card_json(card: Mapping[str, Any]) -> dict[str, Any]:
    return {
        column: value.isoformat() if isinstance(value, datetime) else value
        for column, value in card.items()
    }


def _card_from_json(saved: Mapping[str, Any]) -> dict[str, Any]:
    # Cards saved before a column existed (lapses, parked_until) take its default.
    card = {column: saved.get(column, q.CARD_DEFAULTS.get(column)) for column in q.CARD_COLUMNS}
    for column in q.RESTORE_CARD.times:
        if card[column] is not None:
            card[column] = datetime.fromisoformat(card[column])
    return card


_ATTEMPT_COLUMNS = (
    Attempt.question_id,
    Attempt.topic,
    Attempt.correct,
    Attempt.hinted,
    Attempt.time_to_answer_ms,
    Attempt.answered_at,
    Attempt.revealed,
    Attempt.retry,
    Attempt.answer,
    Attempt.points,
)


class ModerationQueries:
    def __init__(
        self,
        db: Database,
        changed: Callable[[int], None] = lambda _id: None,
        guild_changed: Callable[[str, str], None] = lambda _platform, _guild: None,
    ) -> None:
        """``changed(learner_id)`` and ``guild_changed(platform, guild_id)`` are called once an
        undo is committed, so that the store drops what it caches about them."""
        self._db = db
        self._changed = changed
        self._guild_changed = guild_changed

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
            old = conn.execute(
                select(GuildSettings.moderator_role_id).where(
                    GuildSettings.platform == actor.platform,
                    GuildSettings.guild_id == actor.guild_id,
                )
            ).scalar_one_or_none()
            Sql(conn).run(
                q.SET_MODERATOR_ROLE,
                {
                    "platform": actor.platform,
                    "guild_id": actor.guild_id,
                    "moderator_role_id": role_id,
                },
            )
            previous = json.dumps({"role": old})
            return _log_action(conn, actor, ActionKind.SET_ROLE, None, reason, now, previous)

        return await self._db.write(op)

    async def find_learner(self, platform: str, guild_id: str, user_id: str) -> Target | None:
        def op(conn: Connection) -> Target | None:
            row = conn.execute(
                select(
                    Learner.id.label("learner_id"),
                    Learner.display_name.label("name"),
                    Learner.excluded,
                ).where(
                    Learner.platform == platform,
                    Learner.guild_id == guild_id,
                    Learner.user_id == user_id,
                )
            ).first()
            return build(Target, row._mapping) if row else None

        return await self._db.read(op)

    async def reset(self, actor: Actor, target: Target, reason: str, now: datetime) -> int:
        """Hide the learner's attempts and review history (kept, marked with this action) and
        remove their review cards (kept in the action's data) and open question."""
        learner = {"learner_id": target.learner_id}

        def op(conn: Connection) -> int:
            sql = Sql(conn)
            cards = [_card_json(card) for card in sql.rows(q.CARDS_OF, learner)]
            data = json.dumps({"cards": cards})
            action = _log_action(
                conn, actor, ActionKind.RESET, target.learner_id, reason, now, data
            )
            for table in (Attempt, ReviewLog):
                conn.execute(
                    update(table)
                    .where(table.learner_id == target.learner_id, table.reset_by.is_(None))
                    .values(reset_by=action)
                )
            rebuild_rollup(conn, target.learner_id)  # none of their attempts counts now
            sql.run(q.DROP_CARDS, learner)
            sql.run(q.DROP_OPEN_QUESTION, learner)
            bump(conn, target.learner_id)
            return action

        action: int = await self._db.write(op)
        self._changed(target.learner_id)
        return action

    async def set_excluded(
        self, actor: Actor, target: Target, excluded: bool, reason: str, now: datetime
    ) -> int:
        kind = ActionKind.EXCLUDE if excluded else ActionKind.INCLUDE

        def op(conn: Connection) -> int:
            conn.execute(
                update(Learner).where(Learner.id == target.learner_id).values(excluded=excluded)
            )
            bump(conn, target.learner_id)
            return _log_action(conn, actor, kind, target.learner_id, reason, now)

        action: int = await self._db.write(op)
        self._changed(target.learner_id)
        return action

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

        def op(conn: Connection) -> tuple[int, int | None]:
            row = conn.execute(
                select(ModAction.__table__).where(
                    ModAction.id == action_id,
                    ModAction.platform == actor.platform,
                    ModAction.guild_id == actor.guild_id,
                )
            ).first()
            if row is None:
                raise ModerationError(f"There is no action #{action_id} {place(actor.platform)}.")
            action = build(Action, row._mapping)
            if action.undone_by is not None:
                raise ModerationError(
                    f"Action #{action_id} was already undone by #{action.undone_by}."
                )
            kind = ActionKind(action.action)
            authorise(kind)
            # A setting changed again since is refused (moderator.SUPERSEDED_BY_LATER: why).
            if kind in SUPERSEDED_BY_LATER and (later := _later_change(conn, action)):
                raise ModerationError(superseded(kind, action.id, later))
            handler = UNDO.get(kind)
            if handler is None:
                raise ModerationError("An undo cannot be undone; do the action again instead.")
            handler(conn, action)
            if action.learner_id is not None:
                bump(conn, action.learner_id)
            undo_id = _log_action(
                conn, actor, ActionKind.UNDO, action.learner_id, f"undo #{action.id}: {reason}", now
            )
            conn.execute(
                update(ModAction).where(ModAction.id == action.id).values(undone_by=undo_id)
            )
            return undo_id, action.learner_id

        undo_id, learner_id = await self._db.write(op)
        if learner_id is not None:
            self._changed(learner_id)
        self._guild_changed(actor.platform, actor.guild_id)  # its settings, maybe
        return int(undo_id)

    async def _log_rows(
        self, *where: ColumnElement[bool], limit: int, offset: int = 0
    ) -> list[ModActionRow]:
        query = (
            select(
                ModAction.id,
                ModAction.moderator_name,
                ModAction.action,
                Learner.display_name.label("learner_name"),
                ModAction.reason,
                ModAction.created_at,
                ModAction.undone_by,
                # Only a settings change's data says what it changed (a reset's holds cards).
                case(
                    (ModAction.action == str(ActionKind.STUDY), ModAction.data), else_=None
                ).label("data"),
            )
            .outerjoin(Learner, Learner.id == ModAction.learner_id)
            .where(*where)
            .order_by(ModAction.id.desc())
            .limit(limit)
            .offset(offset)
        )

        def op(conn: Connection) -> list[ModActionRow]:
            return [
                build(
                    ModActionRow,
                    row._mapping,
                    action=ActionKind(row.action),
                    change=_change(row.action, row.data),
                )
                for row in conn.execute(query)
            ]

        return await self._db.read(op)

    async def mod_log(
        self, platform: str, guild_id: str, limit: int, offset: int = 0
    ) -> Sequence[ModActionRow]:
        where = (ModAction.platform == platform, ModAction.guild_id == guild_id)
        return await self._log_rows(*where, limit=limit, offset=offset)

    async def action(self, platform: str, guild_id: str, action_id: int) -> ModActionRow | None:
        found = await self._log_rows(
            ModAction.id == action_id,
            ModAction.platform == platform,
            ModAction.guild_id == guild_id,
            limit=1,
        )
        return found[0] if found else None

    async def later_change(self, platform: str, guild_id: str, action_id: int) -> int | None:
        def op(conn: Connection) -> int | None:
            row = conn.execute(
                select(ModAction.__table__).where(
                    ModAction.id == action_id,
                    ModAction.platform == platform,
                    ModAction.guild_id == guild_id,
                )
            ).first()
            return _later_change(conn, build(Action, row._mapping)) if row else None

        return await self._db.read(op)

    async def learner_actions(self, learner_id: int) -> Sequence[ModActionRow]:
        return await self._log_rows(ModAction.learner_id == learner_id, limit=LEARNER_ACTIONS)

    async def reset_impact(self, learner_id: int) -> tuple[int, int]:
        answers = select(func.count()).where(
            Attempt.learner_id == learner_id, Attempt.reset_by.is_(None)
        )
        cards = select(func.count()).where(ReviewCard.learner_id == learner_id)

        def op(conn: Connection) -> tuple[int, int]:
            return int(conn.execute(answers).scalar_one()), int(conn.execute(cards).scalar_one())

        return await self._db.read(op)

    async def report_attempts(self, learner_id: int) -> tuple[list[ReportAttempt], list[datetime]]:
        """Every attempt (reset ones marked) and the times of resets still in force."""
        attempts = (
            select(*_ATTEMPT_COLUMNS, Attempt.reset_by.is_not(None).label("reset"))
            .where(Attempt.learner_id == learner_id)
            .order_by(Attempt.answered_at, Attempt.id)
        )
        resets = (
            select(ModAction.created_at)
            .where(
                ModAction.learner_id == learner_id,
                ModAction.action == str(ActionKind.RESET),
                ModAction.undone_by.is_(None),
            )
            .order_by(ModAction.created_at)
        )

        def op(conn: Connection) -> tuple[list[ReportAttempt], list[datetime]]:
            found = [
                build(ReportAttempt, row._mapping, user_id="") for row in conn.execute(attempts)
            ]
            return found, list(conn.execute(resets).scalars())

        return await self._db.read(op)

    async def export_attempts(
        self, platform: str, guild_id: str, since: datetime | None
    ) -> list[tuple[str, ReportAttempt]]:
        """The attempts that count on this guild's leaderboard, oldest first."""
        query = (
            select(Learner.display_name, Learner.user_id, *_ATTEMPT_COLUMNS)
            .join(Attempt, Attempt.learner_id == Learner.id)
            .where(*counted_on_leaderboard(platform, guild_id))
            .order_by(Attempt.answered_at, Attempt.id)
        )
        if since is not None:
            query = query.where(Attempt.answered_at >= since)

        def op(conn: Connection) -> list[tuple[str, ReportAttempt]]:
            return [
                (row.display_name, build(ReportAttempt, row._mapping, reset=False))
                for row in conn.execute(query)
            ]

        return await self._db.read(op)

    async def leaderboard(
        self,
        platform: str,
        guild_id: str,
        since: datetime | None,
        limit: int,
        offset: int,
        topic: str | None = None,
        excluded: bool = False,
    ) -> Sequence[LeaderRow]:
        board = leaderboard(platform, guild_id, since, limit, offset, topic, excluded)
        return await self._db.read(board)
