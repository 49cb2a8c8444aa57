"""/progress, /leaderboard and its page buttons, /help."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.store import open_store
from bot.tutor.service import LearnerRef, NewAttempt
from bot.tutor.session import OpenQuestion
from tests.discord.helpers import buttons, text_of, world


async def seed(url: str, guild_id: int, n: int, *, days_ago: int = 0, first_id: int = 1000) -> None:
    """n learners in the guild, learner i with i points, through the real store."""
    store = await open_store(url)
    when = datetime.now(UTC) - timedelta(days=days_ago)
    try:
        for i in range(n):
            ref = LearnerRef("discord", str(first_id + i), str(guild_id), f"learner{i:02}")
            learner = await store.learner_id(ref)
            asked = OpenQuestion("pick-a-base", when - timedelta(minutes=1))
            await store.set_open_question(learner, asked)
            attempt = NewAttempt(
                "pick-a-base", "basics", "The pretrained base.", True, False, i, 60_000, when
            )
            assert await store.record_attempt(learner, attempt, asked)
    finally:
        await store.close()


async def test_progress_is_private_and_counts_answers(env):
    _, channel, alice = world(env)
    empty = await alice.slash(channel, "progress")
    assert empty.ephemeral and "No answers yet" in text_of(empty.response)

    asked = await alice.slash(channel, "quiz", topic="basics", difficulty="easy")
    await alice.click(asked.response, label="2")
    shown = await alice.slash(channel, "progress")

    assert shown.ephemeral
    text = text_of(shown.response)
    assert "alice's progress" in text
    assert "Score: 10" in text and "correct: 1 (100%)" in text
    assert "```\n  basics" in text  # the per-topic bars, aligned in a code block


async def test_leaderboard_pages(env, settings):
    guild, channel, alice = world(env)
    await seed(settings.database_url.get_secret_value(), guild.id, 25)

    board = await alice.slash(channel, "leaderboard")

    assert not board.ephemeral
    first = text_of(board.response)
    assert "page 1" in first and "1. learner24 · 24 points" in first
    assert "learner14" not in first
    nav = buttons(board.response)
    assert nav["◀ Previous"].get("disabled") and not nav["Next ▶"].get("disabled")

    turned = await alice.click(board.response, label="Next ▶")
    assert turned.acknowledged and not turned.followups  # the same message, edited
    second = text_of(board.response)
    assert "page 2" in second and "11. learner14 · 14 points" in second

    await alice.click(board.response, label="Next ▶")
    third = text_of(board.response)
    assert "page 3" in third and "25. learner00" in third
    nav = buttons(board.response)
    assert nav["Next ▶"].get("disabled") and not nav["◀ Previous"].get("disabled")

    await alice.click(board.response, label="◀ Previous")
    assert "page 2" in text_of(board.response)


async def test_leaderboard_window_and_guilds_are_separate(env, settings):
    guild, channel, alice = world(env)
    other = env.create_guild("Elsewhere")
    url = settings.database_url.get_secret_value()
    await seed(url, guild.id, 3, days_ago=40)
    await seed(url, guild.id, 2, first_id=2000)
    await seed(url, other.id, 4, first_id=3000)

    week = await alice.slash(channel, "leaderboard", window="week")
    all_time = await alice.slash(channel, "leaderboard", window="all")

    assert "this week" in text_of(week.response)
    assert text_of(week.response).count(" points ") == 2
    assert text_of(all_time.response).count(" points ") == 5


async def test_leaderboard_in_dms_is_refused_kindly(env):
    _, _, alice = world(env)

    refused = await alice.user.slash("leaderboard")

    assert refused.ephemeral and "belong to a server" in text_of(refused.response)
    progress = await alice.user.slash("progress")
    assert "No answers yet" in text_of(progress.response)


async def test_help_lists_every_command(env):
    _, channel, alice = world(env)

    shown = await alice.slash(channel, "help")

    assert shown.ephemeral
    text = text_of(shown.response)
    for command in ("/quiz", "/hint", "/skip", "/progress", "/leaderboard", "/help", "/run"):
        assert command in text
    assert "Topics: basics, shapes" in text
    assert set(alice.available_commands(channel)) == {
        "quiz",
        "hint",
        "skip",
        "run",
        "progress",
        "leaderboard",
        "help",
    }
