"""The commands learners can use, shared by the terminal help and the Discord help."""

from __future__ import annotations

from dataclasses import dataclass

from bot.tutor.replies import Kind, Reply


@dataclass(frozen=True)
class Command:
    name: str
    args: str
    summary: str


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


def help_reply(topics: tuple[str, ...], extra: tuple[Command, ...] = ()) -> Reply:
    width = max(len(f"/{c.name} {c.args}".strip()) for c in (*COMMANDS, *extra))
    lines = [
        f"  {f'/{c.name} {c.args}'.strip():<{width}}  {c.summary}" for c in (*COMMANDS, *extra)
    ]
    lines += [
        "",
        "Answer a multiple-choice question with the number of your choice,",
        "a short-answer question by typing the answer, e.g. (None, 5) for a shape.",
        "",
        "Topics: " + ", ".join(topics),
    ]
    return Reply(text="\n".join(lines), kind=Kind.INFO, title="Commands", ephemeral=True)
