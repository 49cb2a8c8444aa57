"""The Confirm/Cancel step before a moderator action changes anything.

A plain ``View`` kept in memory, not a ``DynamicItem``: a confirmation lives two minutes, and
holding the pending call (with its free-text reason) in memory avoids squeezing the reason into a
100-character custom_id. After a restart the buttons are dead, which is the safe outcome.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Any

import discord

from bot.cogs._handling import handle
from bot.cogs.render import embed_for, error_embed, send
from bot.tutor.moderation import ActionKind
from bot.tutor.moderator import Actor, refusal
from bot.tutor.replies import Kind, Reply

CONFIRM_TIMEOUT_S = 120.0
NOT_YOURS = "Only the moderator who asked can confirm or cancel this."
CANCELLED = "Cancelled; nothing was changed."
EXPIRED = "This confirmation expired; nothing was changed."

# The clicker as the moderator they are at click time (a role can be taken away between the
# question and the click).
ActorOf = Callable[[discord.Interaction], Awaitable[Actor]]
Action = Callable[[Actor], Awaitable[Reply]]


def _info(text: str) -> discord.Embed:
    return embed_for(Reply(text=text, kind=Kind.INFO, ephemeral=True))


class ConfirmView(discord.ui.View):
    """Runs ``action`` (a ``what``) once when its moderator presses Confirm, as the moderator
    they are then; Cancel or a timeout drop it."""

    def __init__(
        self,
        owner_id: int,
        what: ActionKind,
        action: Action,
        actor_of: ActorOf,
        *,
        timeout: float = CONFIRM_TIMEOUT_S,
    ) -> None:
        super().__init__(timeout=timeout)
        self.owner_id = owner_id
        self.what = what
        self.action: Action | None = action
        self.actor_of = actor_of
        # The interaction that showed the question, to close it on timeout (its token is valid
        # for 15 minutes, far longer than the timeout).
        self.asked: discord.Interaction | None = None

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        # Discord shows the ephemeral question only to its moderator; this holds even if a
        # click arrives from someone else, or from a moderator who lost the role meanwhile.
        if interaction.user.id != self.owner_id:
            await send(interaction, embed=error_embed(NOT_YOURS), ephemeral=True)
            return False
        refused = refusal(await self.actor_of(interaction), self.what)
        if refused:
            await send(interaction, embed=error_embed(refused), ephemeral=True)
            return False
        return True

    async def _finish(self, interaction: discord.Interaction, embed: discord.Embed) -> None:
        self.action = None  # a second click (double press) must not run it again
        self.stop()
        await interaction.response.edit_message(embed=embed, view=None)

    @discord.ui.button(label="Confirm", style=discord.ButtonStyle.danger)
    async def confirm(self, interaction: discord.Interaction, _: discord.ui.Button[Any]) -> None:
        async def run(i: discord.Interaction) -> None:
            action = self.action
            if action is None:
                await self._finish(i, _info(EXPIRED))
                return
            self.action = None
            # The core decides again, for this actor now (an undo: by the undone action).
            reply = await action(await self.actor_of(i))
            await self._finish(i, embed_for(reply))

        await handle(interaction, run)

    @discord.ui.button(label="Cancel", style=discord.ButtonStyle.secondary)
    async def cancel(self, interaction: discord.Interaction, _: discord.ui.Button[Any]) -> None:
        await handle(interaction, lambda i: self._finish(i, _info(CANCELLED)))

    async def on_timeout(self) -> None:
        self.action = None
        if self.asked is not None:
            # Already gone (dismissed by the moderator): nothing left to close.
            with suppress(discord.HTTPException):
                await self.asked.edit_original_response(embed=_info(EXPIRED), view=None)
