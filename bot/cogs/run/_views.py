"""The "Run it" button under a question's feedback, the code modal, and the run itself."""

from __future__ import annotations

import logging
import re
from typing import Any

import discord

from bot.cogs._handling import bot_of, handle
from bot.cogs.errors import UserError
from bot.cogs.render import defer_thinking, send
from bot.cogs.run._render import result_message
from bot.cogs.snippets import RunRefused, SandboxUnavailable

log = logging.getLogger(__name__)

MAX_CODE_CHARS = 4000
CODE_MODAL = "tlt:run"
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
    modal = discord.ui.Modal(title="Run a TensorFlow snippet", custom_id=CODE_MODAL)
    modal.add_item(
        discord.ui.TextInput(
            label="Python code",
            custom_id=CODE_FIELD,
            style=discord.TextStyle.paragraph,
            placeholder="import tensorflow as tf\nmodel = tf.keras.Sequential([...])",
            max_length=MAX_CODE_CHARS,
        )
    )
    modal.stop()  # handled statelessly by the run cog's listener (see quiz's answer modal)
    return modal


def check_runnable(interaction: discord.Interaction) -> None:
    """Refuse at once (privately) what cannot run, before any deferral or modal."""
    bot = bot_of(interaction)
    if bot.runner is None:
        raise UserError("Running snippets is not available on this bot right now.")
    bot.run_gate.admit(interaction.user.id)


async def execute(interaction: discord.Interaction, code: str, title: str | None = None) -> None:
    """Run ``code`` for the interaction's user and answer with the result. Acknowledged at once
    (Discord allows 3 s; a run can take 30), then the "thinking" message becomes the result."""
    bot = bot_of(interaction)
    check_runnable(interaction)
    if not code.strip():
        raise UserError("There is no code to run.")
    if len(code) > MAX_CODE_CHARS:
        raise UserError(f"That snippet is too long (at most {MAX_CODE_CHARS:,} characters).")
    runner = bot.runner
    assert runner is not None
    with bot.run_gate.hold(interaction.user.id):
        await defer_thinking(interaction, ephemeral=False)

        async def on_position(place: int) -> None:
            text = f"⏳ Waiting for a free sandbox: you are number {place} in the queue."
            await interaction.edit_original_response(content=text)

        try:
            result = await runner.run(code, str(interaction.user.id), on_position)
        except RunRefused as exc:
            # Not run (this learner already has one queued, the queue is full, shutting down):
            # the runner's message is written for the learner.
            raise UserError(str(exc)) from exc
        except SandboxUnavailable as exc:
            log.error("the sandbox failed: %s", exc)
            raise UserError("Running snippets is not available on this bot right now.") from exc
        embed, files = result_message(result, title)
        await send(interaction, embed=embed, ephemeral=False, files=files)


class RunQuestionButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"tlt:r:(?P<qid>[a-z0-9_-]{1,60})"
):
    """Runs the question's own snippet, for anyone who clicks it."""

    def __init__(self, qid: str) -> None:
        super().__init__(
            discord.ui.Button(
                label="Run it",
                emoji="▶️",
                style=discord.ButtonStyle.success,
                custom_id=f"tlt:r:{qid}",
            )
        )
        self.qid = qid

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> RunQuestionButton:
        return cls(match["qid"])

    async def callback(self, interaction: discord.Interaction) -> None:
        await handle(interaction, self._run)

    async def _run(self, interaction: discord.Interaction) -> None:
        question = bot_of(interaction).tutor.bank.get(self.qid)
        if question is None or not question.code:
            raise UserError("That question has no snippet (any more).")
        await execute(interaction, question.code, title=f"Snippet of {self.qid}")
