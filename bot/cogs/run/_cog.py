"""/run (a modal for the code) and the message command "Run snippet"."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.cogs._handling import handle
from bot.cogs.components import modal_value, submitted
from bot.cogs.run._views import (
    CODE_FIELD,
    CODE_MODAL_ID,
    check_runnable,
    code_from_message,
    code_modal,
    execute,
)
from bot.errors import UserError

if TYPE_CHECKING:
    from bot.client import TutorBot


class Run(commands.Cog):
    def __init__(self, bot: TutorBot) -> None:
        self.bot = bot
        self.menu = app_commands.ContextMenu(name="Run snippet", callback=self.run_message)

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.menu)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)

    @app_commands.command(description="Run a TensorFlow/Keras snippet in the sandbox")
    async def run(self, interaction: discord.Interaction) -> None:
        await check_runnable(interaction)  # before the learner types anything
        await interaction.response.send_modal(code_modal())

    async def run_message(self, interaction: discord.Interaction, message: discord.Message) -> None:
        code = code_from_message(message.content)
        if code is None:
            raise UserError("That message has no code block. Put the code in ```python … ```.")
        async with self.bot.work():
            await execute(interaction, code, title="Snippet from a message")

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction) -> None:
        found = submitted(interaction, CODE_MODAL_ID)
        if found is None:
            return
        code = modal_value(found[1], CODE_FIELD) or ""
        await handle(interaction, lambda i: execute(i, code))
