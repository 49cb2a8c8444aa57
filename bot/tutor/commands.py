"""The command registry: every command of both frontends, what it does, and how each frontend
spells it. /help on Discord and /help in the terminal are both rendered from it.

What a command takes comes from the real definitions wherever they can be read: Discord's help
reads each command's options from the bot's command tree (``discord_args``), so an option added
to a slash command shows in /help without touching this file; the terminal's arguments are
written here (its parser is plain code). Tests hold the registry to the real commands both ways
(tests/discord/test_help.py: the tree; tests/test_console.py: the terminal's dispatch).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from bot.tutor.replies import Command, Commands, Kind, Reply, Text
from bot.tutor.review import LEECH_LAPSES, PARK

__all__ = ["REGISTRY", "Command", "Entry", "Frontend", "describe", "help_reply", "listed"]


class Frontend(StrEnum):
    DISCORD = "discord"
    TERMINAL = "terminal"


@dataclass(frozen=True)
class Entry:
    name: str  # as typed after the slash: "leaderboard", "settings timezone", "mod reset"
    summary: str  # a few words, to fit one line on a phone
    terminal: str | None = ""  # the terminal's arguments; None: not in the terminal
    discord: bool = True  # a slash command on Discord
    moderator: bool = False  # shown to moderators only (Discord) or a local admin (terminal)


def _mod(name: str, summary: str, terminal: str | None) -> Entry:
    return Entry(f"mod {name}", summary, terminal, discord=True, moderator=True)


REGISTRY: tuple[Entry, ...] = (
    # The topic and level (easy, medium, hard) stay in force until cleared; N: a set of N.
    Entry(
        "quiz", "the next question: due reviews first, then new ones", "[topic] [level] [N] [clear]"
    ),
    Entry("review", "only questions that are due for review", "[topic]"),
    Entry("practice", "a generated question, its answer computed by running it", "[topic]"),
    Entry("hint", "a hint for your open question (a right answer then earns half the XP)"),
    Entry("skip", "put the open question aside and get another (nothing is recorded)", "[topic]"),
    Entry("run", "run a TensorFlow snippet in the sandbox", "[code]"),
    Entry("layers", "the layer table of each model the last /run left", "", discord=False),
    Entry("progress", "XP, accuracy, daily streak and mastery per topic, with a chart"),
    Entry("leaderboard", "the ranking, with your rank", "[week|month|all] [topic] [page]"),
    Entry("settings show", "what you chose: time zone, retention, new questions a day", ""),
    Entry("settings timezone", "the time zone your daily streak counts in", "NAME"),
    Entry("settings retention", "how sure to be of an answer when it comes back (70%-97%)", "0.9"),
    Entry("settings new", "new questions a day, at most (0-200)", "20"),
    Entry("settings study", "where your questions go: thread, ephemeral", None),
    Entry("report", "report a problem with the last question", "NOTE", discord=False),
    Entry("help", "this list"),
    Entry("quit", "leave the chat (your progress is saved)", discord=False),
    # Moderators.
    _mod("learner", "a learner's activity, flags, moderation, latest answers", "NAME"),
    _mod("reset", "hide a learner's progress (reversible)", "NAME REASON"),
    _mod("exclude", "leave a learner out of leaderboards", "NAME REASON"),
    _mod("include", "put an excluded learner back", "NAME REASON"),
    _mod("undo", "reverse an action (see /mod log)", "ACTION_ID [REASON]"),
    _mod("log", "every moderator action, newest first", "[page]"),
    _mod("export", "leaderboard and answers: two CSV tables, zipped", "[week|month|all]"),
    _mod("reports", "learners' reports on questions (export: CSV)", "[page|export]"),
    _mod("questions", "most missed questions, hint rate, median time", ""),
    _mod("dashboard", "a private link to the web dashboard", "[revoke]"),
    _mod("settings role", "who moderates: the moderator role", None),
    _mod("settings web-leaderboard", "publish the leaderboard on the web", "on|off"),
    _mod("settings study", "how and where learners study on this server", None),
)


_BY_NAME = {e.name: e for e in REGISTRY}
DISCORD_DESCRIPTION_LIMIT = 100  # characters Discord allows in a slash command's description


def describe(name: str) -> str:
    """A slash command's description in Discord's command picker: its registry summary,
    capitalised, so that /help and the picker say the same thing in the same words."""
    summary = _BY_NAME[name].summary
    return summary[:1].upper() + summary[1:]


def listed(
    frontend: Frontend,
    moderators: bool = False,
    discord_args: Callable[[str], str | None] | None = None,
) -> Commands:
    """The registry's commands for ``frontend``: the learners' (or, with ``moderators``, the
    moderators'). On Discord, ``discord_args`` reads a command's options from its real
    definition (None: the bot does not have it, e.g. /run without a sandbox)."""
    out = []
    for e in REGISTRY:
        if e.moderator != moderators:
            continue
        if frontend is Frontend.TERMINAL:
            if e.terminal is not None:
                out.append(Command(e.name, e.terminal, e.summary))
            continue
        args = discord_args(e.name) if e.discord and discord_args else None
        if args is not None:
            out.append(Command(e.name, args, e.summary))
    return Commands(tuple(out), "Moderators" if moderators else None)


HOW = {
    Frontend.DISCORD: (
        "Click the number of your answer (choices come in an order of your own); for a short "
        "answer click Answer… and type it, e.g. (None, 5) for a shape."
    ),
    Frontend.TERMINAL: (
        "Type the number of your answer (choices come in an order of your own), or a short "
        "answer, e.g. (None, 5), None x 5 or [None 5] for a shape, 3,843 for a count."
    ),
}
XP_RULES = (
    "A right answer earns 10 XP × difficulty, half after a hint or after running the question's "
    "own code; none when wrong, before a review is due, or within a day of seeing the answer. "
    f"A question you miss {LEECH_LAPSES} times is set aside for {PARK.days} days."
)


def help_reply(frontend: Frontend, topics: tuple[str, ...], *lists: Commands) -> Reply:
    """/help: the command lists (``listed``), how to answer, how XP counts, and the topics."""
    return Reply(
        text="",
        kind=Kind.INFO,
        title="Commands",
        ephemeral=True,
        blocks=(*lists, Text(HOW[frontend]), Text(XP_RULES), Text("Topics: " + ", ".join(topics))),
    )
