"""/mod settings study through SimCord with the real store: each change is a moderator action in
/mod log (names shown literally), undone by /mod undo with its Confirm step, refused at once when
the settings changed again since, and done or undone by moderators only."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import discord
import simcord

from tests.discord.helpers import buttons, confirm, refusals, text_of, world
from tests.discord.test_markdown import HOSTILE, assert_literal, assert_never_pings


def stored(db_path: Path, query: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db_path) as db:
        return db.execute(query).fetchall()


def settings(db_path: Path) -> list[tuple[Any, ...]]:
    return stored(db_path, "SELECT default_mode, learners_choose, channels FROM study_servers")


async def boss_of(env: simcord.Env, guild: Any, nick: str = "boss") -> Any:
    admins = guild.create_role("admins", permissions=discord.Permissions(manage_guild=True))
    return guild.add_member(env.create_user("boss"), roles=[admins], nick=nick)


async def test_changes_are_logged_literally_and_undone_newest_first(env, db_path):
    guild, channel, _ = world(env)
    boss = await boss_of(env, guild, nick=HOSTILE[0])
    odd = guild.create_text_channel("**bold** __under__ @everyone")

    saved = await boss.slash(
        channel, "mod settings study", mode="thread", add_channel=odd, reason=HOSTILE[1]
    )
    assert saved.ephemeral and "Logged as action #1; /mod undo 1" in text_of(saved.response)
    await boss.slash(channel, "mod settings study", mode="ephemeral", remove_channel=odd)  # 2
    assert stored(db_path, "SELECT id, action, moderator_id FROM mod_actions") == [
        (1, "study_settings", str(boss.id)),
        (2, "study_settings", str(boss.id)),
    ]

    log = (await boss.slash(channel, "mod log")).response.embeds[0].description
    newest, oldest = log.split("\n")
    # "#1 <date> UTC · <moderator> · study_settings (<what changed>) · <reason>"
    _, moderator, action, why = oldest.split(" · ")
    assert_literal(moderator, HOSTILE[0])
    assert_literal(why, HOSTILE[1])
    assert action.startswith("study_settings (") and action.endswith(")")
    assert_literal(
        action.removeprefix("study_settings (").removesuffix(")"),
        "study mode: automatic -> thread; study channels: any channel -> "
        "#**bold** __under__ @everyone",
    )
    assert newest.startswith("#2 ") and (
        "study mode: thread -> ephemeral; study channels: #**bold** __under__ @everyone -> "
        "any channel"
    ) in text_of((await boss.slash(channel, "mod log")).response)

    # The older change cannot be undone while the newer one stands: said at once, no buttons.
    refused = await boss.slash(channel, "mod undo", action_id=1)
    assert refused.ephemeral and not buttons(refused.response)
    assert "changed again since, by action #2. Undo #2 first" in text_of(refused.response)
    assert settings(db_path) == [("ephemeral", 1, None)]

    asked = await boss.slash(channel, "mod undo", action_id=2, reason="too quiet")
    assert "That puts back the study settings as they were before." in text_of(asked.response)
    assert "Undid action #2" in await confirm(boss, asked)
    assert settings(db_path) == [("thread", 1, str(odd.id))]
    shown = await boss.slash(channel, "mod settings study")
    assert f"Study channels: <#{odd.id}>" in text_of(shown.response)  # no stale cache
    asked = await boss.slash(channel, "mod undo", action_id=1)
    assert "Undid action #1" in await confirm(boss, asked)
    assert settings(db_path) == [(None, 1, None)]
    assert [a for (a,) in stored(db_path, "SELECT action FROM mod_actions ORDER BY id")] == [
        "study_settings",
        "study_settings",
        "undo",
        "undo",
    ]
    assert_never_pings(env)


async def test_only_moderators_change_or_undo_the_study_settings(env, db_path):
    guild, channel, alice = world(env)
    boss = await boss_of(env, guild)
    tutors = guild.create_role("tutors")
    carol = guild.add_member(env.create_user("carol"), roles=[tutors])
    mod = next(c for c in await env.bot.tree.fetch_commands() if c.name == "mod")
    # /mod opened to everyone in Integrations: only the bot's own check stands.
    guild.set_command_permissions(mod, {guild.default_role: True})
    await boss.slash(channel, "mod settings role", role=tutors)  # action #1

    # A role moderator may change how the server studies, and undo it.
    changed = await carol.slash(channel, "mod settings study", mode="channel")
    assert "Logged as action #2" in text_of(changed.response)
    # A member who is no moderator may neither change nor undo: refused, nothing recorded.
    refused = await alice.slash(channel, "mod settings study", mode="thread")
    assert refused.ephemeral and "Only moderators" in text_of(refused.response)
    undo = await alice.slash(channel, "mod undo", action_id=2)
    assert undo.ephemeral and not buttons(undo.response)
    assert settings(db_path) == [("channel", 1, None)]
    assert [a for (a,) in stored(db_path, "SELECT action FROM mod_actions")] == [
        "set_role",
        "study_settings",
    ]
    assert [text[:14] for text in refusals(env)] == ["Only moderator", "Only moderator"]

    asked = await carol.slash(channel, "mod undo", action_id=2)
    assert "Undid action #2" in await confirm(carol, asked)
    assert settings(db_path) == [(None, 1, None)]
