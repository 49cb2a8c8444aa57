"""/run (a modal for the code) and the message command "Run snippet"."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.cogs._handling import handle
from bot.cogs.errors import UserError
from bot.cogs.quiz._cog import modal_value
from bot.cogs.run._views import (
    CODE_FIELD,
    CODE_MODAL,
    check_runnable,
    code_from_message,
    code_modal,
    execute,
)

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
        check_runnable(interaction)  # before the learner types anything
        await interaction.response.send_modal(code_modal())

    async def run_message(self, interaction: discord.Interaction, message: discord.Message) -> None:
        code = code_from_message(message.content)
        if code is None:
            raise UserError("That message has no code block. Put the code in ```python … ```.")
        async with self.bot.work():
            await execute(interaction, code, title="Snippet from a message")

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction) -> None:
        if interaction.type is not discord.InteractionType.modal_submit:
            return
        data: Mapping[str, Any] = interaction.data or {}  # type: ignore[assignment]
        if data.get("custom_id") != CODE_MODAL:
            return
        code = modal_value(data, CODE_FIELD) or ""
        await handle(interaction, lambda i: execute(i, code))
