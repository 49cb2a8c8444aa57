"""/practice: generated questions whose answers were computed in the sandbox.

The question, its Answer button and modal, Hint, Skip and the feedback's Next and Run it are the
quiz's (``bot.cogs.quiz``): a practice question is answered like any short-answer question, and
the tutor tells practice apart by its id. Only the command and its topics are here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.cogs.components import topic_choices
from bot.cogs.quiz import ask
from bot.cogs.render import defer_thinking, learner, send_reply
from bot.tutor.commands import describe
from bot.tutor.service import unknown_topic

if TYPE_CHECKING:
    from bot.client import TutorBot


class Practice(commands.Cog):
    def __init__(self, bot: TutorBot) -> None:
        self.bot = bot
        self.tutor = bot.services.tutor

    @app_commands.command(description=describe("practice"))
    @app_commands.describe(topic="only practice from this topic")
    async def practice(self, interaction: discord.Interaction, topic: str | None = None) -> None:
        # Checked before deferring: a typo gets a private answer at once.
        if refused := unknown_topic(self.tutor.practice_topics, topic):
            await send_reply(interaction, refused)
            return
        async with self.bot.work():
            # Privately, like /quiz: a refusal stays private, the question then goes where the
            # learner studies. Computing a variant nobody asked for before can take a run.
            await defer_thinking(interaction, ephemeral=True)
            who = learner(interaction)
            await ask(interaction, lambda: self.tutor.practice(who, topic))

    @practice.autocomplete("topic")
    async def _topics(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return topic_choices(self.tutor.practice_topics, current)


async def setup(bot: TutorBot) -> None:
    await bot.add_cog(Practice(bot))
