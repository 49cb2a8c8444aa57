"""/mod through SimCord with the real store: who may moderate, confirmation, reset and undo,
exclusion, the log and the CSV export."""

from __future__ import annotations

import csv
import io
import sqlite3
import zipfile
from pathlib import Path
from typing import Any

import discord
import pytest
import simcord

from tests.discord.helpers import as_read, buttons, confirm, question_of, refusals, text_of, world


def mod_actions(db_path: Path) -> list[tuple[int, str, str, str]]:
    """(id, action, moderator_id, reason) of every recorded moderator action."""
    with sqlite3.connect(db_path) as db:
        return db.execute(
            "SELECT id, action, moderator_id, reason FROM mod_actions ORDER BY id"
        ).fetchall()


async def mod_command(env: simcord.Env) -> discord.app_commands.AppCommand:
    return next(c for c in await env.bot.tree.fetch_commands() if c.name == "mod")


async def setup_world(env: simcord.Env) -> tuple[Any, Any, Any, Any]:
    """A server where alice has answered one question right (10 XP) and boss has Manage Server."""
    guild, channel, alice = world(env)
    admins = guild.create_role("admins", permissions=discord.Permissions(manage_guild=True))
    boss = guild.add_member(env.create_user("boss"), roles=[admins])
    asked = await alice.slash(channel, "quiz", topic="basics", difficulty="easy")
    await alice.click(question_of(asked), label="2")
    return guild, channel, alice, boss


async def test_reset_then_undo_restores_progress(env, db_path):
    _, channel, alice, boss = await setup_world(env)

    asked = await boss.slash(channel, "mod reset", user=alice, reason="shared account")
    asked_text = text_of(asked.response)
    assert "Reset alice's progress in this server? This hides 1 answer and 1 review card" in (
        asked_text
    )
    assert "Reason: shared account" in asked_text
    assert mod_actions(db_path) == []  # nothing happens before Confirm
    done = await confirm(boss, asked)
    assert "hid 1 answer and 1 review card (action #1). Reversible with /mod undo 1." in done
    assert "No answers yet" in text_of((await alice.slash(channel, "progress")).response)

    asked = await boss.slash(channel, "mod undo", action_id=1, reason="wrong person")
    assert "Undo action #1 (reset of alice's progress by boss on " in text_of(asked.response)
    assert ", recorded as #2." in await confirm(boss, asked)
    assert "XP: 10" in text_of((await alice.slash(channel, "progress")).response)
    assert [(a[0], a[1], a[3]) for a in mod_actions(db_path)] == [
        (1, "reset", "shared account"),
        (2, "undo", "undo #1: wrong person"),
    ]
    # Already undone: said at once, privately, with nothing to confirm.
    again = await boss.slash(channel, "mod undo", action_id=1)
    assert again.ephemeral and not buttons(again.response)
    assert "was already undone by #2" in text_of(again.response)


async def test_non_moderators_are_refused_and_nothing_is_recorded(env, db_path):
    guild, channel, alice, _ = await setup_world(env)
    bob = guild.add_member(env.create_user("bob"))
    # Discord hides /mod from members without Manage Server (default_permissions) ...
    assert not any(c.startswith("mod") for c in bob.available_commands(channel))
    # ... until an admin opens it to everyone in Integrations: then only our check stands.
    guild.set_command_permissions(await mod_command(env), {guild.default_role: True})

    tries: list[tuple[str, dict[str, Any]]] = [
        ("mod reset", {"user": alice, "reason": "because"}),
        ("mod exclude", {"user": alice, "reason": "because"}),
        ("mod undo", {"action_id": 1}),
        ("mod learner", {"user": alice}),
        ("mod log", {}),
        ("mod export", {}),
        ("mod settings role", {"role": guild.default_role}),
    ]
    for name, options in tries:
        refused = await bob.slash(channel, name, **options)
        assert refused.ephemeral and not buttons(refused.response), name
        assert "Only " in text_of(refused.response), name

    assert all(text.startswith("Only ") for text in refusals(env))
    assert mod_actions(db_path) == []
    assert "XP: 10" in text_of((await alice.slash(channel, "progress")).response)


