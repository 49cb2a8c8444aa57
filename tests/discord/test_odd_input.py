"""Odd but legal input through Discord: names the chart would read as maths, time zone names
that are folders or paths, digits that are not ASCII. Each gets a clear answer, no error id, and
what is stored is what was shown."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.discord.helpers import attempts, question_of, text_of, world
from tests.helpers import NOT_ZONES


def timezone_of(db_path: Path) -> list[str]:
    with sqlite3.connect(db_path) as db:
        return [row[0] for row in db.execute("SELECT timezone FROM learners ORDER BY id")]


@pytest.mark.parametrize(
    "nick",
    ["$\\frac$", "$$", "100$ to 200$", "zero\u200bwidth", "rtl \u202eevil", "שלום", "x" * 32],
)
async def test_progress_for_odd_names(env, nick):
    guild, channel, _ = world(env)
    learner = guild.add_member(env.create_user("odd"), nick=nick)
    asked = await learner.slash(channel, "quiz", topic="basics", difficulty="easy")
    await learner.click(question_of(asked), label="2")

    progress = await learner.slash(channel, "progress")

    assert progress.ephemeral and "XP: 10" in text_of(progress.response)
    (chart,) = progress.response.attachments
    assert chart.filename == "chart.png" and (await chart.read()).startswith(b"\x89PNG")
    assert not env.errors


TYPED_ZONES = [z for z in NOT_ZONES if z.strip()]  # Discord sends no empty option


@pytest.mark.parametrize("typed", TYPED_ZONES, ids=range(len(TYPED_ZONES)))
async def test_time_zones_that_are_not_zones(env, db_path, typed):
    _, channel, alice = world(env)
    await alice.slash(channel, "settings timezone", name="Asia/Tokyo")

    answered = await alice.slash(channel, "settings timezone", name=typed)

    assert answered.ephemeral
    shown = answered.response.embeds[0].description
    assert shown.startswith("Unknown time zone '") and "error id" not in shown
    if NOT_ZONES[typed]:
        assert f"Did you mean {', '.join(NOT_ZONES[typed])}?" in shown
    assert timezone_of(db_path) == ["Asia/Tokyo"]
    assert not env.errors


async def test_time_zone_autocomplete_offers_zones_not_folders(env):
    _, channel, alice = world(env)
    offered = await alice.autocomplete(channel, "settings timezone", "name", "America")
    names = [c["value"] for c in offered]
    assert names and all(n.startswith("America/") for n in names)
    local = await alice.autocomplete(channel, "settings timezone", "name", "local")
    assert "localtime" not in [c["value"] for c in local]


@pytest.mark.parametrize(
    ("typed", "correct"), [("(None, ⁵)", True), ("(None, ５)", True), ("²", False)]
)
async def test_a_short_answer_in_other_digits_is_stored_as_shown(env, db_path, typed, correct):
    guild, channel, alice = world(env)
    asked = await alice.slash(channel, "quiz", topic="shapes")
    opened = await alice.click(question_of(asked), label="Answer…")

    submitted = await alice.submit_modal(opened, {"answer": typed})

    assert not env.errors  # the feedback was sent: no crash after storing the answer
    (feedback,) = submitted.followups
    shown = feedback.embeds[0].description
    assert shown.startswith("✅ Correct!" if correct else "❌ Not quite.")
    assert attempts(db_path) == [
        ("head-output-shape", typed, int(correct), str(alice.id), str(guild.id))
    ]
    # The question's buttons are closed, none coloured as if a choice was clicked.
    question = question_of(asked)
    assert all(
        c["disabled"] and c["style"] in (1, 2)
        for row in question.components
        for c in row["components"]
    )
