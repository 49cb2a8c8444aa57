"""The code of a run: where it comes from (a message's code block, the /run modal) and the
checks before anything runs."""

from __future__ import annotations

import re
from typing import Any

import discord

from bot.cogs._handling import bot_of
from bot.cogs.components import UNAVAILABLE, stateless_modal
from bot.errors import UserError
from bot.runner.api import SnippetRunner

MAX_CODE_CHARS = 4000
CODE_MODAL = "tlt:run"
CODE_MODAL_ID = re.compile(re.escape(CODE_MODAL))
# "Edit and run": the same modal, pre-filled, for the result message it will update.
AGAIN_MODAL = "tlt:runagain"
AGAIN_MODAL_ID = re.compile(re.escape(AGAIN_MODAL) + r":(?P<message>[0-9]{1,20})")
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


def code_modal(code: str | None = None, result_message: int | None = None) -> discord.ui.Modal:
    """/run's modal; pre-filled with ``code`` to edit the run shown in ``result_message``."""
    field: discord.ui.TextInput[Any] = discord.ui.TextInput(
        label="Python code",
        custom_id=CODE_FIELD,
        style=discord.TextStyle.paragraph,
        placeholder="import tensorflow as tf\nmodel = tf.keras.Sequential([...])",
        default=code[:MAX_CODE_CHARS] if code else None,
        max_length=MAX_CODE_CHARS,
    )
    if result_message is None:
        return stateless_modal("Run a TensorFlow snippet", CODE_MODAL, field)
    return stateless_modal("Edit and run again", f"{AGAIN_MODAL}:{result_message}", field)


async def check_runnable(interaction: discord.Interaction) -> SnippetRunner:
    """The runner, or a refusal (raised, answered privately) of what cannot run now: checked
    before any deferral or modal."""
    services = bot_of(interaction).services
    if services.runner is None:
        raise UserError(UNAVAILABLE)
    await services.run_gate.admit(str(interaction.user.id))
    return services.runner


def check_code(code: str) -> None:
    if not code.strip():
        raise UserError("There is no code to run.")
    if len(code) > MAX_CODE_CHARS:
        raise UserError(f"That snippet is too long (at most {MAX_CODE_CHARS:,} characters).")
