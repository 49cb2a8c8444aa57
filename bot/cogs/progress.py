"""/progress, /leaderboard with page buttons, /settings timezone."""

from __future__ import annotations

import re
from functools import cache
from typing import TYPE_CHECKING, Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.cogs._handling import bot_of, handle
from bot.cogs.render import (
    defer_silently,
    defer_thinking,
    embed_for,
    error_embed,
    learner,
    send,
    send_reply,
)
from bot.tutor.replies import Kind, Reply
from bot.tutor.service import DIRECT_MESSAGES, LEADERBOARD_PAGE_SIZE, Window
from bot.tutor.streaks import zone_names

if TYPE_CHECKING:
    from bot.client import TutorBot

NO_DM_LEADERBOARD = "Leaderboards belong to a server; in direct messages, try /progress."


def _may_have_more(reply: Reply) -> bool:
    # A full page may be followed by another; a short (or empty) one is the last.
    return reply.kind is Kind.LEADERBOARD and len(reply.text.splitlines()) >= LEADERBOARD_PAGE_SIZE


def leaderboard_view(window: Window, page: int, topic: str | None, reply: Reply) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    back = PageButton(window, page - 1, topic, "◀ Previous")
    back.item.disabled = page <= 1
    forward = PageButton(window, page + 1, topic, "Next ▶")
    forward.item.disabled = not _may_have_more(reply)
    view.add_item(back)
    view.add_item(forward)
    return view


class PageButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"tlt:lb:(?P<window>week|month|all):(?P<page>[0-9]{1,6})(?::(?P<topic>[a-z0-9_-]{1,60}))?",
):
    """Anyone may page through a leaderboard; window, page and topic are in the custom_id."""

    def __init__(self, window: Window, page: int, topic: str | None, label: str) -> None:
        custom_id = f"tlt:lb:{window.value}:{max(page, 0)}" + (f":{topic}" if topic else "")
        super().__init__(
            discord.ui.Button(label=label, style=discord.ButtonStyle.secondary, custom_id=custom_id)
        )
        self.window, self.page, self.topic = window, max(page, 1), topic

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> PageButton:
        label = getattr(item, "label", "") or ""
        return cls(Window(match["window"]), int(match["page"]), match["topic"], label)

    async def callback(self, interaction: discord.Interaction) -> None:
        await handle(interaction, self._turn)

    async def _turn(self, interaction: discord.Interaction) -> None:
        await defer_silently(interaction)
        tutor = bot_of(interaction).tutor
        reply = await tutor.leaderboard(learner(interaction), self.window, self.page, self.topic)
        if reply.kind is not Kind.LEADERBOARD:
            await send_reply(interaction, reply)
            return
        await interaction.edit_original_response(
            embed=embed_for(reply), view=leaderboard_view(self.window, self.page, self.topic, reply)
        )


@cache
def _zones() -> tuple[str, ...]:
    return tuple(sorted(zone_names()))


class Progress(commands.Cog):
    settings = app_commands.Group(name="settings", description="Your preferences")

    def __init__(self, bot: TutorBot) -> None:
        self.bot = bot

    async def _topics(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        wanted = current.lower()
        topics = self.bot.tutor.bank.topics
        return [app_commands.Choice(name=t, value=t) for t in topics if wanted in t.lower()][:25]

    @app_commands.command(description="Your XP, accuracy, daily streak and mastery per topic")
    async def progress(self, interaction: discord.Interaction) -> None:
        async with self.bot.work():
            await defer_thinking(interaction, ephemeral=True)
            reply = await self.bot.tutor.progress(learner(interaction))
            # The mastery bars are aligned for a fixed-width font; the chart is attached.
            await send_reply(interaction, reply, monospace=True)

    @app_commands.command(description="This server's ranking")
    @app_commands.describe(
        window="the period that counts (default: all time)", topic="only this topic's questions"
    )
    async def leaderboard(
        self,
        interaction: discord.Interaction,
        window: Literal["week", "month", "all"] = "all",
        topic: str | None = None,
    ) -> None:
        who = learner(interaction)
        if who.guild_id == DIRECT_MESSAGES:
            await send(interaction, embed=error_embed(NO_DM_LEADERBOARD), ephemeral=True)
            return
        if topic is not None and topic not in self.bot.tutor.bank.topics:
            topics = ", ".join(self.bot.tutor.bank.topics)
            await send(
                interaction, embed=error_embed(f"Unknown topic. Topics: {topics}"), ephemeral=True
            )
            return
        async with self.bot.work():
            await defer_thinking(interaction, ephemeral=False)
            chosen = Window(window)
            reply = await self.bot.tutor.leaderboard(who, chosen, 1, topic)
            await send(
                interaction,
                embed=embed_for(reply),
                ephemeral=reply.ephemeral,
                view=leaderboard_view(chosen, 1, topic, reply),
            )

    leaderboard.autocomplete("topic")(_topics)

    @settings.command(name="timezone", description="The time zone your daily streak counts in")
    @app_commands.describe(name="e.g. Europe/Paris or America/New_York")
    async def timezone(self, interaction: discord.Interaction, name: str) -> None:
        async with self.bot.work():
            await defer_thinking(interaction, ephemeral=True)
            await send_reply(
                interaction, await self.bot.tutor.set_timezone(learner(interaction), name)
            )

    @timezone.autocomplete("name")
    async def _zone_names(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        wanted = current.lower().replace(" ", "_")
        found = [z for z in _zones() if wanted in z.lower()]
        return [app_commands.Choice(name=z, value=z) for z in found[:25]]


async def setup(bot: TutorBot) -> None:
    bot.add_dynamic_items(PageButton)
    await bot.add_cog(Progress(bot))
