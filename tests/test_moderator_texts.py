"""What moderators and learners read, over the real store: confirmations that say what an action
will do, what action #N was, learner reports with their moderation and latest answers,
grammatical counts, and leaderboards with shared ranks and a "your rank" line."""

from bot.console import render
from bot.tutor.moderation import ActionKind
from bot.tutor.moderator import Actor, Authority, Moderator
from bot.tutor.progress import LeaderRow, shared_ranks
from bot.tutor.replies import Kind, counted
from bot.tutor.service import Window
from bot.tutor.webstats import shared_ranks as web_ranks
from tests.helpers import learner
from tests.test_moderation import answer_all

MOD = Actor("test", "g1", "mod-1", "Mo", Authority.MANAGER)


async def test_confirmations_say_what_the_action_will_do(tutor, store, bank, clock):
    await answer_all(tutor, learner("Ada"))
    await answer_all(tutor, learner("Bob"), ("2",))
    mods = Moderator(bank, store.moderation, now=clock)

    reset = await mods.preview(MOD, ActionKind.RESET, "ada")
    assert reset.kind is Kind.INFO and reset.text.startswith(
        "Reset Ada's progress in this server? This hides 4 answers and 4 review cards"
    )
    one = await mods.preview(MOD, ActionKind.RESET, "bob")
    assert "hides 1 answer and 1 review card " in one.text  # counts are grammatical
    exclude = await mods.preview(MOD, ActionKind.EXCLUDE, "ada")
    assert "Exclude Ada from this server's leaderboards?" in exclude.text
    assert (await mods.preview(MOD, ActionKind.INCLUDE, "ada")).kind is Kind.ERROR  # not excluded
    assert (await mods.preview(MOD, ActionKind.RESET, "nobody")).kind is Kind.ERROR

    await mods.reset(MOD, "ada", "shared account")
    undo = await mods.preview(MOD, ActionKind.UNDO, action_id=1)
    assert undo.kind is Kind.INFO and undo.text == (
        "Undo action #1 (reset of Ada's progress by Mo on 2026-11-01 12:00 UTC, reason: shared "
        "account)? That brings back the answers and review cards the reset hid."
    )
    await mods.undo(MOD, 1, "wrong person")
    # Already undone: said at once, nothing to confirm.
    again = await mods.preview(MOD, ActionKind.UNDO, action_id=1)
    assert again.kind is Kind.ERROR and again.text == (
        "Action #1 (reset of Ada's progress by Mo on 2026-11-01 12:00 UTC, reason: shared "
        "account) was already undone by #2."
    )
    assert "cannot be undone" in (await mods.preview(MOD, ActionKind.UNDO, action_id=2)).text
    missing = await mods.preview(MOD, ActionKind.UNDO, action_id=99)
    assert missing.kind is Kind.ERROR and "no action #99" in missing.text
    refused = Actor("test", "g1", "x", "X", Authority.NONE)
    assert (await mods.preview(refused, ActionKind.RESET, "ada")).kind is Kind.ERROR


async def test_learner_report_shows_moderation_and_latest_answers(tutor, store, bank, clock):
    ada = learner("Ada")
    await answer_all(tutor, ada, ("2", "global average pooling"))
    mods = Moderator(bank, store.moderation, now=clock)
    await mods.reset(MOD, "ada", "shared account")
    clock.advance(minutes=5)
    await mods.exclude(MOD, "ada", "alt account")
    await answer_all(tutor, ada, ("1",))

    text = render(await mods.learner(MOD, "ada"))

    assert "Status: excluded from leaderboards" in text
    moderation = text[text.index("Moderation:") :]
    assert moderation.index("exclude Ada") < moderation.index("reset Ada")  # newest first
    assert any(" ".join(line.split()) == "2026-11-01 12:00 UTC · Mo · reset Ada · shared account"
               for line in moderation.splitlines())  # fmt: skip
    latest = [" ".join(line.split()) for line in text[text.index("Latest answers") :].splitlines()]
    assert "2026-11-01 12:05 UTC · easy-choice · “Wrong one” · wrong, 0 XP" in latest
    assert (
        "2026-11-01 12:00 UTC · easy-choice · “Right one” · right, 10 XP (hidden by a reset)"
        in latest
    )


def test_counts_are_grammatical():
    assert [counted(n, "answer") for n in (0, 1, 2, 1000)] == [
        "0 answers",
        "1 answer",
        "2 answers",
        "1,000 answers",
    ]
    assert counted(1, "entry", "entries") == "1 entry" and counted(3, "entry", "entries") == (
        "3 entries"
    )


def _row(name: str, score: int) -> LeaderRow:
    return LeaderRow(0, name, score, 1, 1, name)


def test_shared_ranks_are_one_rule_for_discord_the_terminal_and_the_web():
    rows = [_row("a", 30), _row("b", 20), _row("c", 20), _row("d", 10)]
    assert [r.rank for r in shared_ranks(rows)] == [1, 2, 2, 4]
    assert [r.rank for r in web_ranks(rows)] == [1, 2, 2, 4]
    # A page that starts inside a tie: its first rank comes from the learners above.
    assert [r.rank for r in shared_ranks(rows[2:], first_rank=2, offset=2)] == [2, 4]


async def test_leaderboard_shares_ranks_across_pages_and_says_your_rank(tutor, store, clock):
    # Twelve learners: 11 with 10 XP (a tie across the page break), one with none.
    for i in range(11):
        await answer_all(tutor, learner(f"L{i:02}"), ("2",))
    zed = learner("Zed")
    await answer_all(tutor, zed, ("1",))

    first = render(await tutor.leaderboard(zed))
    assert "You: rank 12 of 12 · 0 XP" in first
    assert "page 1 of 2" in first
    assert first.count(" 1. ") == 10  # ten learners share rank 1
    second = render(await tutor.leaderboard(zed, page=2))
    assert "  1. L10" in second and "12. Zed" in second

    past = await tutor.leaderboard(zed, page=5)
    assert past.text == "Page 5 is past the end of this leaderboard (it has 2 pages; try page 2)."
    newcomer = render(await tutor.leaderboard(learner("New")))
    assert "You: not on this leaderboard yet (answer a question with /quiz)" in newcomer
    week = await tutor.leaderboard(zed, Window.WEEK)
    assert week.page is not None and week.page.has_more
