"""The commands learners can use, shared by the terminal help and the Discord help."""

from __future__ import annotations

from bot.tutor.replies import Command, Commands, Kind, Reply, Text
from bot.tutor.review import LEECH_LAPSES, PARK

__all__ = ["COMMANDS", "Command", "help_reply"]

COMMANDS: tuple[Command, ...] = (
    Command("quiz", "[topic]", "the next question: due reviews first, then new ones"),
    Command("review", "[topic]", "only questions that are due for review"),
    Command(
        "practice",
        "[topic]",
        "a generated question whose answer was computed in the sandbox (less XP, once each)",
    ),
    Command(
        "hint",
        "",
        "a hint for the open question (a hinted answer earns half the XP; the hint stays with the "
        "question until you answer it)",
    ),
    Command("skip", "", "put the open question aside and get another (nothing is recorded)"),
    Command("progress", "", "XP, accuracy, daily streak and mastery per topic, with a chart"),
    Command(
        "settings", "[show]", "what you chose: time zone, desired retention, new questions a day"
    ),
    Command(
        "settings", "timezone NAME", "the time zone your daily streak counts in (e.g. Europe/Paris)"
    ),
    Command(
        "settings",
        "retention 0.9",
        "how sure you want to be of an answer when it comes back (70%-97%; higher: more reviews)",
    ),
    Command("settings", "new 20", "how many new questions a day, at most (0-200)"),
    Command("settings", "study MODE", "Discord: where your questions go (thread, ephemeral)"),
    Command("leaderboard", "[week|month|all] [page]", "the ranking in this server"),
    Command("help", "", "this list"),
)


def help_reply(topics: tuple[str, ...], extra: tuple[Command, ...] = (), *more: Commands) -> Reply:
    """/help: the commands (``extra``: those only this frontend has; ``more``: further lists,
    such as a local admin's), how to answer, and the topics."""
    how = Text(
        "Answer a multiple-choice question with the number of your choice (choices are in an "
        "order of your own),\n"
        "a short-answer question by typing the answer, e.g. (None, 5), None x 5 or [None 5] for a "
        "shape, 3,843 for a count.\n"
        "How answers count: right 10 XP × difficulty, half after a hint or after running the "
        "question's own code (that shows the answer); no XP when wrong, before a review is due, "
        "or within a day of seeing the answer (a retry: it still counts for your schedule). A "
        f"question you miss {LEECH_LAPSES} times is set aside for {PARK.days} days and listed in "
        "/progress."
    )
    topic_list = Text("Topics: " + ", ".join(topics))
    return Reply(
        text="",
        kind=Kind.INFO,
        title="Commands",
        ephemeral=True,
        blocks=(Commands((*COMMANDS, *extra)), how, topic_list, *more),
    )
