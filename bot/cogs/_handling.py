"""The wrapper every component and modal handler runs in (slash commands get the same from the
tree's ``on_error``): shutdown tracking, and any exception answered privately with an error id."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, cast

import discord

from bot.cogs.errors import report

if TYPE_CHECKING:
    from bot.client import TutorBot


def bot_of(interaction: discord.Interaction) -> TutorBot:
    return cast("TutorBot", interaction.client)


async def handle(
    interaction: discord.Interaction,
    handler: Callable[[discord.Interaction], Awaitable[None]],
) -> None:
    try:
        async with bot_of(interaction).work():
            await handler(interaction)
    except Exception as exc:  # every failure gets an answer, never a silent "interaction failed"
        await report(interaction, exc)
