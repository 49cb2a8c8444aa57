"""/help: the commands of the registry (bot/tutor/commands.py) that this bot really has, each with
the options of its real definition, one line each; moderators also see /mod's."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.cogs.render import PLATFORM, send_reply
from bot.tutor.commands import Frontend, describe, help_reply, listed
from bot.tutor.moderator import Authority

if TYPE_CHECKING:
    from bot.client import TutorBot


def discord_args(tree: app_commands.CommandTree) -> dict[str, str]:
    """Each slash command's full name ("settings timezone") and its options, as Discord shows
    them ("name"), from the tree itself."""
    return {
        command.qualified_name: " ".join(p.display_name for p in command.parameters)
        for command in tree.walk_commands()
        if isinstance(command, app_commands.Command)
    }


class Help(commands.Cog):
    def __init__(self, bot: TutorBot) -> None:
        self.bot = bot
        self.topics = bot.services.bank.topics

    async def _moderates(self, interaction: discord.Interaction) -> bool:
        if interaction.guild_id is None:
            return False
        member = interaction.user
        roles = {str(r.id) for r in member.roles} if isinstance(member, discord.Member) else set()
        authority = await self.bot.services.moderator.authority(
            PLATFORM, str(interaction.guild_id), interaction.permissions.manage_guild, roles
        )
        return authority >= Authority.MODERATOR

    @app_commands.command(name="help", description=describe("help"))
    async def help_(self, interaction: discord.Interaction) -> None:
        args = discord_args(self.bot.tree)
        lists = [listed(Frontend.DISCORD, discord_args=args.get)]
        if await self._moderates(interaction):
            lists.append(listed(Frontend.DISCORD, True, args.get))
        await send_reply(interaction, help_reply(Frontend.DISCORD, self.topics, *lists))


async def setup(bot: TutorBot) -> None:
    await bot.add_cog(Help(bot))
