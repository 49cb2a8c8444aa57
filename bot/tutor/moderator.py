"""Moderator commands, one async method each, returning Replies (like service.Tutor).

Who may do what is decided here, on every call: the frontend only says what the platform grants
the person (``Actor.authority``), and asks for confirmation before calling. Every method that
changes something records an action with its reason, and every such action can be undone, by
someone allowed to do the action itself.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum, StrEnum
from typing import Protocol

from bot.tutor import moderation
from bot.tutor.content import Bank
from bot.tutor.moderation import ActionKind, ModActionRow, ReportAttempt
from bot.tutor.progress import LeaderRow
from bot.tutor.replies import Attachment, Kind, Page, Reply, counted, verbatim
from bot.tutor.service import Window

MAX_REASON_CHARS = 500
LOG_PAGE_SIZE = 15
EXPORT_MAX_LEARNERS = 10_000


class Authority(IntEnum):
    """What the platform grants a person in a guild, least first."""

    NONE = 0
    MODERATOR = 1  # Discord: the moderator role chosen by a manager
    MANAGER = 2  # Discord: Manage Server (admins and the owner have it); the terminal's --admin


class Query(StrEnum):
    """Moderator commands that change nothing."""

    LEARNER = "learner"
    LOG = "log"
    EXPORT = "export"
    DASHBOARD = "dashboard"  # a link to the web dashboard (bot/tutor/dashboard.py)
    REPORTS = "reports"  # learners' reports of problems with questions (bot/tutor/reports.py)
    QUESTIONS = "questions"  # per-question statistics


NOT_A_MODERATOR = (
    "Only moderators can use /mod here: members with Manage Server, or with the moderator "
    "role set by /mod settings role."
)

# What each command needs, and what it does (for a refusal). Choosing who moderates is for
# managers only; undoing an action needs what the action needed (``needs``), so that no one can
# undo their way around a rule.
RULES: dict[ActionKind | Query, tuple[Authority, str]] = {
    Query.LEARNER: (Authority.MODERATOR, "see a learner's report"),
    Query.LOG: (Authority.MODERATOR, "read the moderator log"),
    Query.EXPORT: (Authority.MODERATOR, "export the leaderboard"),
    ActionKind.RESET: (Authority.MODERATOR, "reset a learner's progress"),
    ActionKind.EXCLUDE: (Authority.MODERATOR, "exclude a learner"),
    ActionKind.INCLUDE: (Authority.MODERATOR, "put a learner back on the leaderboards"),
    ActionKind.SET_ROLE: (Authority.MANAGER, "change the moderator role"),
    Query.DASHBOARD: (Authority.MODERATOR, "open the web dashboard"),
    Query.REPORTS: (Authority.MODERATOR, "read the learners' reports on questions"),
    Query.QUESTIONS: (Authority.MODERATOR, "see how the questions fare"),
    ActionKind.WEB_LEADERBOARD: (Authority.MODERATOR, "publish the leaderboard on the web"),
    ActionKind.STUDY: (Authority.MODERATOR, "change how this server studies"),
    # To ask for an undo at all; the undo itself then needs what the undone action needs.
    ActionKind.UNDO: (Authority.MODERATOR, "undo actions"),
}


@dataclass(frozen=True)
class Actor:
    """The moderator, the guild they act in, and what the platform grants them there."""

    platform: str
    guild_id: str
    user_id: str
    name: str
    authority: Authority


def needs(what: ActionKind | Query, undoing: bool = False) -> Authority:
    """The authority ``what`` needs (to do it, or to undo it: the same)."""
    needed = RULES[what][0]
    return max(needed, RULES[ActionKind.UNDO][0]) if undoing else needed


def refusal(actor: Actor, what: ActionKind | Query, undoing: bool = False) -> str | None:
    """Why ``actor`` may not do (or undo) ``what``, to show them; None when they may."""
    needed = needs(what, undoing)
    if actor.authority >= needed:
        return None
    if needed is Authority.MODERATOR:
        return NOT_A_MODERATOR
    task = RULES[what][1]
    if undoing:
        return f"Only members with Manage Server can undo that action (it would {task})."
    return f"Only members with Manage Server can {task}."


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

    async def undo(
        self,
        actor: Actor,
        action_id: int,
        reason: str,
        now: datetime,
        authorise: Callable[[ActionKind], None],
    ) -> int:
        """Reverse one action of the actor's guild. ``authorise`` gets the kind of the action
        (in the transaction, before anything changes) and raises ModerationError to refuse."""
        ...

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
        excluded: bool = False,
    ) -> Sequence[LeaderRow]: ...

    async def action(self, platform: str, guild_id: str, action_id: int) -> ModActionRow | None:
        """One action of the guild, as the log shows it."""
        ...

    async def later_change(self, platform: str, guild_id: str, action_id: int) -> int | None:
        """The newest action of the guild, after ``action_id`` and not undone, of the same kind
        (``SUPERSEDED_BY_LATER``); None if there is none."""
        ...

    async def learner_actions(self, learner_id: int) -> Sequence[ModActionRow]:
        """The actions done to one learner (resets, exclusions, their undos)."""
        ...

    async def reset_impact(self, learner_id: int) -> tuple[int, int]:
        """What a reset of the learner would hide now: (answers, review cards)."""
        ...


# Where learners are ranked together, as a learner of the platform says it: a Discord guild is
# a server; the terminal's learners share one leaderboard per computer (its database).
PLACES = {"terminal": ("on this computer", "this computer's")}
SERVER = ("in this server", "this server's")


def place(platform: str) -> str:
    """Where, as in "in this server" or "on this computer"."""
    return PLACES.get(platform, SERVER)[0]


def places(platform: str) -> str:
    """Whose, as in "this server's" or "this computer's"."""
    return PLACES.get(platform, SERVER)[1]


def not_here(platform: str) -> str:
    return f"That member has not answered any question {place(platform)}."


# What undoing each kind of action does, after "That ".
UNDOES: dict[ActionKind, str] = {
    ActionKind.RESET: "brings back the answers and review cards the reset hid",
    ActionKind.EXCLUDE: "puts the learner back on the leaderboards",
    ActionKind.INCLUDE: "leaves the learner out of the leaderboards again",
    ActionKind.SET_ROLE: "puts back the moderator role as it was before",
    ActionKind.WEB_LEADERBOARD: "sets the web leaderboard back as it was before",
    ActionKind.STUDY: "puts back the study settings as they were before",
}
DONE: dict[ActionKind, str] = {
    ActionKind.RESET: "reset of {learner}'s progress",
    ActionKind.EXCLUDE: "exclusion of {learner}",
    ActionKind.INCLUDE: "{learner} put back on the leaderboards",
    ActionKind.UNDO: "an undo",
    ActionKind.SET_ROLE: "moderator role change",
    ActionKind.WEB_LEADERBOARD: "web leaderboard switch",
    ActionKind.STUDY: "study settings change ({change})",
}


def describe(row: ModActionRow) -> str:
    """What action #N was, in a few words: "reset of Ada's progress by Mo on 2026-11-30 12:00
    UTC, reason: spam"."""
    learner = verbatim(row.learner_name) if row.learner_name else "a learner"
    return (
        DONE[row.action].format(learner=learner, change=verbatim(row.change))
        + f" by {verbatim(row.moderator_name)} on {row.created_at:%Y-%m-%d %H:%M} UTC"
        + f", reason: {verbatim(row.reason)}"
    )


