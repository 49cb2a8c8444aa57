"""Moderator commands in the terminal, for a local admin (``python -m bot chat --admin``).

The same Moderator core as on Discord. Actions that change something ask for a "yes" first, as
Discord asks for a button press.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

from bot.tutor.commands import Frontend, listed
from bot.tutor.dashboard import WebAccess
from bot.tutor.grading import parse_number
from bot.tutor.moderation import ActionKind
from bot.tutor.moderator import Actor, Moderator
from bot.tutor.replies import Kind, Reply, Text, verbatim
from bot.tutor.reports import Reports
from bot.tutor.service import MAX_PAGE, Window

MOD_HELP = listed(Frontend.TERMINAL, moderators=True)


# Record ids and page numbers: SQLite's integers are 64-bit.
MAX_ID = 2**63 - 1


def whole_number(text: str, high: int = MAX_ID) -> int | None:
    """``text`` as a whole number from 1 to ``high``, or None. Read by the same rule as typed
    answers (``grading.parse_number``: digits of any script, bounded length)."""
    number = parse_number(text)
    return number if number is not None and 1 <= number <= high else None


def _usage(error: str = "") -> Reply:
    return Reply(text=error, kind=Kind.ERROR, blocks=(MOD_HELP,))


class AdminCommands:
    def __init__(
        self,
        moderator: Moderator,
        actor: Actor,
        files_dir: Path,
        web: WebAccess | None = None,
        reports: Reports | None = None,
    ) -> None:
        self.moderator = moderator
        self.reports = reports
        self.web = web
        self.actor = actor
        self.files_dir = files_dir
        # An action waiting for "yes".
        self.pending: Callable[[], Awaitable[Reply]] | None = None

    async def confirm(self, line: str) -> Reply:
        """The answer to "are you sure?": run the pending action on "yes", else drop it."""
        action, self.pending = self.pending, None
        if action is not None and line.strip().lower() in ("y", "yes"):
            return await action()
        return Reply(text="Cancelled; nothing was changed.", kind=Kind.INFO)

    async def handle(self, args: list[str]) -> Reply:
        if not args:
            return _usage()
        command, rest = args[0].lower(), args[1:]
        mod, actor = self.moderator, self.actor
        match command:
            case "learner" if len(rest) == 1:
                return await mod.learner(actor, rest[0])
            case "reset" | "exclude" | "include" if len(rest) >= 2:
                name, reason = rest[0], " ".join(rest[1:])
                act = {"reset": mod.reset, "exclude": mod.exclude, "include": mod.include}
                preview = await mod.preview(actor, ActionKind(command), name)
                return self._ask(preview, lambda: act[command](actor, name, reason), reason)
            case "undo" if rest and (action_id := whole_number(rest[0])) is not None:
                reason = " ".join(rest[1:])
                preview = await mod.preview(actor, ActionKind.UNDO, action_id=action_id)
                return self._ask(preview, lambda: mod.undo(actor, action_id, reason), reason)
            case "export" if len(rest) <= 1:
                window = rest[0].lower() if rest else "all"
                if window not in Window.__members__.values():
                    return _usage(f"Unknown window {window!r}.")
                return self._save(await mod.export(actor, Window(window)))
            case "log" if len(rest) <= 1:
                page = whole_number(rest[0], MAX_PAGE) if rest else 1
                if page is None:
                    return _usage(f"Pages go from 1 to {MAX_PAGE:,}.")
                return await mod.log(actor, page)
            case "dashboard" if self.web is not None and rest in ([], ["revoke"]):
                if rest:
                    return await self.web.revoke(actor)
                return await self.web.dashboard_link(actor)
            case "settings" if (
                self.web is not None and len(rest) == 2 and rest[0] == "web-leaderboard"
            ):
                state = rest[1].lower()
                if state not in ("on", "off"):
                    return _usage("Say on or off.")
                web = self.web
                self.pending = lambda: web.set_leaderboard(actor, state == "on")
                what = "Publish" if state == "on" else "Stop publishing"
                return Reply(
                    text=f"{what} the terminal leaderboard on the web? Type yes to confirm.",
                    kind=Kind.INFO,
                )
            case "reports" if self.reports is not None and rest == ["export"]:
                return self._save(await self.reports.export(actor))
            case "reports" if self.reports is not None and len(rest) <= 1:
                page = whole_number(rest[0], MAX_PAGE) if rest else 1
                if page is None:
                    return _usage(f"Pages go from 1 to {MAX_PAGE:,}.")
                return await self.reports.listing(actor, page)
            case "questions" if self.reports is not None and not rest:
                return await self.reports.questions(actor)
            case _:
                return _usage()

    def _ask(self, preview: Reply, action: Callable[[], Awaitable[Reply]], reason: str) -> Reply:
        """What the action will do, and "yes" to do it; or why it cannot be done."""
        if preview.kind is Kind.ERROR:
            return preview
        self.pending = action
        why = f"Reason: {verbatim(reason)}\n" if reason else ""
        return replace(preview, blocks=(*preview.blocks, Text.of(f"{why}Type yes to confirm.")))

    def _save(self, reply: Reply) -> Reply:
        if reply.attachment is None:
            return reply
        path = self.files_dir / reply.attachment.name
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(reply.attachment.data)
        except OSError as exc:
            return Reply(text=f"Could not write {path}: {exc}", kind=Kind.ERROR)
        return Reply(text=f"{reply.text} Written to {path}", kind=Kind.INFO)
