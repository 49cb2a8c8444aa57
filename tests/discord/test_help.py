"""/help on Discord: rendered from the command registry, one line per command with the options
of its real definition, /mod for moderators; the registry held to the real commands of both
frontends, so that neither help can drift from what the bot does."""

from __future__ import annotations

import discord
from discord import app_commands

from bot.cogs.help import discord_args
from bot.console import Chat
from bot.tutor.commands import DISCORD_DESCRIPTION_LIMIT, REGISTRY, Frontend, describe, listed
from bot.tutor.replies import Kind
from tests.discord.helpers import text_of, world
from tests.helpers import learner


async def test_the_registry_is_the_bots_slash_commands(env):
    """Every slash command is in the registry, and every Discord entry is a slash command."""
    real = {
        c.qualified_name
        for c in env.bot.tree.walk_commands()
        if isinstance(c, app_commands.Command)
    }
    assert real == {e.name for e in REGISTRY if e.discord}


async def test_the_command_picker_and_help_say_the_same_words(env):
    """Discord's command picker shows each slash command's description: the registry's summary
    that /help shows, in Discord's length."""
    for command in env.bot.tree.walk_commands():
        if isinstance(command, app_commands.Command):
            assert command.description == describe(command.qualified_name)
            assert len(command.description) <= DISCORD_DESCRIPTION_LIMIT


async def test_help_fits_a_phone_with_each_commands_real_options(env):
    guild, channel, alice = world(env)

    shown = await alice.slash(channel, "help")

    assert shown.ephemeral
    lines = text_of(shown.response).split("\n")
    # One line a command, its options as Discord names them (read from the tree).
    assert "`/leaderboard window topic` the ranking, with your rank" in lines
    quiz = "`/quiz topic difficulty count clear` the next question: due reviews first, then new ones"  # noqa: E501
    assert quiz in lines
    assert "`/settings timezone name` the time zone your daily streak counts in" in lines
    assert not any("/mod" in line or "/quit" in line or "/report" in line for line in lines)
    assert any(line.startswith("Click the number of your answer") for line in lines)
    commands = [line for line in lines if line.startswith("`/")]
    assert len(commands) == len(listed(Frontend.DISCORD, discord_args=discord_args(
        env.bot.tree).get).commands)  # fmt: skip
    assert all(len(line) <= 90 for line in commands)  # one line on a phone

    admins = guild.create_role("admins", permissions=discord.Permissions(manage_guild=True))
    boss = guild.add_member(env.create_user("boss"), roles=[admins])
    mod_help = text_of((await boss.slash(channel, "help")).response)
    assert "**Moderators**" in mod_help
    assert "`/mod reset user reason` hide a learner's progress (reversible)" in mod_help
    assert "`/mod undo action_id reason`" in mod_help


async def test_every_terminal_entry_is_a_terminal_command(tutor):
    """Each command the terminal's help lists is one it knows (no "Unknown command")."""
    chat = Chat(tutor, learner("Ada"))
    for entry in REGISTRY:
        if entry.terminal is None or entry.moderator or entry.name in ("quit", "run"):
            continue
        reply = await chat.handle(f"/{entry.name}")
        assert reply is not None
        assert not (reply.kind is Kind.ERROR and "Unknown command" in str(reply.blocks)), entry
    assert await chat.handle("/quit") is None
    unknown = await chat.handle("/frobnicate")
    assert unknown is not None and unknown.kind is Kind.ERROR
    assert "Unknown command /frobnicate" in str(unknown.blocks[0])