async def test_moderator_role(env, db_path):
    guild, channel, alice, boss = await setup_world(env)
    tutors = guild.create_role("tutors")
    carol = guild.add_member(env.create_user("carol"), roles=[tutors])
    # The admin shows /mod to the tutors role in Integrations; the bot still decides.
    guild.set_command_permissions(await mod_command(env), {tutors: True})

    before = await carol.slash(channel, "mod log")
    assert "Only moderators" in text_of(before.response)

    chosen = await boss.slash(channel, "mod settings role", role=tutors)
    assert chosen.ephemeral and "set the moderator role (action #1)" in text_of(chosen.response)
    log = await carol.slash(channel, "mod log")
    assert log.ephemeral and "boss · set_role · moderator role: tutors" in text_of(log.response)
    asked = await carol.slash(channel, "mod exclude", user=alice, reason="bot account")
    assert "Excluded alice from this server's leaderboards (action #2)" in await confirm(
        carol, asked
    )

    # A moderator cannot hand moderation to another role, or take it away.
    again = await carol.slash(channel, "mod settings role")
    assert "Only members with Manage Server" in text_of(again.response)
    everyone = await boss.slash(channel, "mod settings role", role=guild.default_role)
    assert "@everyone cannot be the moderator role" in text_of(everyone.response)

    cleared = await boss.slash(channel, "mod settings role")
    assert "removed the moderator role" in text_of(cleared.response)
    after = await carol.slash(channel, "mod log")
    assert "Only moderators" in text_of(after.response)
    assert len(refusals(env)) == 3
    assert [a[1] for a in mod_actions(db_path)] == ["set_role", "exclude", "set_role"]


async def read_tables(result: Any) -> dict[str, list[list[str]]]:
    """The export's two CSV tables (one ZIP attachment), by their first word."""
    (attachment,) = result.response.attachments
    assert attachment.filename.startswith("export-all-") and attachment.filename.endswith(".zip")
    with zipfile.ZipFile(io.BytesIO(await attachment.read())) as archive:
        return {
            name.split("-")[0]: list(
                csv.reader(io.StringIO(archive.read(name).decode("utf-8-sig")))
            )
            for name in archive.namelist()
        }


async def test_exclusion_applies_to_the_leaderboard_and_the_export(env):
    _, channel, alice, boss = await setup_world(env)
    board = as_read(env, (await alice.slash(channel, "leaderboard")).response)
    assert "1. @alice · 10 XP" in board
    exported = await boss.slash(channel, "mod export")
    assert exported.ephemeral and "1 learner on the leaderboard, 1 answer (all)" in text_of(
        exported.response
    )
    board_csv = (await read_tables(exported))["leaderboard"]
    assert ["1", str(alice.id), "alice", "on leaderboard", "10", "1", "1"] in board_csv

    asked = await boss.slash(channel, "mod exclude", user=alice, reason="alt account")
    await confirm(boss, asked)
    assert "1. @alice" not in as_read(env, (await alice.slash(channel, "leaderboard")).response)
    tables = await read_tables(await boss.slash(channel, "mod export"))
    assert ["", str(alice.id), "alice", "excluded", "10", "1", "1"] in tables["leaderboard"]
    assert len(tables["attempts"]) == 1  # the header: her answers do not count

    asked = await boss.slash(channel, "mod include", user=alice, reason="verified")
    assert "alice is back on this server's leaderboards" in await confirm(boss, asked)
    assert "1. @alice · 10 XP" in as_read(env, (await alice.slash(channel, "leaderboard")).response)


async def test_log_lists_actions_with_reasons_and_learner_report(env):
    _, channel, alice, boss = await setup_world(env)
    report = await boss.slash(channel, "mod learner", user=alice)
    assert report.ephemeral and "Learner report · alice" in text_of(report.response)
    assert "basics: 1/1 (100%)" in text_of(report.response)
    unknown = await boss.slash(channel, "mod learner", user=boss)
    assert "has not answered any question" in text_of(unknown.response)

    await confirm(boss, await boss.slash(channel, "mod reset", user=alice, reason="cheating"))
    await confirm(boss, await boss.slash(channel, "mod exclude", user=alice, reason="spam"))

    log = text_of((await boss.slash(channel, "mod log")).response)
    assert log.index("#2 ") < log.index("#1 ")  # newest first
    assert "boss · exclude alice · spam" in log and "boss · reset alice · cheating" in log
    empty = await boss.slash(channel, "mod log", page=2)
    assert "No moderator actions yet" in text_of(empty.response)


async def test_cancel_changes_nothing(env, db_path):
    _, channel, alice, boss = await setup_world(env)

    asked = await boss.slash(channel, "mod reset", user=alice, reason="test")
    assert "Cancelled; nothing was changed." in await confirm(boss, asked, "Cancel")

    assert mod_actions(db_path) == []
    assert "XP: 10" in text_of((await alice.slash(channel, "progress")).response)


async def press_as(env: simcord.Env, actor: Any, message: Any, label: str) -> Any:
    """Deliver a button press from ``actor`` on a message they cannot see. Discord shows a
    private confirmation only to its moderator, so SimCord (rightly) refuses a normal click;
    this uses SimCord's private delivery to check the bot does not rely on that alone."""
    from simcord.actors import _component_interaction

    stored = env.backend.get_message(message.channel_id, message.id)
    button = buttons(message)[label]
    data = {"custom_id": button["custom_id"], "component_type": 2}
    return await _component_interaction(actor, stored, data)


