"""/mod: moderator commands over the Moderator core (bot/tutor/moderator.py).

Who may moderate is decided here, in code, on every subcommand: ``default_permissions`` is only
the initial visibility, and server admins can open the command to anyone in Integrations.
"""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.cogs.errors import UserError
from bot.cogs.moderation._views import NOT_A_MODERATOR, ConfirmView
from bot.cogs.render import PLATFORM, defer_thinking, embed_for, send, send_reply
from bot.tutor.moderator import MAX_REASON_CHARS, Actor, Moderator
from bot.tutor.replies import Kind, Reply
from bot.tutor.service import Window

if TYPE_CHECKING:
    from bot.client import TutorBot

MANAGE_SERVER_ONLY = "Only members with Manage Server can choose the moderator role."
NOT_EVERYONE = "@everyone cannot be the moderator role: that would make every member a moderator."

Reason = app_commands.Range[str, 1, MAX_REASON_CHARS]
ActionId = app_commands.Range[int, 1, 2**53]


class NotModerator(UserError, app_commands.CheckFailure):
    """Raised by the cog's check; the tree's error handler answers it privately. A CheckFailure,
    so discord.py stops before the command body runs."""


def actor_of(interaction: discord.Interaction) -> Actor:
    user = interaction.user
    return Actor(PLATFORM, str(interaction.guild_id), str(user.id), user.display_name)


def has_manage_server(interaction: discord.Interaction) -> bool:
    # interaction.permissions are the member's resolved permissions in this channel
    # (administrators and the owner have them all).
    if interaction.permissions.manage_guild:
        return True
    user = interaction.user
    return isinstance(user, discord.Member) and user.guild_permissions.manage_guild


