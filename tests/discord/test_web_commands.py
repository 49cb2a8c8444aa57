"""/mod dashboard and /mod settings web-leaderboard through SimCord with the real store: private
answers, the same rules and confirmation as every /mod action, the moderator log."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import discord

from tests.discord.helpers import buttons, confirm, refusals, text_of, world


def stored(db_path: Path, query: str) -> list[tuple]:
    with sqlite3.connect(db_path) as db:
        return db.execute(query).fetchall()


async def test_dashboard_link_is_private_and_for_moderators_only(env, db_path):
    guild, channel, alice = world(env)
    admins = guild.create_role("admins", permissions=discord.Permissions(manage_guild=True))
    boss = guild.add_member(env.create_user("boss"), roles=[admins])

    sent = await boss.slash(channel, "mod dashboard")
    text = text_of(sent.response)
    assert sent.ephemeral and "/dashboard/login/" in text
    token = text.split("/dashboard/login/")[1].split()[0]
    links = stored(db_path, "SELECT guild_id, moderator_id, authority, token_sha256 FROM web_links")
    assert [(g, m, a) for g, m, a, _ in links] == [(str(guild.id), str(boss.id), 2)]
    assert token not in str(links)  # only its hash is stored

    revoked = await boss.slash(channel, "mod dashboard", revoke=True)
    assert revoked.ephemeral and "Revoked 1 dashboard link." in text_of(revoked.response)

    # alice is no moderator: refused before anything is made, even with /mod opened to everyone
    # in Integrations (then only the bot's own check stands).
    mod = next(c for c in await env.bot.tree.fetch_commands() if c.name == "mod")
    guild.set_command_permissions(mod, {guild.default_role: True})
    refused = await alice.slash(channel, "mod dashboard")
    assert refused.ephemeral and "Only moderators" in text_of(refused.response)
    assert len(stored(db_path, "SELECT id FROM web_links")) == 1
    assert [text[:14] for text in refusals(env)] == ["Only moderator"]


async def test_web_leaderboard_switch_is_confirmed_logged_and_undoable(env, db_path):
    guild, channel, _ = world(env)
    admins = guild.create_role("admins", permissions=discord.Permissions(manage_guild=True))
    boss = guild.add_member(env.create_user("boss"), roles=[admins])

    asked = await boss.slash(channel, "mod settings web-leaderboard", state="on")
    assert "Publish this server's leaderboard on the web" in text_of(asked.response)
    assert set(buttons(asked.response)) == {"Confirm", "Cancel"}
    assert stored(db_path, "SELECT action FROM mod_actions") == []  # nothing before Confirm
    done = await confirm(boss, asked)
    assert f"/leaderboard/discord/{guild.id} (action #1)" in done
    assert stored(db_path, "SELECT web_leaderboard FROM guild_settings") == [(1,)]

    undo = await boss.slash(channel, "mod undo", action_id=1)
    assert "Undid action #1" in await confirm(boss, undo)
    assert stored(db_path, "SELECT web_leaderboard FROM guild_settings") == [(0,)]
    assert stored(db_path, "SELECT action FROM mod_actions ORDER BY id") == [
        ("web_leaderboard",),
        ("undo",),
    ]