async def test_only_the_asking_moderator_can_confirm(env, db_path):
    guild, channel, alice, boss = await setup_world(env)
    admins = guild.roles["admins"]
    other = guild.add_member(env.create_user("other"), roles=[admins])
    asked = await boss.slash(channel, "mod reset", user=alice, reason="shared account")

    with pytest.raises(simcord.SetupError, match="not visible"):
        await other.click(asked.response, label="Confirm")
    pressed = await press_as(env, other, asked.response, "Confirm")

    assert pressed.ephemeral
    assert "Only the moderator who asked" in text_of(pressed.response)
    assert set(buttons(asked.response)) == {"Confirm", "Cancel"}  # still waiting for boss
    assert mod_actions(db_path) == []
    assert "Reset alice's progress" in await confirm(boss, asked)


async def test_an_unanswered_confirmation_expires(env, db_path):
    _, channel, alice, boss = await setup_world(env)
    asked = await boss.slash(channel, "mod exclude", user=alice, reason="spam")

    await env.advance_time(121)

    assert "expired; nothing was changed" in text_of(asked.response)
    assert not buttons(asked.response) and mod_actions(db_path) == []


async def role_world(env: simcord.Env) -> tuple[Any, Any, Any, Any, Any]:
    """setup_world, plus carol with the "tutors" role, which boss made the moderator role."""
    guild, channel, alice, boss = await setup_world(env)
    tutors = guild.create_role("tutors")
    carol = guild.add_member(env.create_user("carol"), roles=[tutors])
    guild.set_command_permissions(await mod_command(env), {tutors: True})
    await boss.slash(channel, "mod settings role", role=tutors)  # action #1
    return guild, channel, alice, boss, carol


async def test_a_role_moderator_cannot_undo_a_role_change(env, db_path):
    guild, channel, _, boss, carol = await role_world(env)
    role_id = str(guild.roles["tutors"].id)

    # Refused before anything is asked: no Confirm button to press.
    asked = await carol.slash(channel, "mod undo", action_id=1, reason="mine now")
    assert asked.ephemeral and not buttons(asked.response)
    assert "Only members with Manage Server can undo that action" in text_of(asked.response)
    assert moderator_role(db_path) == role_id  # carol is still a moderator; nothing changed
    assert [a[1] for a in mod_actions(db_path)] == ["set_role"]

    asked = await boss.slash(channel, "mod undo", action_id=1)
    assert "Undid action #1" in await confirm(boss, asked)
    assert moderator_role(db_path) is None


@pytest.mark.parametrize("who", ["carol", "boss"])
async def test_every_mod_command_follows_the_core_rule(env, db_path, who):
    """The same rule on Discord: a role moderator may do everything but change the moderator
    role (directly or by undo); a member with Manage Server may do it all."""
    guild, channel, alice, boss, carol = await role_world(env)
    actor = {"carol": carol, "boss": boss}[who]
    manager = who == "boss"
    await confirm(boss, await boss.slash(channel, "mod exclude", user=alice, reason="a"))  # 2
    await confirm(boss, await boss.slash(channel, "mod include", user=alice, reason="b"))  # 3
    await confirm(boss, await boss.slash(channel, "mod reset", user=alice, reason="c"))  # 4

    for name, options in [
        ("mod learner", {"user": alice}),
        ("mod log", {}),
        ("mod export", {}),
    ]:
        shown = text_of((await actor.slash(channel, name, **options)).response)
        assert not shown.startswith("Only "), (name, shown)
    confirmed = [
        ("mod undo", {"action_id": 4}, "Undid action #4"),  # a reset
        ("mod undo", {"action_id": 3}, "Undid action #3"),  # an include
        ("mod undo", {"action_id": 2}, "Undid action #2"),  # an exclude
        ("mod reset", {"user": alice, "reason": "d"}, "Reset alice's progress"),
        ("mod exclude", {"user": alice, "reason": "e"}, "Excluded alice"),
        ("mod include", {"user": alice, "reason": "f"}, "alice is back"),
        ("mod undo", {"action_id": 1}, "Undid action #1" if manager else "Only members with"),
    ]
    for name, options, expected in confirmed:
        asked = await actor.slash(channel, name, **options)
        if expected.startswith("Only "):  # refused at once, nothing to confirm
            assert not buttons(asked.response) and expected in text_of(asked.response)
            continue
        assert expected in await confirm(actor, asked), (name, options)
    role = await actor.slash(channel, "mod settings role", role=guild.roles["tutors"])
    expected = "set the moderator role" if manager else "Only members with Manage Server"
    assert expected in text_of(role.response)
    assert moderator_role(db_path) == str(guild.roles["tutors"].id)
    if not manager:
        assert refusals(env) == ["Only members with Manage Server can change the moderator role."]


def moderator_role(db_path: Path) -> str | None:
    with sqlite3.connect(db_path) as db:
        row = db.execute("SELECT moderator_role_id FROM guild_settings").fetchone()
    return row[0] if row else None
