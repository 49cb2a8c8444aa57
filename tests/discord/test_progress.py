"""/progress, /leaderboard and its page buttons, /help."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.tutor import review
from bot.tutor.service import LearnerRef, NewAttempt
from bot.tutor.session import OpenQuestion
from db import open_store
from tests.discord.helpers import buttons, question_of, text_of, world


async def seed(url: str, guild_id: int, n: int, *, days_ago: int = 0, first_id: int = 1000) -> None:
    """n learners in the guild, learner i with i XP, through the real store."""
    store = await open_store(url)
    when = datetime.now(UTC) - timedelta(days=days_ago)
    try:
        for i in range(n):
            ref = LearnerRef("discord", str(first_id + i), str(guild_id), f"learner{i:02}")
            learner = await store.learner_id(ref)
            asked = OpenQuestion("pick-a-base", when - timedelta(minutes=1))
            await store.set_open_question(learner, asked)

            def decide(before, i=i):
                attempt = NewAttempt(
                    "pick-a-base", "basics", "The pretrained base.", True, False, i, 60_000, when
                )
                return attempt, review.review(before, "pick-a-base", review.Rating.Good, when)

            assert await store.record_answer(learner, asked, decide)
    finally:
        await store.close()


async def test_progress_is_private_and_counts_answers(env):
    _, channel, alice = world(env)
    empty = await alice.slash(channel, "progress")
    assert empty.ephemeral and "No answers yet" in text_of(empty.response)

    asked = await alice.slash(channel, "quiz", topic="basics", difficulty="easy")
    await alice.click(question_of(asked), label="2")
    shown = await alice.slash(channel, "progress")

    assert shown.ephemeral
    text = text_of(shown.response)
    assert "alice's progress" in text
    assert "XP: 10" in text and "correct: 1 (100%)" in text
    assert "```\nbasics █████░░░░░ 1/2\nshapes" in text  # bars aligned in a code block
    (chart,) = shown.response.attachments
    assert chart.filename == "chart.png" and chart.size > 1000
    assert shown.response.embeds[0].image.url == "attachment://chart.png"


async def test_leaderboard_pages(env, settings):
    guild, channel, alice = world(env)
    await seed(settings.database_url.get_secret_value(), guild.id, 25)

    board = await alice.slash(channel, "leaderboard")

    assert not board.ephemeral
    first = text_of(board.response)
    # Names are mentions (seeded learners are not members here, so ids show).
    assert "page 1 of 3" in first and "1. <@1024> · 24 XP" in first
    assert "<@1014>" not in first
    nav = buttons(board.response)
    assert nav["◀ Previous"].get("disabled") and not nav["Next ▶"].get("disabled")

    turned = await alice.click(board.response, label="Next ▶")
    assert turned.acknowledged and not turned.followups  # the same message, edited
    second = text_of(board.response)
    assert "page 2 of 3" in second and "11. <@1014> · 14 XP" in second

    await alice.click(board.response, label="Next ▶")
    third = text_of(board.response)
    assert "page 3 of 3" in third and "25. <@1000>" in third
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
    assert text_of(week.response).count(" XP ") == 2
    assert text_of(all_time.response).count(" XP ") == 5


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
    commands = ("/quiz", "/review", "/practice", "/hint", "/skip", "/progress", "/settings", "/run")
    for command in commands:
        assert command in text
    assert "Topics: basics, shapes" in text
    assert set(alice.available_commands(channel)) == {
        "quiz",
        "review",
        "practice",
        "settings timezone",
        "settings show",
        "settings retention",
        "settings new",
        "settings study",
        "hint",
        "skip",
        "run",
        "progress",
        "leaderboard",
        "help",
    }


async def test_leaderboard_by_topic_keeps_the_topic_across_pages(env, settings):
    guild, channel, alice = world(env)
    await seed(settings.database_url.get_secret_value(), guild.id, 12)

    board = await alice.slash(channel, "leaderboard", topic="basics")
    assert "Leaderboard · basics · all time · page 1 of 2" in text_of(board.response)
    await alice.click(board.response, label="Next ▶")
    assert "Leaderboard · basics · all time · page 2 of 2" in text_of(board.response)

    none = await alice.slash(channel, "leaderboard", topic="shapes")
    assert "Nobody has answered yet" in text_of(none.response)


async def test_settings_timezone(env):
    _, channel, alice = world(env)

    choices = await alice.autocomplete(channel, "settings timezone", "name", "paris")
    assert {"name": "Europe/Paris", "value": "Europe/Paris"} in choices
    done = await alice.slash(channel, "settings timezone", name="Europe/Paris")
    assert done.ephemeral and "Time zone set to Europe/Paris" in text_of(done.response)
    bad = await alice.slash(channel, "settings timezone", name="Mars/Olympus")
    assert bad.ephemeral and "Time zone set" not in text_of(bad.response)
