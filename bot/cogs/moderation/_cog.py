"""/mod: moderator commands over the Moderator core (bot/tutor/moderator.py).

Who may do what is decided by the core, on every subcommand and again when an action runs: this
layer only says what Discord grants the member (Manage Server, their roles).
``default_permissions`` is only the initial visibility, and server admins can open the command
to anyone in Integrations.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.cogs.moderation._views import ConfirmView
from bot.cogs.render import PLATFORM, defer_thinking, embed_for, send, send_reply
from bot.errors import UserError
from bot.tutor.commands import describe
from bot.tutor.moderation import ActionKind
from bot.tutor.moderator import MAX_REASON_CHARS, Actor, Authority, Query, refusal
from bot.tutor.replies import Kind, Reply, Text, verbatim
from bot.tutor.service import Window
from bot.tutor.study import Mode

if TYPE_CHECKING:
    from bot.client import TutorBot

# The rule each subcommand is checked against (an undo, once it knows the action: that
# action's own rule).
RULE_OF: dict[str, ActionKind | Query] = {
    "learner": Query.LEARNER,
    "log": Query.LOG,
    "export": Query.EXPORT,
    "reset": ActionKind.RESET,
    "exclude": ActionKind.EXCLUDE,
    "include": ActionKind.INCLUDE,
    "undo": ActionKind.UNDO,
    "role": ActionKind.SET_ROLE,
    "dashboard": Query.DASHBOARD,
    "web-leaderboard": ActionKind.WEB_LEADERBOARD,
    # Showing the settings needs what changing them needs: any moderator.
    "study": ActionKind.STUDY,
    "reports": Query.REPORTS,
    "questions": Query.QUESTIONS,
}
MODES = Literal["auto", "thread", "ephemeral", "channel"]
NOT_EVERYONE = "@everyone cannot be the moderator role: that would make every member a moderator."

Reason = app_commands.Range[str, 1, MAX_REASON_CHARS]
ActionId = app_commands.Range[int, 1, 2**53]


class NotModerator(UserError, app_commands.CheckFailure):
    """Raised by the cog's check; the tree's error handler answers it privately. A CheckFailure,
    so discord.py stops before the command body runs."""


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
        self.moderator = bot.services.moderator
        self.web = bot.services.web
        self.notes = bot.services.reports

    async def actor_of(self, interaction: discord.Interaction) -> Actor:
        """The member as a moderator: what Discord grants them here, looked up on every use."""
        member = interaction.user
        guild = str(interaction.guild_id)
        if interaction.guild_id is None:  # /mod is for servers only
            authority = Authority.NONE
        else:
            roles = member.roles if isinstance(member, discord.Member) else ()
            authority = await self.moderator.authority(
                PLATFORM, guild, has_manage_server(interaction), {str(r.id) for r in roles}
            )
        return Actor(PLATFORM, guild, str(member.id), member.display_name, authority)

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        # Runs before every /mod subcommand, so that a refusal comes before any confirmation;
        # the core checks again when the action runs.
        command = interaction.command
        # A subcommand missing from RULE_OF needs what choosing the role needs: the most.
        what = RULE_OF.get(command.name if command else "", ActionKind.SET_ROLE)
        refused = refusal(await self.actor_of(interaction), what)
        if refused:
            raise NotModerator(refused)
        return True

    async def _answer(self, interaction: discord.Interaction, reply: Awaitable[Reply]) -> None:
        async with self.bot.work():
            await defer_thinking(interaction, ephemeral=True)
            await send_reply(interaction, await reply)

    async def _page(
        self, interaction: discord.Interaction, reply: Awaitable[Reply], older: str
    ) -> None:
        """A page of a longer list, with where the next one is (``older`` page:N+1)."""
        async with self.bot.work():
            await defer_thinking(interaction, ephemeral=True)
            shown = await reply
            embed = embed_for(shown)
            if shown.page is not None and shown.page.has_more:
                embed.set_footer(text=f"{older} page:{shown.page.number + 1}")
            await send(interaction, embed=embed, ephemeral=True)

    async def _confirm(
        self,
        interaction: discord.Interaction,
        what: ActionKind,
        preview: Reply,
        action: Callable[[Actor], Awaitable[Reply]],
        reason: str = "",
    ) -> None:
        """Say what the action will do and ask first (or say why it cannot be done, without
        asking); the action runs only when this moderator presses Confirm, as the member they
        are at that moment (a role can be taken away in between)."""
        if preview.kind is Kind.ERROR:
            await send_reply(interaction, preview)
            return
        view = ConfirmView(interaction.user.id, what, action, self.actor_of)
        view.asked = interaction
        if reason:
            preview = replace(
                preview, blocks=(*preview.blocks, Text.of(f"Reason: {verbatim(reason)}"))
            )
        await send(interaction, embed=embed_for(preview), ephemeral=True, view=view)

    async def _preview(
        self,
        interaction: discord.Interaction,
        what: ActionKind,
        user: discord.Member | None = None,
        action_id: int = 0,
    ) -> Reply:
        actor = await self.actor_of(interaction)
        user_id = str(user.id) if user is not None else ""
        return await self.moderator.preview(actor, what, user_id, action_id)

    @app_commands.command(description=describe("mod learner"))
    @app_commands.describe(user="the member to look at")
    async def learner(self, interaction: discord.Interaction, user: discord.Member) -> None:
        actor = await self.actor_of(interaction)
        await self._answer(interaction, self.moderator.learner(actor, str(user.id)))

    @app_commands.command(description=describe("mod reset"))
    @app_commands.describe(user="whose progress", reason="why (goes into the moderator log)")
    async def reset(
        self, interaction: discord.Interaction, user: discord.Member, reason: Reason
    ) -> None:
        await self._confirm(
            interaction,
            ActionKind.RESET,
            await self._preview(interaction, ActionKind.RESET, user),
            lambda actor: self.moderator.reset(actor, str(user.id), reason),
            reason,
        )

    @app_commands.command(description=describe("mod exclude"))
    @app_commands.describe(user="who", reason="why (goes into the moderator log)")
    async def exclude(
        self, interaction: discord.Interaction, user: discord.Member, reason: Reason
    ) -> None:
        await self._confirm(
            interaction,
            ActionKind.EXCLUDE,
            await self._preview(interaction, ActionKind.EXCLUDE, user),
            lambda actor: self.moderator.exclude(actor, str(user.id), reason),
            reason,
        )

    @app_commands.command(description=describe("mod include"))
    @app_commands.describe(user="who", reason="why (goes into the moderator log)")
    async def include(
        self, interaction: discord.Interaction, user: discord.Member, reason: Reason
    ) -> None:
        await self._confirm(
            interaction,
            ActionKind.INCLUDE,
            await self._preview(interaction, ActionKind.INCLUDE, user),
            lambda actor: self.moderator.include(actor, str(user.id), reason),
            reason,
        )

    @app_commands.command(description=describe("mod undo"))
    @app_commands.describe(action_id="the action's number", reason="why (optional)")
    async def undo(
        self,
        interaction: discord.Interaction,
        action_id: ActionId,
        reason: app_commands.Range[str, 0, MAX_REASON_CHARS] = "",
    ) -> None:
        await self._confirm(
            interaction,
            ActionKind.UNDO,
            await self._preview(interaction, ActionKind.UNDO, action_id=action_id),
            lambda actor: self.moderator.undo(actor, action_id, reason),
            reason,
        )

    @app_commands.command(description=describe("mod export"))
    @app_commands.describe(window="the period (default: all time)")
    async def export(
        self, interaction: discord.Interaction, window: Literal["week", "month", "all"] = "all"
    ) -> None:
        actor = await self.actor_of(interaction)
        await self._answer(interaction, self.moderator.export(actor, Window(window)))

    @app_commands.command(description=describe("mod log"))
    @app_commands.describe(page="page number (15 actions each)")
    async def log(
        self, interaction: discord.Interaction, page: app_commands.Range[int, 1, 10_000] = 1
    ) -> None:
        actor = await self.actor_of(interaction)
        await self._page(interaction, self.moderator.log(actor, page), "Older actions: /mod log")

    @app_commands.command(description=describe("mod reports"))
    @app_commands.describe(
        page="page number (10 reports each)", export="all of them as a CSV file instead"
    )
    async def reports(
        self,
        interaction: discord.Interaction,
        page: app_commands.Range[int, 1, 10_000] = 1,
        export: bool = False,
    ) -> None:
        actor = await self.actor_of(interaction)
        if export:
            await self._answer(interaction, self.notes.export(actor))
            return
        older = "Older reports: /mod reports"
        await self._page(interaction, self.notes.listing(actor, page), older)

    @app_commands.command(description=describe("mod questions"))
    async def questions(self, interaction: discord.Interaction) -> None:
        actor = await self.actor_of(interaction)
        await self._answer(interaction, self.notes.questions(actor))

    @settings.command(name="role", description=describe("mod settings role"))
    @app_commands.describe(role="members with this role may use /mod; leave empty to clear")
    async def role(
        self, interaction: discord.Interaction, role: discord.Role | None = None
    ) -> None:
        if role is not None and role.is_default():
            await send_reply(interaction, Reply(text=NOT_EVERYONE, kind=Kind.ERROR, ephemeral=True))
            return
        actor = await self.actor_of(interaction)
        why = f"moderator role: {role.name}" if role is not None else "moderator role cleared"
        role_id = str(role.id) if role is not None else None
        await self._answer(interaction, self.moderator.set_role(actor, role_id, why))

    @app_commands.command(description=describe("mod dashboard"))
    @app_commands.describe(revoke="revoke every dashboard link of this server instead")
    async def dashboard(self, interaction: discord.Interaction, revoke: bool = False) -> None:
        actor = await self.actor_of(interaction)
        # Always ephemeral: the link opens the dashboard for whoever holds it.
        answer = self.web.revoke(actor) if revoke else self.web.dashboard_link(actor)
        await self._answer(interaction, answer)

    @settings.command(name="web-leaderboard", description=describe("mod settings web-leaderboard"))
    @app_commands.describe(state="on: anyone with the address sees names, XP and ranks")
    async def web_leaderboard(
        self, interaction: discord.Interaction, state: Literal["on", "off"]
    ) -> None:
        on = state == "on"
        question = (
            "Publish this server's leaderboard on the web (names, XP and ranks, for anyone "
            "with the address)?"
            if on
            else "Stop publishing this server's leaderboard on the web?"
        )
        await self._confirm(
            interaction,
            ActionKind.WEB_LEADERBOARD,
            Reply(text=question, kind=Kind.INFO, ephemeral=True),
            lambda actor: self.web.set_leaderboard(actor, on),
        )

    @settings.command(name="study", description=describe("mod settings study"))
    @app_commands.describe(
        mode="default: a study thread per learner, private messages, or the channel",
        learners_choose="whether learners may pick a private mode with /settings study",
        add_channel="a channel where studying happens (none set: any channel)",
        remove_channel="a study channel to remove",
        reason="why (optional; goes into the moderator log)",
    )
    async def study(
        self,
        interaction: discord.Interaction,
        mode: MODES | None = None,
        learners_choose: bool | None = None,
        add_channel: discord.TextChannel | None = None,
        remove_channel: discord.TextChannel | None = None,
        reason: app_commands.Range[str, 0, MAX_REASON_CHARS] = "",
    ) -> None:
        desk = self.bot.services.tutor.study
        guild = str(interaction.guild_id)
        if mode is None and learners_choose is None and not (add_channel or remove_channel):
            await self._answer(interaction, desk.server(PLATFORM, guild))
            return
        # The names of the channels as they are now, for the log (it outlives renames and
        # deletions, and the terminal and web dashboard cannot ask Discord).
        names = {str(c.id): c.name for c in interaction.guild.channels} if interaction.guild else {}
        reply = desk.configure(
            await self.actor_of(interaction),
            default="keep" if mode is None else "auto" if mode == "auto" else Mode(mode),
            learners_choose=learners_choose,
            add_channel=str(add_channel.id) if add_channel else None,
            remove_channel=str(remove_channel.id) if remove_channel else None,
            names=names,
            reason=reason,
        )
        await self._answer(interaction, reply)
