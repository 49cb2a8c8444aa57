"""/quiz, /hint, /skip, and the short-answer modal's submissions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.cogs._handling import handle
from bot.cogs.quiz._views import ANSWER_FIELD, ANSWER_MODAL, grade, send_question
from bot.cogs.render import defer_thinking, error_embed, learner, send, send_reply

if TYPE_CHECKING:
    from bot.client import TutorBot

DIFFICULTY = {"easy": 1, "medium": 2, "hard": 3}


def modal_value(data: Mapping[str, Any], custom_id: str) -> str | None:
    """The value of one text input in a modal submission (inside action rows or labels)."""
    stack: list[Any] = list(data.get("components") or [])
    while stack:
        node = stack.pop()
        if not isinstance(node, Mapping):
            continue
        if node.get("custom_id") == custom_id and "value" in node:
            return str(node["value"])
        stack.extend(node.get("components") or [])
        if node.get("component"):
            stack.append(node["component"])
    return None


class Quiz(commands.Cog):
    def __init__(self, bot: TutorBot) -> None:
        self.bot = bot

    async def _topic_ok(self, interaction: discord.Interaction, topic: str | None) -> bool:
        # Checked before deferring, so that a typo gets a private answer at once.
        if topic is None or topic in self.bot.tutor.bank.topics:
            return True
        topics = ", ".join(self.bot.tutor.bank.topics)
        await send(
            interaction,
            embed=error_embed(f"Unknown topic. Topics: {topics}"),
            ephemeral=True,
        )
        return False

    @app_commands.command(description="Ask me the next question")
    @app_commands.describe(topic="only questions from this topic", difficulty="only this level")
    async def quiz(
        self,
        interaction: discord.Interaction,
        topic: str | None = None,
        difficulty: Literal["easy", "medium", "hard"] | None = None,
    ) -> None:
        if not await self._topic_ok(interaction, topic):
            return
        async with self.bot.work():
            await defer_thinking(interaction, ephemeral=False)
            level = DIFFICULTY[difficulty] if difficulty else None
            reply = await self.bot.tutor.quiz(learner(interaction), topic, level)
            await send_question(interaction, reply)

    @quiz.autocomplete("topic")
    async def _topics(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        wanted = current.lower()
        return [
            app_commands.Choice(name=t, value=t)
            for t in self.bot.tutor.bank.topics
            if wanted in t.lower()
        ][:25]

    @app_commands.command(description="Only questions whose review is due")
    @app_commands.describe(topic="only questions from this topic")
    async def review(self, interaction: discord.Interaction, topic: str | None = None) -> None:
        if not await self._topic_ok(interaction, topic):
            return
        async with self.bot.work():
            await defer_thinking(interaction, ephemeral=False)
            await send_question(
                interaction, await self.bot.tutor.review(learner(interaction), topic)
            )

    review.autocomplete("topic")(_topics)

    @app_commands.command(description="A hint for your open question (halves its XP)")
    async def hint(self, interaction: discord.Interaction) -> None:
        async with self.bot.work():
            await defer_thinking(interaction, ephemeral=True)
            await send_reply(interaction, await self.bot.tutor.hint(learner(interaction)))

    @app_commands.command(description="Put your open question aside and get another")
    @app_commands.describe(topic="the next question's topic")
    async def skip(self, interaction: discord.Interaction, topic: str | None = None) -> None:
        if not await self._topic_ok(interaction, topic):
            return
        async with self.bot.work():
            await defer_thinking(interaction, ephemeral=False)
            await send_question(interaction, await self.bot.tutor.skip(learner(interaction), topic))

    skip.autocomplete("topic")(_topics)

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction) -> None:
        """Short answers arrive as modal submissions; their custom_id says whose and which
        question, so no modal object has to survive in memory (or across a restart)."""
        if interaction.type is not discord.InteractionType.modal_submit:
            return
        data: Mapping[str, Any] = interaction.data or {}  # type: ignore[assignment]
        match = ANSWER_MODAL.fullmatch(str(data.get("custom_id", "")))
        if match is None:
            return
        text = modal_value(data, ANSWER_FIELD) or ""
        owner, qid = int(match["owner"]), match["qid"]
        await handle(interaction, lambda i: grade(i, owner, qid, text))
