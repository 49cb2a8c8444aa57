"""/help: the commands, from the same list the terminal shows."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.cogs.render import send_reply
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
        self.topics = bot.services.bank.topics

    @app_commands.command(name="help", description="What I can do")
    async def help_(self, interaction: discord.Interaction) -> None:
        await send_reply(interaction, help_reply(self.topics, DISCORD_ONLY))


async def setup(bot: TutorBot) -> None:
    await bot.add_cog(Help(bot))
