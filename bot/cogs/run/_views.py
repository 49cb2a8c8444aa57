"""The "Run it" button under a question's feedback, the code modal, and the run itself."""

from __future__ import annotations

import logging
import re
from typing import Any

import discord

from bot.cogs._handling import bot_of
from bot.cogs.components import UNAVAILABLE, stateless_modal
from bot.cogs.render import defer_thinking, learner, send
from bot.cogs.run._render import result_message
from bot.errors import UserError
from bot.runner.api import SandboxUnavailable, SnippetRunner

log = logging.getLogger(__name__)

MAX_CODE_CHARS = 4000
CODE_MODAL = "tlt:run"
CODE_MODAL_ID = re.compile(re.escape(CODE_MODAL))
CODE_FIELD = "code"
# The first fenced block of a message, preferably marked python/py.
_BLOCK = re.compile(r"```(?P<lang>[A-Za-z0-9_+-]*)[ \t]*\n(?P<code>.*?)```", re.S)
_INLINE_BLOCK = re.compile(r"```(?P<code>[^`\n][^`]*?)```", re.S)


def code_from_message(content: str) -> str | None:
    blocks = [(m["lang"].lower(), m["code"]) for m in _BLOCK.finditer(content)]
    for lang, code in blocks:
        if lang in ("python", "py", "python3", "py3"):
            return code
    for lang, code in blocks:
        if lang == "":
            return code
    single = _INLINE_BLOCK.search(content)
    return single["code"].strip() if single else None


def code_modal() -> discord.ui.Modal:
    field: discord.ui.TextInput[Any] = discord.ui.TextInput(
        label="Python code",
        custom_id=CODE_FIELD,
        style=discord.TextStyle.paragraph,
        placeholder="import tensorflow as tf\nmodel = tf.keras.Sequential([...])",
        max_length=MAX_CODE_CHARS,
    )
    return stateless_modal("Run a TensorFlow snippet", CODE_MODAL, field)


async def check_runnable(interaction: discord.Interaction) -> SnippetRunner:
    """The runner, or a refusal (raised, answered privately) of what cannot run now: checked
    before any deferral or modal."""
    services = bot_of(interaction).services
    if services.runner is None:
        raise UserError(UNAVAILABLE)
    await services.run_gate.admit(str(interaction.user.id))
    return services.runner


async def execute(interaction: discord.Interaction, code: str, title: str | None = None) -> None:
    """Run ``code`` for the interaction's user and answer with the result. Acknowledged at once
    (Discord allows 3 s; a run can take 30), then the "thinking" message becomes the result.
    A refusal (RunRefused: busy, cooling down, shutting down) reaches the learner through the
    error path, in the runner's own words."""
    runner = await check_runnable(interaction)
    if not code.strip():
        raise UserError("There is no code to run.")
    if len(code) > MAX_CODE_CHARS:
        raise UserError(f"That snippet is too long (at most {MAX_CODE_CHARS:,} characters).")
    user = str(interaction.user.id)
    services = bot_of(interaction).services
    # "Run it" under feedback only the learner sees (a study mode) answers privately too.
    private = interaction.message is not None and interaction.message.flags.ephemeral
    async with services.run_gate.hold(user):
        await defer_thinking(interaction, ephemeral=private)
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
        embed, files = result_message(result, title)
        await send(interaction, embed=embed, ephemeral=private, files=files)


async def run_question(interaction: discord.Interaction, qid: str) -> None:
    """What "Run it" (``components.RunIt``) does: run the question's own snippet."""
    # A curriculum question or a practice variant (whose code generated it).
    question = bot_of(interaction).services.tutor.question(qid)
    if question is None or not question.code:
        raise UserError("That question has no snippet (any more).")
    await execute(interaction, question.code, title=f"Snippet of {qid}")
