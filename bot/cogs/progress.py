"""/progress, and /leaderboard with page buttons."""

from __future__ import annotations

import re
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

if TYPE_CHECKING:
    from bot.client import TutorBot

NO_DM_LEADERBOARD = "Leaderboards belong to a server; in direct messages, try /progress."


def _may_have_more(reply: Reply) -> bool:
    # A full page may be followed by another; a short (or empty) one is the last.
    return reply.kind is Kind.LEADERBOARD and len(reply.text.splitlines()) >= LEADERBOARD_PAGE_SIZE


def leaderboard_view(window: Window, page: int, reply: Reply) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    back = PageButton(window, page - 1, "◀ Previous")
    back.item.disabled = page <= 1
    forward = PageButton(window, page + 1, "Next ▶")
    forward.item.disabled = not _may_have_more(reply)
    view.add_item(back)
    view.add_item(forward)
    return view


class PageButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"tlt:lb:(?P<window>week|month|all):(?P<page>[0-9]{1,6})",
):
    """Anyone may page through a leaderboard; the window and page are in the custom_id."""

    def __init__(self, window: Window, page: int, label: str) -> None:
        super().__init__(
            discord.ui.Button(
                label=label,
                style=discord.ButtonStyle.secondary,
                custom_id=f"tlt:lb:{window.value}:{max(page, 0)}",
            )
        )
        self.window, self.page = window, max(page, 1)

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> PageButton:
        return cls(Window(match["window"]), int(match["page"]), getattr(item, "label", "") or "")

    async def callback(self, interaction: discord.Interaction) -> None:
        await handle(interaction, self._turn)

    async def _turn(self, interaction: discord.Interaction) -> None:
        await defer_silently(interaction)
        tutor = bot_of(interaction).tutor
        reply = await tutor.leaderboard(learner(interaction), self.window, self.page)
        if reply.kind is not Kind.LEADERBOARD:
            await send_reply(interaction, reply)
            return
        await interaction.edit_original_response(
            embed=embed_for(reply), view=leaderboard_view(self.window, self.page, reply)
        )


class Progress(commands.Cog):
    def __init__(self, bot: TutorBot) -> None:
        self.bot = bot

    @app_commands.command(description="Your score, accuracy, streak and progress per topic")
    async def progress(self, interaction: discord.Interaction) -> None:
        async with self.bot.work():
            await defer_thinking(interaction, ephemeral=True)
            reply = await self.bot.tutor.progress(learner(interaction))
            embed = embed_for(reply)
            if reply.kind is Kind.PROGRESS and embed.description:
                # Bars are aligned for a fixed-width font.
                head, sep, topics = embed.description.partition("Topics:\n")
                if sep:
                    embed.description = f"{head}**Topics**\n```\n{topics}\n```"
            await send(interaction, embed=embed, ephemeral=True)

    @app_commands.command(description="This server's ranking")
    @app_commands.describe(window="the period that counts (default: all time)")
    async def leaderboard(
        self,
        interaction: discord.Interaction,
        window: Literal["week", "month", "all"] = "all",
    ) -> None:
        who = learner(interaction)
        if who.guild_id == DIRECT_MESSAGES:
            await send(interaction, embed=error_embed(NO_DM_LEADERBOARD), ephemeral=True)
            return
        async with self.bot.work():
            await defer_thinking(interaction, ephemeral=False)
            chosen = Window(window)
            reply = await self.bot.tutor.leaderboard(who, chosen, 1)
            await send(
                interaction,
                embed=embed_for(reply),
                ephemeral=reply.ephemeral,
                view=leaderboard_view(chosen, 1, reply),
            )


async def setup(bot: TutorBot) -> None:
    bot.add_dynamic_items(PageButton)
    await bot.add_cog(Progress(bot))
