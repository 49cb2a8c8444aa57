"""/run (a modal for the code), the message command "Run snippet", and the "Edit and run"
modal's submissions."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.cogs._handling import handle
from bot.cogs.components import modal_value, submitted
from bot.cogs.run._code import (
    AGAIN_MODAL_ID,
    CODE_FIELD,
    CODE_MODAL_ID,
    check_runnable,
    code_from_message,
    code_modal,
)
from bot.cogs.run._state import recent_runs
from bot.cogs.run._views import Target, execute
from bot.errors import UserError
from bot.tutor.commands import describe

if TYPE_CHECKING:
    from bot.client import TutorBot

FROM_MESSAGE = "Snippet from a message"


def _message_in(interaction: discord.Interaction, message_id: int) -> Target | None:
    if interaction.message is not None and interaction.message.id == message_id:
        return interaction.message
    channel = interaction.channel
    get = getattr(channel, "get_partial_message", None)
    return get(message_id) if get is not None else None


class Run(commands.Cog):
    def __init__(self, bot: TutorBot) -> None:
        self.bot = bot
        self.menu = app_commands.ContextMenu(name="Run snippet", callback=self.run_message)

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.menu)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)

    @app_commands.command(description=describe("run"))
    async def run(self, interaction: discord.Interaction) -> None:
        await check_runnable(interaction)  # before the learner types anything
        await interaction.response.send_modal(code_modal())

    async def run_message(self, interaction: discord.Interaction, message: discord.Message) -> None:
        """Runs the message's code as it reads now; run again by the same learner after an
        edit, it updates the result it gave before instead of adding another."""
        code = code_from_message(message.content)
        if code is None:
            raise UserError("That message has no code block. Put the code in ```python … ```.")
        recent = recent_runs(self.bot)
        before = recent.result_of(message.id)
        ran = recent.get(before) if before is not None else None
        target = None
        if before is not None and ran is not None and ran.owner == interaction.user.id:
            target = _message_in(interaction, before)
        async with self.bot.work():
            await execute(interaction, code, FROM_MESSAGE, target=target, source=message.id)

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction) -> None:
        found = submitted(interaction, CODE_MODAL_ID)
        if found is not None:
            code = modal_value(found[1], CODE_FIELD) or ""
            await handle(interaction, lambda i: execute(i, code))
            return
        again = submitted(interaction, AGAIN_MODAL_ID)
        if again is None:
            return
        match, data = again
        message_id = int(match["message"])
        ran = recent_runs(self.bot).get(message_id)
        code = modal_value(data, CODE_FIELD) or ""

        async def rerun(i: discord.Interaction) -> None:
            target = _message_in(i, message_id)
            title = ran.title if ran is not None else None
            source = ran.source if ran is not None else None
            await execute(i, code, title, target=target, source=source)

        await handle(interaction, rerun)
