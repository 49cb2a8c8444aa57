"""Moderator commands, one async method each, returning Replies (like service.Tutor).

Frontends check who may call these (and ask for confirmation) before calling; every method that
changes something records an action with its reason, and every such action can be undone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from bot.tutor import moderation
from bot.tutor.content import Bank
from bot.tutor.moderation import ModActionRow, ReportAttempt
from bot.tutor.progress import LeaderRow
from bot.tutor.replies import Attachment, Kind, Reply
from bot.tutor.service import Window

MAX_REASON_CHARS = 500
LOG_PAGE_SIZE = 15
EXPORT_MAX_LEARNERS = 10_000


@dataclass(frozen=True)
class Actor:
    """The moderator, and the guild they act in."""

    platform: str
    guild_id: str
    user_id: str
    name: str


@dataclass(frozen=True)
class Target:
    learner_id: int
    name: str
    excluded: bool


class ModerationError(Exception):
    """An action that cannot be done (unknown action id, already undone). Safe to show."""


class ModerationStore(Protocol):
    async def moderator_role(self, platform: str, guild_id: str) -> str | None: ...

    async def set_moderator_role(
        self, actor: Actor, role_id: str | None, reason: str, now: datetime
    ) -> int: ...

    async def find_learner(self, platform: str, guild_id: str, user_id: str) -> Target | None: ...

    async def reset(self, actor: Actor, target: Target, reason: str, now: datetime) -> int: ...

    async def set_excluded(
        self, actor: Actor, target: Target, excluded: bool, reason: str, now: datetime
    ) -> int: ...

    async def undo(self, actor: Actor, action_id: int, reason: str, now: datetime) -> int: ...

    async def mod_log(
        self, platform: str, guild_id: str, limit: int, offset: int = 0
    ) -> Sequence[ModActionRow]: ...

    async def report_attempts(
        self, learner_id: int
    ) -> tuple[list[ReportAttempt], list[datetime]]: ...

    async def export_attempts(
        self, platform: str, guild_id: str, since: datetime | None
    ) -> list[tuple[str, ReportAttempt]]: ...

    async def leaderboard(
        self,
        platform: str,
        guild_id: str,
        since: datetime | None,
        limit: int,
        offset: int,
        topic: str | None = None,
    ) -> Sequence[LeaderRow]: ...


def _error(text: str) -> Reply:
    return Reply(text=text, kind=Kind.ERROR, ephemeral=True)


def _done(text: str) -> Reply:
    return Reply(text=text, kind=Kind.INFO, ephemeral=True)


class Moderator:
    def __init__(
        self,
        bank: Bank,
        store: ModerationStore,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.bank = bank
        self.store = store
        self.now = now

    async def _target(self, actor: Actor, user_id: str) -> Target | None:
        return await self.store.find_learner(actor.platform, actor.guild_id, user_id)

    @staticmethod
    def _reason(reason: str) -> str | None:
        reason = " ".join(reason.split())
        return reason[:MAX_REASON_CHARS] if reason else None

    async def learner(self, actor: Actor, user_id: str) -> Reply:
        target = await self._target(actor, user_id)
        if target is None:
            return _error("That member has not answered any question in this server.")
        attempts, resets = await self.store.report_attempts(target.learner_id)
        report = moderation.report(
            target.name, target.excluded, attempts, resets, self.bank, self.now()
        )
        return moderation.report_reply(report)

    async def reset(self, actor: Actor, user_id: str, reason: str) -> Reply:
        return await self._act(actor, user_id, reason, "reset")

    async def exclude(self, actor: Actor, user_id: str, reason: str) -> Reply:
        return await self._act(actor, user_id, reason, "exclude")

    async def include(self, actor: Actor, user_id: str, reason: str) -> Reply:
        return await self._act(actor, user_id, reason, "include")

    async def _act(self, actor: Actor, user_id: str, reason: str, what: str) -> Reply:
        why = self._reason(reason)
        if why is None:
            return _error("Give a reason: it goes into the moderator log.")
        target = await self._target(actor, user_id)
        if target is None:
            return _error("That member has not answered any question in this server.")
        now = self.now()
        if what == "reset":
            action = await self.store.reset(actor, target, why, now)
            text = f"Reset {target.name}'s progress in this server"
        elif what == "exclude":
            if target.excluded:
                return _error(f"{target.name} is already excluded from leaderboards.")
            action = await self.store.set_excluded(actor, target, True, why, now)
            text = f"Excluded {target.name} from this server's leaderboards"
        else:
            if not target.excluded:
                return _error(f"{target.name} is not excluded.")
            action = await self.store.set_excluded(actor, target, False, why, now)
            text = f"{target.name} is back on this server's leaderboards"
        return _done(f"{text} (action #{action}). Undo with /mod undo {action}.")

    async def undo(self, actor: Actor, action_id: int, reason: str) -> Reply:
        why = self._reason(reason) or "no reason given"
        try:
            undo_id = await self.store.undo(actor, action_id, why, self.now())
        except ModerationError as exc:
            return _error(str(exc))
        return _done(f"Undid action #{action_id} (recorded as #{undo_id}).")

    async def set_role(self, actor: Actor, role_id: str | None, reason: str) -> Reply:
        why = self._reason(reason) or "no reason given"
        action = await self.store.set_moderator_role(actor, role_id, why, self.now())
        what = "removed the moderator role" if role_id is None else "set the moderator role"
        return _done(f"Done: {what} (action #{action}).")

    async def log(self, actor: Actor, page: int = 1) -> Reply:
        page = max(1, page)
        rows = await self.store.mod_log(
            actor.platform, actor.guild_id, LOG_PAGE_SIZE, (page - 1) * LOG_PAGE_SIZE
        )
        return moderation.log_reply(rows)

    async def export(self, actor: Actor, window: Window = Window.ALL) -> Reply:
        since = window.since(self.now())
        leaders = await self.store.leaderboard(
            actor.platform, actor.guild_id, since, EXPORT_MAX_LEARNERS, 0
        )
        attempts = await self.store.export_attempts(actor.platform, actor.guild_id, since)
        data = moderation.export_csv(leaders, attempts)
        name = f"leaderboard-{window}-{self.now():%Y%m%d}.csv"
        return Reply(
            text=f"{len(leaders)} learners, {len(attempts)} answers ({window}).",
            kind=Kind.INFO,
            ephemeral=True,
            attachment=Attachment(name, data),
        )