# Settings that a later action of the same kind can change again. Undoing one of these actions
# once a later one (not undone) changed the same settings is refused, naming the later action:
# restoring anyway would silently throw away the later moderator's change, and that loss would
# be logged nowhere (the later action would still show as in force). Undone newest first, each
# undo restores exactly the state before its action. Each maps to the command that sets it, for
# the refusal.
SUPERSEDED_BY_LATER: dict[ActionKind, str] = {
    ActionKind.SET_ROLE: "/mod settings role",
    ActionKind.WEB_LEADERBOARD: "/mod settings web-leaderboard",
    ActionKind.STUDY: "/mod settings study",
}


def superseded(kind: ActionKind, action_id: int, later_id: int) -> str:
    return (
        f"Action #{action_id} cannot be undone: the same setting was changed again since, by "
        f"action #{later_id}. Undo #{later_id} first (then #{action_id}), or set it anew with "
        f"{SUPERSEDED_BY_LATER[kind]}."
    )


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

    async def authority(
        self, platform: str, guild_id: str, manages_server: bool, role_ids: Collection[str]
    ) -> Authority:
        """What the platform grants a member of a guild: MANAGER with the right to manage the
        server, MODERATOR with the role chosen by a manager (``set_role``; looked up on every
        call, since roles change), else NONE."""
        if manages_server:
            return Authority.MANAGER
        role = await self.store.moderator_role(platform, guild_id)
        return Authority.MODERATOR if role is not None and role in role_ids else Authority.NONE

    async def _target(self, actor: Actor, user_id: str) -> Target | None:
        return await self.store.find_learner(actor.platform, actor.guild_id, user_id)

    @staticmethod
    def _reason(reason: str) -> str | None:
        reason = " ".join(reason.split())
        return reason[:MAX_REASON_CHARS] if reason else None

    async def learner(self, actor: Actor, user_id: str) -> Reply:
        found = await self.learner_report(actor, user_id)
        return found if isinstance(found, Reply) else moderation.report_reply(found[0])

    async def learner_report(
        self, actor: Actor, user_id: str
    ) -> tuple[moderation.Report, list[ReportAttempt]] | Reply:
        """The learner's report and their attempts (the web dashboard shows both), or the
        refusal as a Reply."""
        if refused := refusal(actor, Query.LEARNER):
            return _error(refused)
        target = await self._target(actor, user_id)
        if target is None:
            return _error(not_here(actor.platform))
        attempts, resets = await self.store.report_attempts(target.learner_id)
        actions = await self.store.learner_actions(target.learner_id)
        report = moderation.report(
            target.name, target.excluded, attempts, resets, self.bank, self.now(), actions
        )
        return report, attempts

    async def preview(
        self, actor: Actor, what: ActionKind, user_id: str = "", action_id: int = 0
    ) -> Reply:
        """What ``what`` would do, to ask before doing it (kind INFO); or, when it cannot be
        done (refused, nobody to act on, already done or undone), why not (kind ERROR), to say
        without asking."""
        if refused := refusal(actor, what):
            return _error(refused)
        if what is ActionKind.UNDO:
            return await self._undo_preview(actor, action_id)
        target = await self._target(actor, user_id)
        if target is None:
            return _error(not_here(actor.platform))
        name = verbatim(target.name)
        if what is ActionKind.RESET:
            answers, cards = await self.store.reset_impact(target.learner_id)
            return _done(
                f"Reset {name}'s progress {place(actor.platform)}? This hides "
                f"{counted(answers, 'answer')} and {counted(cards, 'review card')} from their "
                "progress and the leaderboards (kept, so /mod undo can bring them back)."
            )
        if what is ActionKind.EXCLUDE:
            if target.excluded:
                return _error(f"{name} is already excluded from leaderboards.")
            return _done(
                f"Exclude {name} from {places(actor.platform)} leaderboards? They keep studying "
                "and keep their progress; their XP stops counting on the leaderboards until "
                "/mod include or /mod undo."
            )
        if what is ActionKind.INCLUDE:
            if not target.excluded:
                return _error(f"{name} is not excluded.")
            return _done(
                f"Put {name} back on {places(actor.platform)} leaderboards, with all their XP?"
            )
        raise ValueError(f"no preview for {what}")

    async def _undo_preview(self, actor: Actor, action_id: int) -> Reply:
        row = await self.store.action(actor.platform, actor.guild_id, action_id)
        if row is None:
            return _error(f"There is no action #{action_id} {place(actor.platform)}.")
        what = describe(row)
        if row.undone_by is not None:
            return _error(f"Action #{row.id} ({what}) was already undone by #{row.undone_by}.")
        if row.action is ActionKind.UNDO:
            return _error(
                f"Action #{row.id} ({what}) is an undo, which cannot be undone; do the action "
                "again instead."
            )
        if refused := refusal(actor, row.action, undoing=True):
            return _error(refused)
        if row.action in SUPERSEDED_BY_LATER:
            later = await self.store.later_change(actor.platform, actor.guild_id, row.id)
            if later is not None:
                return _error(superseded(row.action, row.id, later))
        return _done(f"Undo action #{row.id} ({what})? That {UNDOES[row.action]}.")

    async def reset(self, actor: Actor, user_id: str, reason: str) -> Reply:
        return await self._act(actor, user_id, reason, ActionKind.RESET)

    async def exclude(self, actor: Actor, user_id: str, reason: str) -> Reply:
        return await self._act(actor, user_id, reason, ActionKind.EXCLUDE)

    async def include(self, actor: Actor, user_id: str, reason: str) -> Reply:
        return await self._act(actor, user_id, reason, ActionKind.INCLUDE)

    async def _act(self, actor: Actor, user_id: str, reason: str, what: ActionKind) -> Reply:
        if refused := refusal(actor, what):
            return _error(refused)
        why = self._reason(reason)
        if why is None:
            return _error("Give a reason: it goes into the moderator log.")
        target = await self._target(actor, user_id)
        if target is None:
            return _error(not_here(actor.platform))
        now = self.now()
        name = verbatim(target.name)
        if what is ActionKind.RESET:
            answers, cards = await self.store.reset_impact(target.learner_id)
            action = await self.store.reset(actor, target, why, now)
            text = (
                f"Reset {name}'s progress {place(actor.platform)}: hid "
                f"{counted(answers, 'answer')} and {counted(cards, 'review card')}"
            )
        elif what is ActionKind.EXCLUDE:
            if target.excluded:
                return _error(f"{name} is already excluded from leaderboards.")
            action = await self.store.set_excluded(actor, target, True, why, now)
            text = f"Excluded {name} from {places(actor.platform)} leaderboards"
        else:
            if not target.excluded:
                return _error(f"{name} is not excluded.")
            action = await self.store.set_excluded(actor, target, False, why, now)
            text = f"{name} is back on {places(actor.platform)} leaderboards"
        return _done(f"{text} (action #{action}). Reversible with /mod undo {action}.")

    async def undo(self, actor: Actor, action_id: int, reason: str) -> Reply:
        if refused := refusal(actor, ActionKind.UNDO):
            return _error(refused)

        def authorise(kind: ActionKind) -> None:
            if refused := refusal(actor, kind, undoing=True):
                raise ModerationError(refused)

        why = self._reason(reason) or "no reason given"
        row = await self.store.action(actor.platform, actor.guild_id, action_id)
        try:
            undo_id = await self.store.undo(actor, action_id, why, self.now(), authorise)
        except ModerationError as exc:
            return _error(str(exc))
        what = f" ({describe(row)})" if row is not None else ""
        return _done(f"Undid action #{action_id}{what}, recorded as #{undo_id}.")

    async def set_role(self, actor: Actor, role_id: str | None, reason: str) -> Reply:
        if refused := refusal(actor, ActionKind.SET_ROLE):
            return _error(refused)
        why = self._reason(reason) or "no reason given"
        action = await self.store.set_moderator_role(actor, role_id, why, self.now())
        what = "removed the moderator role" if role_id is None else "set the moderator role"
        return _done(f"Done: {what} (action #{action}).")

    async def log(self, actor: Actor, page: int = 1) -> Reply:
        if refused := refusal(actor, Query.LOG):
            return _error(refused)
        page = max(1, page)
        # One row more than a page: whether another page follows.
        rows = await self.store.mod_log(
            actor.platform, actor.guild_id, LOG_PAGE_SIZE + 1, (page - 1) * LOG_PAGE_SIZE
        )
        more = len(rows) > LOG_PAGE_SIZE
        return moderation.log_reply(rows[:LOG_PAGE_SIZE], Page(page, has_more=more))

    async def export(self, actor: Actor, window: Window = Window.ALL) -> Reply:
        if refused := refusal(actor, Query.EXPORT):
            return _error(refused)
        since = window.since(self.now())
        leaders = await self.store.leaderboard(
            actor.platform, actor.guild_id, since, EXPORT_MAX_LEARNERS, 0
        )
        excluded = await self.store.leaderboard(
            actor.platform, actor.guild_id, since, EXPORT_MAX_LEARNERS, 0, excluded=True
        )
        attempts = await self.store.export_attempts(actor.platform, actor.guild_id, since)
        stem = f"{window}-{self.now():%Y%m%d}"
        data = moderation.zipped(
            (
                (f"leaderboard-{stem}.csv", moderation.leaderboard_csv(leaders, excluded)),
                (f"attempts-{stem}.csv", moderation.attempts_csv(attempts, self.bank)),
            )
        )
        left_out = (
            f", {counted(len(excluded), 'excluded learner')} listed apart" if excluded else ""
        )
        return Reply(
            text=f"{counted(len(leaders), 'learner')} on the leaderboard{left_out}, "
            f"{counted(len(attempts), 'answer')} ({window}): two CSV tables in one ZIP file, "
            "leaderboard and attempts.",
            kind=Kind.INFO,
            ephemeral=True,
            attachment=Attachment(f"export-{stem}.zip", data),
        )
