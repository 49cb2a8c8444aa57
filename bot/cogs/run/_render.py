"""A run's result as an embed (plus the full output as a file when it had to be cut).

Everything here comes from a learner's snippet, so all of it is treated as hostile: code and
output go in code blocks they cannot close, every other string is shown literally
(``render.literal``: no markdown, links or mentions, control and invisible characters made
visible), and nothing pings (the bot sends with ``allowed_mentions`` none).
"""

from __future__ import annotations

import io

import discord

from bot.cogs.render import FIELD_VALUE, clip, code_block, literal, neutralise
from bot.runner.api import Limit, RunResult
from bot.runner.result import shorten_message

STATUS = {
    "ok": ("✅", "Ran successfully", discord.Colour.green()),
    "error": ("❌", "Raised an exception", discord.Colour.red()),
    "timeout": ("⏱️", "Stopped: time limit reached", discord.Colour.orange()),
    "memory_limit": ("🧠", "Stopped: memory limit reached", discord.Colour.orange()),
    "output_limit": ("📜", "Stopped: output limit reached", discord.Colour.orange()),
    "crashed": ("💥", "The sandbox crashed", discord.Colour.dark_red()),
    "lost": ("🔌", "The runner was lost", discord.Colour.dark_grey()),
}
# Budgets keep the whole embed under Discord's 6,000 characters.
STREAM_CHARS = 900
EXCEPTION_CHARS = 800  # the message is shortened at line and sentence boundaries to fit
MODELS_CHARS = 1200
EXPLANATION_CHARS = FIELD_VALUE
NOTES_CHARS = 500


def describe_limit(limit: Limit) -> str:
    """e.g. "time limit (30s)": the runner's own wording."""
    return literal(limit.describe())


def status_line(result: RunResult) -> tuple[str, str, discord.Colour]:
    """The headline (outcome, and which limit if one ended the run) and a details line."""
    icon, text, colour = STATUS.get(
        result.status, ("❔", f"Finished: {literal(str(result.status))}", discord.Colour.greyple())
    )
    if result.limit is not None:
        # The limit names itself: "Stopped: memory limit (3072 MiB)".
        text = f"Stopped: {describe_limit(result.limit)}"
    details = []
    if result.duration_s is not None:
        details.append(f"{result.duration_s:.1f} s")
    if result.peak_memory_mb:
        details.append(f"peak memory {result.peak_memory_mb:.0f} MB")
    return f"{icon} {text}", " · ".join(details), colour


def _models(result: RunResult) -> str:
    lines = []
    for model in result.models:
        name = neutralise(model.name)
        inp, params, trainable = model.input_shape, model.params, model.trainable_params
        line = f"{name}: output {model.output_shape}"
        if inp is not None:
            line += f"  (input {inp})"
        if params is not None:
            line += f"\n  {params:,} params" + (
                f", {trainable:,} trainable" if trainable is not None else ""
            )
        lines.append(neutralise(line))
    return "\n".join(lines)


def _exception(result: RunResult) -> str | None:
    exc = result.exception
    if exc is None:
        return None
    kind = neutralise(exc.type)
    where = f" on line {exc.line}" if exc.line is not None else ""
    if not exc.message:
        return f"{kind}{where}"
    head = f"{kind}{where}: "
    room = EXCEPTION_CHARS - len(head) - len("```\n\n```")
    return head + shorten_message(exc.message, max(0, room))


def full_output(result: RunResult) -> str:
    return f"--- stdout ---\n{result.stdout or ''}\n--- stderr ---\n{result.stderr or ''}\n"


def result_message(
    result: RunResult, title: str | None = None
) -> tuple[discord.Embed, list[discord.File]]:
    headline, details, colour = status_line(result)
    embed = discord.Embed(title=clip(headline, 256), colour=colour)
    parts = [f"**{literal(title)}**"] if title else []
    if details:
        parts.append(details)
    exception = _exception(result)
    if exception:
        parts.append(code_block(exception, EXCEPTION_CHARS))
    models = _models(result)
    if models:
        parts.append("**Models**\n" + code_block(models, MODELS_CHARS))
    embed.description = "\n".join(parts) or None
    cut = False
    for name, stream in (("stdout", result.stdout), ("stderr", result.stderr)):
        if not stream:
            continue
        shown = stream
        if len(stream) > STREAM_CHARS:
            cut = True
            # The end of stderr (the traceback) matters most; the start of stdout reads best.
            shown = "…\n" + stream[-STREAM_CHARS:] if name == "stderr" else stream
        embed.add_field(name=name, value=code_block(shown, FIELD_VALUE), inline=False)
    if result.explanation:
        embed.add_field(
            name="What happened",
            value=clip(literal(result.explanation), EXPLANATION_CHARS),
            inline=False,
        )
    if result.notes:
        notes = "\n".join(f"• {literal(str(n))}" for n in result.notes)
        embed.add_field(name="Notes", value=clip(notes, NOTES_CHARS), inline=False)
    files = []
    if cut:
        embed.set_footer(text="The output was cut: the full output is attached.")
        data = io.BytesIO(full_output(result).encode("utf-8", "replace"))
        files.append(discord.File(data, filename="output.txt"))
    return embed, files
