"""A run's result as embeds (the code it ran, the outcome, compact output, the pictures it
drew) plus files (the full output when it had to be cut, the files the snippet wrote).

Everything here comes from a learner's snippet, so all of it is treated as hostile: code and
output go in code blocks they cannot close, every other string is shown literally
(``render.literal``: no markdown, links or mentions, control and invisible characters made
visible), and nothing pings (the bot sends with ``allowed_mentions`` none).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import discord

from bot.cogs.render import EMBED_DESCRIPTION, FIELD_VALUE, clip, code_block, literal, neutralise
from bot.runner.api import Limit, RunResult
from bot.runner.result import ModelInfo, layer_table, shorten_message

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
EXCEPTION_CHARS = 800  # the message is shortened at line and sentence boundaries to fit
MODELS_CHARS = 1000
EXPLANATION_CHARS = FIELD_VALUE
NOTES_CHARS = 500
# Output shown inline, stdout and stderr together (python-discord's !eval shows ~10 lines);
# the rest goes to output.txt.
OUTPUT_LINES = 15
OUTPUT_CHARS = 1000
STDERR_LINES = 5  # kept for stderr when stdout alone would fill the budget
# The code the result answers: short snippets whole, longer ones cut to their first lines and
# the lines around the error, numbered as the error's line is.
CODE_LINES = 10
CODE_HEAD = 6
CODE_LINE_CHARS = 100
CODE_CHARS = 900
IMAGES_SHOWN = 4  # pictures shown as embeds; the others are attached
OUTPUT_FILE = "output.txt"


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
    memory = result.memory_text()  # MiB, worded as the terminal words it
    if memory:
        details.append(memory)
    return f"{icon} {text}", " · ".join(details), colour


def code_excerpt(code: str, error_line: int | None) -> str:
    """The code with line numbers ("→" on the error's line): whole when short, else its first
    lines and the lines around the error, "⋮" where lines are left out."""
    lines = code.rstrip("\n").split("\n")
    shown = set(range(1, len(lines) + 1))
    if len(lines) > CODE_LINES:
        shown = set(range(1, CODE_HEAD + 1))
        if error_line is not None and 1 <= error_line <= len(lines):
            shown |= {error_line - 1, error_line, error_line + 1} & set(range(1, len(lines) + 1))
    width = len(str(len(lines)))
    out: list[str] = []
    for number in range(1, len(lines) + 1):
        if number not in shown:
            if out and out[-1] != "⋮":
                out.append("⋮")
            continue
        mark = "→" if number == error_line else "│"
        out.append(f"{number:>{width}} {mark} {clip(lines[number - 1], CODE_LINE_CHARS)}")
    if len(lines) not in shown:
        out[-1] = f"⋮ ({len(lines)} lines)"
    return "\n".join(out)


def without_traceback(stderr: str, result: RunResult) -> str:
    """stderr without the snippet's traceback, when the exception is shown on its own: the
    error line then appears once. The worker prints the traceback last."""
    if result.exception is None:
        return stderr
    start = stderr.rfind("Traceback (most recent call last):")
    if start < 0:  # a SyntaxError: no stack, just where it is
        start = stderr.rfind('  File "<snippet>"')
    return stderr if start < 0 else stderr[:start]


def _fit(text: str, lines: int, chars: int, *, tail: bool) -> tuple[str, bool]:
    """At most ``lines`` lines and ``chars`` characters of ``text``, its start (or its end with
    ``tail``), and whether anything was left out."""
    parts = text.rstrip("\n").split("\n")
    kept: list[str] = []
    size = 0
    for line in reversed(parts) if tail else parts:
        if len(kept) == lines or size + len(line) + 1 > chars:
            break
        kept.append(line)
        size += len(line) + 1
    if tail:
        kept.reverse()
    if not kept and text.strip():  # one line longer than the budget: its start (or end) then
        line = parts[-1] if tail else parts[0]
        cut = "…" + line[len(line) - chars + 1 :] if tail else line[: chars - 1] + "…"
        return cut, True
    return "\n".join(kept), len(kept) < len(parts)


@dataclass(frozen=True)
class Output:
    stdout: str
    stderr: str
    cut: bool


def compact_output(result: RunResult) -> Output:
    """What is shown inline: at most OUTPUT_LINES lines and OUTPUT_CHARS characters of stdout
    (its start) and stderr (its end, where a warning or the cause is), the traceback left out
    when the exception has its own block."""
    stderr = without_traceback(result.stderr, result)
    err_lines = len(stderr.rstrip("\n").split("\n")) if stderr.strip() else 0
    room = OUTPUT_LINES - min(err_lines, STDERR_LINES)
    room_chars = OUTPUT_CHARS - min(len(stderr), STDERR_LINES * 80)
    out, out_cut = _fit(result.stdout, room, room_chars, tail=False)
    used_lines = len(out.split("\n")) if out else 0
    err, err_cut = ("", False)
    if stderr.strip():
        err, err_cut = _fit(stderr, OUTPUT_LINES - used_lines, OUTPUT_CHARS - len(out), tail=True)
    # The traceback left out is in the exception block, not lost: output.txt is for the rest.
    return Output(out, err, out_cut or err_cut)


def _surprise_line(result: RunResult) -> str | None:
    for model in result.models:
        found = model.surprise
        if found is not None:
            return f"⚠️ {literal(found.reason)} (**Layers** shows the table.)"
    return None


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
    result: RunResult, title: str | None = None, code: str | None = None
) -> tuple[list[discord.Embed], list[discord.File]]:
    """The result's embeds (the main one, then one per picture the snippet drew) and files."""
    headline, details, colour = status_line(result)
    embed = discord.Embed(title=clip(headline, 256), colour=colour)
    parts = [f"**{literal(title)}**"] if title else []
    if details:
        parts.append(details)
    if code is not None and code.strip():
        line = result.exception.line if result.exception else None
        parts.append(code_block(code_excerpt(code, line), CODE_CHARS))
    exception = _exception(result)
    if exception:
        parts.append(code_block(exception, EXCEPTION_CHARS))
    models = _models(result)
    if models:
        parts.append("**Models**\n" + code_block(models, MODELS_CHARS))
        surprise = _surprise_line(result)
        if surprise:
            parts.append(surprise)
    embed.description = clip("\n".join(parts), EMBED_DESCRIPTION) or None
    output = compact_output(result)
    for name, shown in (("stdout", output.stdout), ("stderr", output.stderr)):
        if shown.strip():
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
    embeds, files = [embed], []
    footer = []
    if output.cut:
        footer.append(f"Output cut to {OUTPUT_LINES} lines: all of it is in {OUTPUT_FILE}.")
        data = io.BytesIO(full_output(result).encode("utf-8", "replace"))
        files.append(discord.File(data, filename=OUTPUT_FILE))
    taken = {OUTPUT_FILE}
    for file in result.files:
        name = file.safe_name
        while name in taken:
            name = "_" + name
        taken.add(name)
        files.append(discord.File(io.BytesIO(file.data), filename=name))
        if file.is_image and len(embeds) <= IMAGES_SHOWN:
            if embed.image.url is None:
                embed.set_image(url=f"attachment://{name}")
            else:
                embeds.append(discord.Embed(colour=colour).set_image(url=f"attachment://{name}"))
    if result.files:
        footer.append(f"{len(result.files)} file(s) the snippet wrote are attached.")
    if footer:
        embed.set_footer(text=" ".join(footer))
    return embeds, files


def layers_message(models: tuple[ModelInfo, ...]) -> tuple[discord.Embed, list[discord.File]]:
    """Each model's layer table (on demand): in a code block, the first surprising row marked
    and explained; the whole tables attached when they do not fit."""
    tables = "\n\n".join(layer_table(m) for m in models if m.layers)
    embed = discord.Embed(title="Layers", colour=discord.Colour.blurple())
    if not tables:
        embed.description = "No Keras model was left in the snippet's namespace."
        return embed, []
    reasons = [f"⚠️ {literal(m.surprise.reason)}" for m in models if m.surprise is not None]
    room = EMBED_DESCRIPTION - sum(len(r) + 1 for r in reasons) - 100
    embed.description = "\n".join([code_block(tables, room), *reasons])
    files = []
    if len(tables) > room - 10:
        embed.set_footer(text="The tables were cut: all of them are in layers.txt.")
        files.append(discord.File(io.BytesIO(tables.encode()), filename="layers.txt"))
    return embed, files
