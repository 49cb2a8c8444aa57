"""/quiz, /review, /hint, /skip, and the short-answer modal's submissions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.cogs._handling import handle
from bot.cogs.components import modal_value, submitted, topic_choices
from bot.cogs.quiz._views import ANSWER_FIELD, ANSWER_MODAL, ask, grade
from bot.cogs.render import defer_thinking, learner, send_reply
from bot.tutor.commands import describe
from bot.tutor.service import find_topic
from bot.tutor.study import MAX_SET

if TYPE_CHECKING:
    from bot.client import TutorBot

DIFFICULTY = {"easy": 1, "medium": 2, "hard": 3}


class Quiz(commands.Cog):
    def __init__(self, bot: TutorBot) -> None:
        self.bot = bot
        self.tutor = bot.services.tutor

    async def _topic_ok(self, interaction: discord.Interaction, topic: str | None) -> bool:
        # The core's own check, made before deferring: a typo gets a private answer at once.
        _, refused = find_topic(self.tutor.bank.topics, topic)
        if refused is not None:
            await send_reply(interaction, refused)
        return refused is None

    @app_commands.command(description=describe("quiz"))
    @app_commands.describe(
        topic="only questions from this topic (kept for the next ones)",
        difficulty="only this level (kept for the next ones)",
        count="a set of this many questions, with a summary at the end",
        clear="drop the topic and level you chose before",
    )
    async def quiz(
        self,
        interaction: discord.Interaction,
        topic: str | None = None,
        difficulty: Literal["easy", "medium", "hard"] | None = None,
        count: app_commands.Range[int, 1, MAX_SET] | None = None,
        clear: bool = False,
    ) -> None:
        if not await self._topic_ok(interaction, topic):
            return
        async with self.bot.work():
            # Privately: a refusal stays private; the question then goes to its place.
            await defer_thinking(interaction, ephemeral=True)
            level = DIFFICULTY[difficulty] if difficulty else None
            who = learner(interaction)
            await ask(
                interaction, lambda: self.tutor.quiz(who, topic, level, count=count, clear=clear)
            )

    @quiz.autocomplete("topic")
    async def _topics(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return topic_choices(self.tutor.bank.topics, current)

    @app_commands.command(description=describe("review"))
    @app_commands.describe(topic="only questions from this topic")
    async def review(self, interaction: discord.Interaction, topic: str | None = None) -> None:
        if not await self._topic_ok(interaction, topic):
            return
        async with self.bot.work():
            await defer_thinking(interaction, ephemeral=True)
            await ask(interaction, lambda: self.tutor.review(learner(interaction), topic))

    review.autocomplete("topic")(_topics)

    @app_commands.command(description=describe("hint"))
    async def hint(self, interaction: discord.Interaction) -> None:
        async with self.bot.work():
            await defer_thinking(interaction, ephemeral=True)
            await send_reply(interaction, await self.tutor.hint(learner(interaction)))

    @app_commands.command(description=describe("skip"))
    @app_commands.describe(topic="the next question's topic")
    async def skip(self, interaction: discord.Interaction, topic: str | None = None) -> None:
        if not await self._topic_ok(interaction, topic):
            return
        async with self.bot.work():
            await defer_thinking(interaction, ephemeral=True)
            await ask(interaction, lambda: self.tutor.skip(learner(interaction), topic))

    skip.autocomplete("topic")(_topics)

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction) -> None:
        """Short answers arrive as modal submissions; their custom_id says whose and which
        question, so no modal object has to survive in memory (or across a restart)."""
        found = submitted(interaction, ANSWER_MODAL)
        if found is None:
            return
        match, data = found
        text = modal_value(data, ANSWER_FIELD) or ""
        owner, qid = int(match["owner"]), match["qid"]
        await handle(interaction, lambda i: grade(i, owner, qid, text))
