"""/progress, /leaderboard with page buttons, /settings (timezone, retention, new, show)."""

from __future__ import annotations

from dataclasses import replace
from functools import cache
from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.cogs._handling import bot_of
from bot.cogs.components import Part, PersistentButton, topic_choices
from bot.cogs.render import (
    defer_silently,
    defer_thinking,
    embed_for,
    learner,
    send,
    send_reply,
)
from bot.tutor.commands import describe
from bot.tutor.replies import Page, Reply
from bot.tutor.review import MAX_RETENTION, MIN_RETENTION
from bot.tutor.service import (
    DEFAULT_NEW_PER_DAY,
    MAX_NEW_PER_DAY,
    LearnerRef,
    Window,
    no_leaderboard_here,
    unknown_topic,
)
from bot.tutor.streaks import zone_names
from bot.tutor.study import Mode

if TYPE_CHECKING:
    from bot.client import TutorBot


def leaderboard_view(
    window: Window, topic: str | None, page: Page, asker: int | None
) -> discord.ui.View:
    """Previous and Next, from the reply's page alone (never from its text)."""
    view = discord.ui.View(timeout=None)
    back = PageButton(window, page.number - 1, asker, topic, "◀ Previous")
    back.item.disabled = not page.has_previous
    forward = PageButton(window, page.number + 1, asker, topic, "Next ▶")
    forward.item.disabled = not page.has_more
    view.add_item(back)
    view.add_item(forward)
    return view


def leaderboard_message(
    reply: Reply, window: Window, topic: str | None, asker: int | None
) -> tuple[discord.Embed, discord.ui.View | None]:
    """A page of the leaderboard with its buttons (a refusal, or a board of one page, has
    none)."""
    page = reply.page
    paged = page is not None and (page.has_more or page.has_previous)
    view = leaderboard_view(window, topic, page, asker) if page is not None and paged else None
    return embed_for(reply), view


class PageButton(
    PersistentButton,
    key="lb",
    parts=(
        Part("window", "week|month|all", Window),
        Part("page", "[0-9]{1,7}", int),
        # Whose board it is (its rank line is theirs); absent on buttons made before it was
        # added. Topics are words, so a number here is always the asker.
        Part("asker", "[0-9]{1,20}", int, optional=True),
        Part("topic", "[a-z0-9_-]{1,60}", optional=True),
    ),
):
    """Anyone may page through a leaderboard; window, page, asker and topic are in the
    custom_id."""

    def __init__(
        self,
        window: Window,
        page: int,
        asker: int | None = None,
        topic: str | None = None,
        label: str = "",
    ) -> None:
        style = discord.ButtonStyle.secondary
        super().__init__(window.value, max(page, 0), asker, topic, label=label or "…", style=style)
        self.window, self.page, self.asker, self.topic = window, max(page, 1), asker, topic

    async def clicked(self, interaction: discord.Interaction) -> None:
        await defer_silently(interaction)
        tutor = bot_of(interaction).services.tutor
        who = learner(interaction)
        if self.asker is not None:
            who = replace(who, user_id=str(self.asker))
        reply = await tutor.leaderboard(who, self.window, self.page, self.topic)
        if reply.page is None:  # refused: said privately, the board stays as it is
            await send_reply(interaction, reply)
            return
        embed, view = leaderboard_message(reply, self.window, self.topic, self.asker)
        await interaction.edit_original_response(embed=embed, view=view)


@cache
def _zones() -> tuple[str, ...]:
    return tuple(sorted(zone_names()))


class Progress(commands.Cog):
    settings = app_commands.Group(name="settings", description="Your preferences")

    def __init__(self, bot: TutorBot) -> None:
        self.bot = bot
        self.tutor = bot.services.tutor

    async def _topics(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return topic_choices(self.tutor.bank.topics, current)

    @app_commands.command(description=describe("progress"))
    async def progress(self, interaction: discord.Interaction) -> None:
        async with self.bot.work():
            await defer_thinking(interaction, ephemeral=True)
            await send_reply(interaction, await self.tutor.progress(learner(interaction)))

    def _refusal(self, who: LearnerRef, topic: str | None) -> Reply | None:
        # The core's own checks, made before deferring, so that they are answered privately.
        return no_leaderboard_here(who) or unknown_topic(self.tutor.bank.topics, topic)

    @app_commands.command(description=describe("leaderboard"))
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
        if refused := self._refusal(who, topic):
            await send_reply(interaction, refused)
            return
        async with self.bot.work():
            await defer_thinking(interaction, ephemeral=False)
            chosen = Window(window)
            reply = await self.tutor.leaderboard(who, chosen, 1, topic)
            embed, view = leaderboard_message(reply, chosen, topic, interaction.user.id)
            await send(interaction, embed=embed, ephemeral=reply.ephemeral, view=view)

    leaderboard.autocomplete("topic")(_topics)

    @settings.command(name="timezone", description=describe("settings timezone"))
    @app_commands.describe(name="e.g. Europe/Paris or America/New_York")
    async def timezone(self, interaction: discord.Interaction, name: str) -> None:
        async with self.bot.work():
            await defer_thinking(interaction, ephemeral=True)
            await send_reply(interaction, await self.tutor.set_timezone(learner(interaction), name))

    @settings.command(name="show", description=describe("settings show"))
    async def show(self, interaction: discord.Interaction) -> None:
        async with self.bot.work():
            await defer_thinking(interaction, ephemeral=True)
            await send_reply(interaction, await self.tutor.settings(learner(interaction)))

    @settings.command(name="retention", description=describe("settings retention"))
    @app_commands.describe(value="0.70 to 0.97 (default 0.90); higher means more reviews")
    async def retention(
        self,
        interaction: discord.Interaction,
        value: app_commands.Range[float, MIN_RETENTION, MAX_RETENTION],
    ) -> None:
        async with self.bot.work():
            await defer_thinking(interaction, ephemeral=True)
            reply = await self.tutor.set_learning(learner(interaction), retention=str(value))
            await send_reply(interaction, reply)

    @settings.command(name="new", description=describe("settings new"))
    @app_commands.describe(per_day=f"0 to {MAX_NEW_PER_DAY} (default {DEFAULT_NEW_PER_DAY})")
    async def new(
        self,
        interaction: discord.Interaction,
        per_day: app_commands.Range[int, 0, MAX_NEW_PER_DAY],
    ) -> None:
        async with self.bot.work():
            await defer_thinking(interaction, ephemeral=True)
            reply = await self.tutor.set_learning(learner(interaction), new_per_day=str(per_day))
            await send_reply(interaction, reply)

    @settings.command(name="study", description=describe("settings study"))
    @app_commands.describe(mode="a study thread of your own, messages only you see, or the channel")
    async def study(
        self,
        interaction: discord.Interaction,
        mode: Literal["server default", "thread", "ephemeral", "channel"],
    ) -> None:
        if interaction.guild_id is None:
            reply = Reply(
                text="In direct messages your questions are yours already.", ephemeral=True
            )
            await send_reply(interaction, reply)
            return
        async with self.bot.work():
            await defer_thinking(interaction, ephemeral=True)
            chosen = None if mode == "server default" else Mode(mode)
            await send_reply(
                interaction, await self.tutor.study.choose(learner(interaction), chosen)
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
