"""Learners' reports on questions through SimCord and the real store: the button under
feedback, its modal (also after a restart), /mod reports and its CSV export, /mod questions."""

from __future__ import annotations

import csv
import io
import sqlite3

import discord

from tests.discord.helpers import as_read, buttons, question_of, restart, text_of, world


async def answered(env):
    """alice answers one question wrong; boss has Manage Server."""
    guild, channel, alice = world(env)
    admins = guild.create_role("admins", permissions=discord.Permissions(manage_guild=True))
    boss = guild.add_member(env.create_user("boss"), roles=[admins])
    asked = await alice.slash(channel, "quiz", topic="basics", difficulty="easy")
    clicked = await alice.click(question_of(asked), label="1")
    return guild, channel, alice, boss, clicked.followups[0]


async def test_a_learner_reports_a_problem_and_moderators_read_it(env, db_path):
    _, channel, alice, boss, feedback = await answered(env)
    assert "Report a problem" in buttons(feedback)

    opened = await alice.click(feedback, label="Report a problem")
    assert opened.modal is not None and opened.modal["title"] == "Report a problem"
    too_short = await alice.submit_modal(opened, {"note": "   \n  x  "})  # Discord counts spaces
    assert too_short.ephemeral and "nothing was reported" in text_of(too_short.response)
    opened = await alice.click(feedback, label="Report a problem")
    sent = await alice.submit_modal(opened, {"note": "Choice 1 is *also* right @everyone"})
    assert sent.ephemeral and "your report on question pick-a-base" in text_of(sent.response)
    with sqlite3.connect(db_path) as db:
        stored = db.execute("SELECT question_id, note FROM question_reports").fetchall()
    assert stored == [("pick-a-base", "Choice 1 is *also* right @everyone")]

    listed = await boss.slash(channel, "mod reports")
    assert listed.ephemeral
    shown = as_read(env, listed.response)
    assert "pick-a-base · @alice · Choice 1 is *also* right @everyone" in shown
    raw = listed.response.embeds[0].description
    assert "\\*also\\*" in raw and "\\@everyone" in raw  # the note is shown as typed, inert

    exported = await boss.slash(channel, "mod reports", export=True)
    (attachment,) = exported.response.attachments
    rows = list(csv.reader(io.StringIO((await attachment.read()).decode("utf-8-sig"))))
    assert rows[0] == ["id", "created_at", "question_id", "topic", "user_id", "learner", "note"]
    assert rows[1][2:] == ["pick-a-base", "basics", str(alice.id), "alice", stored[0][1]]

    stats = text_of((await boss.slash(channel, "mod questions")).response)
    assert "pick-a-base (basics) · missed 100% of 1 · hints 0% · median " in stats
    assert "· 1 report" in stats

    # A learner does not see /mod at all (default permissions); the core refuses it too.
    assert "mod reports" not in alice.available_commands(channel)


async def test_the_report_modal_works_across_a_restart(env, settings, bots, db_path):
    _, channel, alice, boss, feedback = await answered(env)
    opened = await alice.click(feedback, label="Report a problem")

    await restart(env, settings, bots)
    sent = await alice.submit_modal(opened, {"note": "The hint gives the answer away."})

    assert "your report on question pick-a-base" in text_of(sent.response)
    assert "The hint gives the answer away." in text_of(
        (await boss.slash(channel, "mod reports")).response
    )
