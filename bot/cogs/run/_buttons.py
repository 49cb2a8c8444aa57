"""The buttons under a result: edit and run again (its owner), the layer tables (anyone, shown
privately), delete (its owner and moderators). Their state is the owner in the custom_id; the
code and layers are in ``_state`` (recent results)."""

from __future__ import annotations

import discord

from bot.cogs._handling import bot_of
from bot.cogs.components import OWNER, PersistentButton
from bot.cogs.render import PLATFORM
from bot.cogs.run._code import check_runnable, code_modal
from bot.cogs.run._render import layers_message
from bot.cogs.run._state import Ran, recent_runs
from bot.errors import UserError
from bot.tutor.moderator import Authority

TOO_OLD = "This result is older than the bot's memory of it (it restarted since): use /run again."


def _ran(interaction: discord.Interaction) -> Ran:
    message = interaction.message
    ran = recent_runs(interaction.client).get(message.id) if message is not None else None
    if ran is None:
        raise UserError(TOO_OLD)
    return ran


class EditRun(PersistentButton, key="rx", parts=(OWNER,)):
    """Opens /run's modal with the code this result ran; the new result replaces this one."""

    not_yours = "Only the person who ran this snippet can edit it; /run runs your own."

    def __init__(self, owner: int) -> None:
        super().__init__(
            owner, label="Edit and run", emoji="✏️", style=discord.ButtonStyle.primary, owner=owner
        )

    async def clicked(self, interaction: discord.Interaction) -> None:
        ran = _ran(interaction)
        await check_runnable(interaction)  # a refusal before the learner edits anything
        assert interaction.message is not None
        await interaction.response.send_modal(code_modal(ran.code, interaction.message.id))


class ShowLayers(PersistentButton, key="rl"):
    """Each model's layer table, for whoever asks (privately)."""

    def __init__(self) -> None:
        super().__init__(label="Layers", emoji="🧱", style=discord.ButtonStyle.secondary)

    async def clicked(self, interaction: discord.Interaction) -> None:
        embed, files = layers_message(_ran(interaction).models)
        await interaction.response.send_message(embed=embed, files=files, ephemeral=True)


async def may_moderate(interaction: discord.Interaction) -> bool:
    """Discord's own "Manage Messages" here, or the tutor's moderator role (as /mod sees it)."""
    if interaction.permissions.manage_messages:
        return True
    if interaction.guild_id is None:
        return False
    user = interaction.user
    roles = {str(r.id) for r in user.roles} if isinstance(user, discord.Member) else set()
    authority = await bot_of(interaction).services.moderator.authority(
        PLATFORM, str(interaction.guild_id), interaction.permissions.manage_guild, roles
    )
    return authority >= Authority.MODERATOR


class DeleteRun(PersistentButton, key="rd", parts=(OWNER,)):
    """Deletes the result: its owner, or a moderator."""

    def __init__(self, owner: int) -> None:
        # Anyone may click; who may delete is checked on the click (owner or moderator).
        super().__init__(owner, label="Delete", emoji="🗑️", style=discord.ButtonStyle.danger)
        self.ran_by = owner

    async def clicked(self, interaction: discord.Interaction) -> None:
        if interaction.user.id != self.ran_by and not await may_moderate(interaction):
            raise UserError("Only the person who ran this snippet, or a moderator, can delete it.")
        await interaction.response.defer()
        await interaction.delete_original_response()
        if interaction.message is not None:
            recent_runs(interaction.client).forget(interaction.message.id)


DYNAMIC_ITEMS = (EditRun, ShowLayers, DeleteRun)


def result_view(owner: int, layers: bool) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(EditRun(owner))
    if layers:
        view.add_item(ShowLayers())
    view.add_item(DeleteRun(owner))
    return view