@app_commands.guild_only()
@app_commands.allowed_contexts(guilds=True, dms=False, private_channels=False)
@app_commands.default_permissions(manage_guild=True)
class Moderation(
    commands.GroupCog, group_name="mod", group_description="Moderator tools for this server"
):
    settings = app_commands.Group(name="settings", description="Moderator settings")

    def __init__(self, bot: TutorBot) -> None:
        self.bot = bot
        assert bot.bank is not None and bot.store is not None  # set in setup_hook, before us
        self.moderator = Moderator(bot.bank, bot.store)

    async def may_moderate(self, interaction: discord.Interaction) -> bool:
        """Manage Server, or the role chosen with /mod settings role."""
        if interaction.guild_id is None:
            return False
        if has_manage_server(interaction):
            return True
        assert self.bot.store is not None
        role_id = await self.bot.store.moderator_role(PLATFORM, str(interaction.guild_id))
        user = interaction.user
        return (
            role_id is not None
            and isinstance(user, discord.Member)
            and any(str(role.id) == role_id for role in user.roles)
        )

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        # Runs before every /mod subcommand. Choosing the role needs Manage Server: a
        # moderator must not be able to hand moderation to another role.
        command = interaction.command
        if command is not None and command.parent is self.settings:
            if not has_manage_server(interaction):
                raise NotModerator(MANAGE_SERVER_ONLY)
            return True
        if not await self.may_moderate(interaction):
            raise NotModerator(NOT_A_MODERATOR)
        return True

    async def _answer(self, interaction: discord.Interaction, reply: Awaitable[Reply]) -> None:
        async with self.bot.work():
            await defer_thinking(interaction, ephemeral=True)
            # Reports hold indented, aligned lines (accuracy per topic): keep them aligned.
            await send_reply(interaction, await reply, monospace=True)

    async def _confirm(
        self,
        interaction: discord.Interaction,
        question: str,
        action: Callable[[], Awaitable[Reply]],
    ) -> None:
        """Ask first; the action runs only when this moderator presses Confirm."""
        view = ConfirmView(interaction.user.id, action, self.may_moderate)
        view.asked = interaction
        embed = embed_for(Reply(text=question, kind=Kind.INFO, ephemeral=True))
        await send(interaction, embed=embed, ephemeral=True, view=view)

    @app_commands.command(description="A learner's activity, accuracy and flags")
    @app_commands.describe(user="the member to look at")
    async def learner(self, interaction: discord.Interaction, user: discord.Member) -> None:
        await self._answer(interaction, self.moderator.learner(actor_of(interaction), str(user.id)))

    @app_commands.command(description="Hide a learner's progress (recoverable with /mod undo)")
    @app_commands.describe(user="whose progress", reason="why (goes into the moderator log)")
    async def reset(
        self, interaction: discord.Interaction, user: discord.Member, reason: Reason
    ) -> None:
        actor = actor_of(interaction)
        await self._confirm(
            interaction,
            f"Reset {user.display_name}'s progress in this server?\nReason: {reason}",
            lambda: self.moderator.reset(actor, str(user.id), reason),
        )

    @app_commands.command(description="Leave a learner out of this server's leaderboards")
    @app_commands.describe(user="who", reason="why (goes into the moderator log)")
    async def exclude(
        self, interaction: discord.Interaction, user: discord.Member, reason: Reason
    ) -> None:
        actor = actor_of(interaction)
        await self._confirm(
            interaction,
            f"Exclude {user.display_name} from this server's leaderboards?\nReason: {reason}",
            lambda: self.moderator.exclude(actor, str(user.id), reason),
        )

    @app_commands.command(description="Put an excluded learner back on the leaderboards")
    @app_commands.describe(user="who", reason="why (goes into the moderator log)")
    async def include(
        self, interaction: discord.Interaction, user: discord.Member, reason: Reason
    ) -> None:
        actor = actor_of(interaction)
        await self._confirm(
            interaction,
            f"Put {user.display_name} back on this server's leaderboards?\nReason: {reason}",
            lambda: self.moderator.include(actor, str(user.id), reason),
        )

    @app_commands.command(description="Reverse a moderator action (see /mod log)")
    @app_commands.describe(action_id="the action's number", reason="why (optional)")
    async def undo(
        self,
        interaction: discord.Interaction,
        action_id: ActionId,
        reason: app_commands.Range[str, 0, MAX_REASON_CHARS] = "",
    ) -> None:
        actor = actor_of(interaction)
        await self._confirm(
            interaction,
            f"Undo action #{action_id}?" + (f"\nReason: {reason}" if reason else ""),
            lambda: self.moderator.undo(actor, action_id, reason),
        )

    @app_commands.command(description="The leaderboard and the answers behind it, as CSV")
    @app_commands.describe(window="the period (default: all time)")
    async def export(
        self, interaction: discord.Interaction, window: Literal["week", "month", "all"] = "all"
    ) -> None:
        async with self.bot.work():
            await defer_thinking(interaction, ephemeral=True)
            reply = await self.moderator.export(actor_of(interaction), Window(window))
            files = []
            if reply.attachment is not None:
                data = io.BytesIO(reply.attachment.data)
                files.append(discord.File(data, filename=reply.attachment.name))
            await send(interaction, embed=embed_for(reply), ephemeral=True, files=files)

    @app_commands.command(description="Every moderator action, newest first")
    @app_commands.describe(page="page number (15 actions each)")
    async def log(
        self, interaction: discord.Interaction, page: app_commands.Range[int, 1, 10_000] = 1
    ) -> None:
        await self._answer(interaction, self.moderator.log(actor_of(interaction), page))

    @settings.command(name="role", description="Set (or, without a role, clear) the moderator role")
    @app_commands.describe(role="members with this role may use /mod; leave empty to clear")
    async def role(
        self, interaction: discord.Interaction, role: discord.Role | None = None
    ) -> None:
        if role is not None and role.is_default():
            await send_reply(interaction, Reply(text=NOT_EVERYONE, kind=Kind.ERROR, ephemeral=True))
            return
        actor = actor_of(interaction)
        why = f"moderator role: {role.name}" if role is not None else "moderator role cleared"
        role_id = str(role.id) if role is not None else None
        await self._answer(interaction, self.moderator.set_role(actor, role_id, why))
