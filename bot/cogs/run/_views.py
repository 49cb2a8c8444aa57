"""The run itself, for /run, "Run snippet", "Run it" and "Edit and run": acknowledged at once,
answered with the result (or the result message it re-runs updated in place)."""

from __future__ import annotations

import logging

import discord

from bot.cogs._handling import bot_of
from bot.cogs.components import UNAVAILABLE
from bot.cogs.render import clip, defer_thinking, learner
from bot.cogs.run._buttons import result_view
from bot.cogs.run._code import check_code, check_runnable
from bot.cogs.run._render import result_message
from bot.cogs.run._state import Ran, recent_runs
from bot.errors import UserError
from bot.runner.api import SandboxUnavailable
from bot.tutor.content import Question

log = logging.getLogger(__name__)

Target = discord.Message | discord.PartialMessage
TITLE_CHARS = 100


async def execute(
    interaction: discord.Interaction,
    code: str,
    title: str | None = None,
    *,
    target: Target | None = None,
    source: int | None = None,
) -> None:
    """Run ``code`` for the interaction's user and answer with the result. Acknowledged at once
    (Discord allows 3 s; a run can take 30), then the "thinking" message becomes the result;
    with ``target`` (a re-run), that result message is updated instead and the learner told so
    privately. ``source``: the message a "Run snippet" ran. A refusal (RunRefused: busy,
    cooling down, shutting down) reaches the learner through the error path, in the runner's
    own words."""
    runner = await check_runnable(interaction)
    check_code(code)
    user = str(interaction.user.id)
    services = bot_of(interaction).services
    # "Run it" under feedback only the learner sees (a study mode) answers privately too.
    private = interaction.message is not None and interaction.message.flags.ephemeral
    async with services.run_gate.hold(user):
        await defer_thinking(interaction, ephemeral=private or target is not None)
        # The learner's open question's own code shows its answer: said before it runs (the
        # "thinking" message says it until the result replaces it), recorded with the result.
        revealing = await services.tutor.reveal(learner(interaction), code)
        if revealing is not None:
            await interaction.edit_original_response(content=f"💡 {revealing.text}")

        async def on_position(place: int) -> None:
            text = f"⏳ Waiting for a free sandbox: you are number {place} in the queue."
            await interaction.edit_original_response(content=text)

        try:
            result = await runner.run(code, user, on_position)
        except SandboxUnavailable as exc:
            log.error("the sandbox failed: %s", exc)
            raise UserError(UNAVAILABLE) from exc
        if revealing is not None:
            await services.tutor.ran(learner(interaction), code)
        embeds, files = result_message(result, title, code)
        view = result_view(interaction.user.id, any(m.layers for m in result.models))
        shown = await _deliver(interaction, embeds, files, view, target)
        ran = Ran(code, interaction.user.id, title, result.models, source)
        recent_runs(interaction.client).add(shown, ran)


async def _deliver(
    interaction: discord.Interaction,
    embeds: list[discord.Embed],
    files: list[discord.File],
    view: discord.ui.View,
    target: Target | None,
) -> int:
    """Show the result; returns the id of the message that shows it."""
    if target is not None:
        try:
            await target.edit(content=None, embeds=embeds, attachments=files, view=view)
        except discord.NotFound:  # deleted since: the result becomes a new message
            channel = interaction.channel
            if not isinstance(channel, discord.abc.Messageable):
                raise
            for file in files:
                file.reset()
            message = await channel.send(embeds=embeds, files=files, view=view)
            again = "🔁 Ran it again: the result is below."
            await interaction.edit_original_response(content=again)
            return message.id
        await interaction.edit_original_response(
            content=f"🔁 Ran it again: the result is updated ({target.jump_url})."
        )
        return target.id
    # content=None clears a progress line ("you are number 2 in the queue").
    await interaction.edit_original_response(
        content=None, embeds=embeds, attachments=files, view=view
    )
    return (await interaction.original_response()).id


def question_title(question: Question) -> str:
    """What a learner knows the question by: its prompt's first line, cut at a word."""
    first = next((line.strip() for line in question.prompt.splitlines() if line.strip()), "")
    if len(first) > TITLE_CHARS:
        first = clip(first[:TITLE_CHARS].rsplit(" ", 1)[0], TITLE_CHARS - 1) + "…"
    return first or question.id


async def run_question(interaction: discord.Interaction, qid: str) -> None:
    """What "Run it" (``components.RunIt``) does: run the question's own snippet."""
    # A curriculum question or a practice variant (whose code generated it).
    question = bot_of(interaction).services.tutor.question(qid)
    if question is None or not question.code:
        raise UserError("That question has no snippet (any more).")
    await execute(interaction, question.code, title=question_title(question))
