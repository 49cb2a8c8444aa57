"""The commands learners can use, shared by the terminal help and the Discord help."""

from __future__ import annotations

from bot.tutor.replies import Command, Commands, Kind, Reply, Text

__all__ = ["COMMANDS", "Command", "help_reply"]

COMMANDS: tuple[Command, ...] = (
    Command("quiz", "[topic]", "the next question: due reviews first, then new ones"),
    Command("review", "[topic]", "only questions that are due for review"),
    Command("hint", "", "a hint for the open question (a hinted answer earns half the XP)"),
    Command("skip", "", "put the open question aside and get another (nothing is recorded)"),
    Command("progress", "", "XP, accuracy, daily streak and mastery per topic, with a chart"),
    Command(
        "settings", "timezone NAME", "the time zone your daily streak counts in (e.g. Europe/Paris)"
    ),
    Command("leaderboard", "[week|month|all] [page]", "the ranking in this server"),
    Command("help", "", "this list"),
)


def help_reply(topics: tuple[str, ...], extra: tuple[Command, ...] = (), *more: Commands) -> Reply:
    """/help: the commands (``extra``: those only this frontend has; ``more``: further lists,
    such as a local admin's), how to answer, and the topics."""
    how = Text(
        "Answer a multiple-choice question with the number of your choice,\n"
        "a short-answer question by typing the answer, e.g. (None, 5) for a shape."
    )
    topic_list = Text("Topics: " + ", ".join(topics))
    return Reply(
        text="",
        kind=Kind.INFO,
        title="Commands",
        ephemeral=True,
        blocks=(Commands((*COMMANDS, *extra)), how, topic_list, *more),
    )
