"""The one place where a failed interaction is answered: a short private message, with an error
id when it was our fault, and the traceback in the log under that id. As an extension it makes
``report`` what the command tree answers failed commands with; component and modal handlers
reach it through ``_handling.handle``."""

from __future__ import annotations

import logging
import secrets
from typing import TYPE_CHECKING

import discord
from discord import app_commands

from bot.cogs.render import error_embed, send
from bot.errors import ShuttingDown, UserError
from bot.runner.api import RunRefused

if TYPE_CHECKING:
    from bot.client import TutorBot

__all__ = ["ShuttingDown", "UserError", "report", "user_message"]

log = logging.getLogger(__name__)


def _describe(interaction: discord.Interaction) -> str:
    # Ids only: never the interaction token, which is a credential for 15 minutes.
    what = interaction.command.qualified_name if interaction.command else None
    if what is None and isinstance(interaction.data, dict):
        found = interaction.data.get("custom_id") or interaction.data.get("name")
        what = str(found) if found else None
    return f"{interaction.type.name} {what!r} by user {interaction.user.id} in guild " + str(
        interaction.guild_id or "DM"
    )


def user_message(error: BaseException) -> tuple[str, str | None]:
    """What to tell the user, and the error id when it must be looked up in the log."""
    if isinstance(error, app_commands.CommandInvokeError | app_commands.TransformerError):
        error = error.__cause__ or error
    if isinstance(error, UserError | RunRefused):  # RunRefused: the runner's words, for learners
        return str(error), None
    if isinstance(error, app_commands.CommandOnCooldown):
        return f"Slow down: try again in {error.retry_after:.0f} s.", None
    if isinstance(error, app_commands.CheckFailure):
        return "You cannot use this command here.", None
    error_id = secrets.token_hex(4)
    return (
        f"Something went wrong on our side (error id `{error_id}`). It has been logged; "
        "please try again, and mention the id if you report it.",
        error_id,
    )


async def report(interaction: discord.Interaction, error: BaseException) -> str | None:
    """Answer the interaction with a private note about ``error``; returns the error id."""
    text, error_id = user_message(error)
    if error_id is None:
        log.info("%s: %s", _describe(interaction), text)
    else:
        log.error("error %s in %s", error_id, _describe(interaction), exc_info=error)
    try:
        await send(interaction, embed=error_embed(text), ephemeral=True)
    except discord.HTTPException as exc:
        # Expired (over 15 minutes) or Discord is failing: nothing more we can do but log.
        log.warning("could not report error %s to the user: %s", error_id, exc)
    return error_id


async def _answer_error(
    interaction: discord.Interaction, error: app_commands.AppCommandError
) -> None:
    await report(interaction, error)


async def setup(bot: TutorBot) -> None:
    # Every failed slash or context-menu command is answered here.
    bot.answer_errors_with(_answer_error)
