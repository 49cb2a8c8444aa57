"""/help: the commands, from the same list the terminal shows."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.cogs.render import embed_for, send
from bot.tutor.commands import Command, help_reply

if TYPE_CHECKING:
    from bot.client import TutorBot

DISCORD_ONLY = (
    Command(
        "run", "", "run a TensorFlow snippet (also: right-click a message → Apps → Run snippet)"
    ),
)


class Help(commands.Cog):
    def __init__(self, bot: TutorBot) -> None:
        self.bot = bot

    @app_commands.command(name="help", description="What I can do")
    async def help_(self, interaction: discord.Interaction) -> None:
        reply = help_reply(self.bot.tutor.bank.topics, DISCORD_ONLY)
        embed = embed_for(reply)
        # The shared text is aligned for a terminal; a code block keeps that alignment.
        commands_text, _, rest = reply.text.partition("\n\n")
        embed.description = f"```\n{commands_text}\n```\n{rest}"
        await send(interaction, embed=embed, ephemeral=True)


async def setup(bot: TutorBot) -> None:
    await bot.add_cog(Help(bot))
