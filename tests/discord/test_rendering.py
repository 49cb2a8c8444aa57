"""How Discord shows each structured reply: leaderboard pages and their buttons, /help, /progress,
the moderator log and report. Navigation comes from the reply's page, never from its wording."""

from __future__ import annotations

from dataclasses import replace

import discord
import pytest

from bot.tutor import progress
from bot.tutor.moderator import Actor, Authority, Moderator
from bot.tutor.replies import Reply
from bot.tutor.service import unknown_topic
from tests.discord.helpers import buttons, question_of, text_of, world
from tests.discord.test_progress import seed


async def test_a_board_of_one_page_has_no_pager(env, settings):
    guild, channel, alice = world(env)
    await seed(settings.database_url.get_secret_value(), guild.id, 10)

    board = await alice.slash(channel, "leaderboard")

    description = board.response.embeds[0].description
    mine, rows = description.split("\n\n")
    assert mine == f"<@{alice.id}>: not on this leaderboard yet (answer a question with /quiz)"
    lines = rows.split("\n")
    assert lines[0] == "1. <@1009> · 9 XP · 1/1 correct" and len(lines) == 10  # a row a line
    assert not buttons(board.response)  # one page: nothing to turn
    assert "page" not in board.response.embeds[0].title


@pytest.mark.parametrize("learners, more", [(9, False), (11, True)])
async def test_new_wording_in_the_core_does_not_change_paging(
    env, settings, monkeypatch, learners, more
):
    """The core may say its leaderboard differently (a sentence added, a new title): the
    buttons follow the reply's page all the same."""
    worded = progress.leaderboard_reply

    def reworded(*args, **kwargs) -> Reply:
        reply = worded(*args, **kwargs)
        title = (reply.title or "").replace("Leaderboard", "Ranking")
        return replace(reply, title=title, text="Right answers earn XP.\n" + reply.text)

    monkeypatch.setattr(progress, "leaderboard_reply", reworded)
    guild, channel, alice = world(env)
    await seed(settings.database_url.get_secret_value(), guild.id, learners)

    board = await alice.slash(channel, "leaderboard")

    assert "Ranking · all time" in text_of(board.response)
    assert "Right answers earn XP." in text_of(board.response)
    assert bool(buttons(board.response)) is more
    if more:
        await alice.click(board.response, label="Next ▶")
        second = text_of(board.response)
        assert "page 2" in second and "11. <@1000> · 0 XP" in second
        nav = buttons(board.response)
        assert nav["Next ▶"].get("disabled") and not nav["◀ Previous"].get("disabled")


async def test_unknown_topic_is_the_cores_refusal_word_for_word(env):
    _, channel, alice = world(env)

    refused = await alice.slash(channel, "leaderboard", topic="astrology")

    expected = unknown_topic(env.bot.services.bank.topics, "astrology")
    assert expected is not None
    assert refused.ephemeral and not refused.deferred  # answered before any deferral
    assert text_of(refused.response).strip() == expected.text
    for command in ("quiz", "review", "skip"):
        again = await alice.slash(channel, command, topic="astrology")
        assert text_of(again.response).strip() == expected.text


async def test_help_lists_commands_with_their_usage_as_code(env):
    _, channel, alice = world(env)

    shown = (await alice.slash(channel, "help")).response.embeds[0]

    lines = shown.description.split("\n")
    quiz = "`/quiz topic difficulty count clear` the next question: due reviews first, then new ones"  # noqa: E501
    assert quiz in lines
    assert "`/leaderboard window topic` the ranking, with your rank" in lines
    assert any(line.startswith("`/run` run a TensorFlow snippet") for line in lines)
    assert "Topics: basics, shapes" in lines
    assert "```" not in shown.description  # no terminal layout squeezed into a code block
    assert shown.title == "Commands"


async def test_progress_shows_stats_then_the_mastery_bars_in_a_code_block(env):
    _, channel, alice = world(env)
    asked = await alice.slash(channel, "quiz", topic="basics", difficulty="easy")
    await alice.click(question_of(asked), label="2")

    embed = (await alice.slash(channel, "progress")).response.embeds[0]

    stats, bars, why = embed.description.split("\n\n")
    assert why.startswith("Mastery counts the questions you would still recall now (90% sure")
    assert stats.startswith("XP: 10\nAnswers: 1 · correct: 1 (100%)")
    assert bars == (
        "**Mastery (questions you would recall now)**\n"
        "```\nbasics █████░░░░░ 1/2\nshapes ░░░░░░░░░░ 0/1\n```"
    )


async def test_moderator_log_pages_and_learner_report(env, settings):
    guild, channel, alice = world(env)
    admins = guild.create_role("admins", permissions=discord.Permissions(manage_guild=True))
    boss = guild.add_member(env.create_user("boss"), roles=[admins])
    asked = await alice.slash(channel, "quiz", topic="basics", difficulty="easy")
    await alice.click(question_of(asked), label="2")
    moderator = Moderator(env.bot.services.bank, env.bot.services.store.moderation)
    actor = Actor("discord", str(guild.id), str(boss.id), "boss", Authority.MANAGER)
    for i in range(8):  # 16 actions: one more than a page
        await moderator.exclude(actor, str(alice.id), f"reason {i}")
        await moderator.include(actor, str(alice.id), f"back {i}")

    first = (await boss.slash(channel, "mod log")).response.embeds[0]
    rows = first.description.split("\n")
    assert len(rows) == 15 and rows[0].startswith("#16 ")
    assert rows[0].endswith(" · boss · include alice · back 7")
    assert first.footer.text == "Older actions: /mod log page:2"
    last = (await boss.slash(channel, "mod log", page=2)).response.embeds[0]
    assert last.description.startswith("#1 ") and "\n" not in last.description
    assert last.footer.text is None

    report = (await boss.slash(channel, "mod learner", user=alice)).response.embeds[0]
    status, accuracy, rest, actions, latest = report.description.split("\n\n")
    assert actions.startswith("**Moderation**\n") and actions.count("\n") == 16
    assert latest.startswith("**Latest answers")
    assert "“The pretrained base\\.” · right, 10 XP" in latest  # the answer shown literally
    assert status.startswith("Status: on leaderboards\nAnswers per week: ")
    assert accuracy == "**Accuracy per topic**\nbasics: 1/1 (100%)"
    assert rest.startswith("Hints used: 0 · median answer time: ")
