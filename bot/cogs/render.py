"""Replies as Discord messages: embeds, safe text, and the one way every handler answers.

Handlers never build messages by hand: the tutor core returns a ``Reply`` and ``send`` turns it
into the right Discord call for the interaction's state (first response, after a "thinking"
deferral, or a follow-up after a silent component deferral). A Reply's structures get Discord's
own layout (``embed_for``): a table's rows as lines, bars in a code block (a fixed-width font
keeps them aligned), the command list with each usage as code; a page's navigation is the
cog's (buttons built from ``Reply.page``). Nothing here reads the wording of a reply.

This is also the one place where text from people (display names, reasons, anything typed) and
from snippets (output, exceptions, model names) is made safe to show: ``literal`` for text,
``code_block`` for code and output. A Reply says which parts of its text and its table cells
came from people (``Text.spans``); ``markdown`` shows exactly those literally. Nothing the bot
sends can ping: the client's ``allowed_mentions`` is none (bot/client.py), and mentions are
escaped as well.
"""

from __future__ import annotations

import io
import logging
import re
import unicodedata
from collections.abc import Sequence
from typing import Any

import discord

from bot.tutor.replies import Bars, Block, Kind, Reply, Table, Text
from bot.tutor.service import DIRECT_MESSAGES, LearnerRef

log = logging.getLogger(__name__)

PLATFORM = "discord"

# Discord's limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits).
EMBED_TITLE = 256
EMBED_DESCRIPTION = 4096
FIELD_VALUE = 1024
CUSTOM_ID = 100

COLOURS = {
    Kind.QUESTION: discord.Colour.blurple(),
    Kind.HINT: discord.Colour.gold(),
    Kind.INFO: discord.Colour.light_grey(),
    Kind.ERROR: discord.Colour.orange(),
    Kind.PROGRESS: discord.Colour.teal(),
    Kind.LEADERBOARD: discord.Colour.purple(),
}
RIGHT = discord.Colour.green()
WRONG = discord.Colour.red()

# Extras key: the interaction was deferred with a "thinking…" message, and whether it is private.
THINKING = "tlt_thinking_ephemeral"

# Kept by ``neutralise``: line breaks and tabs, and the zero-width joiner that emoji sequences
# (👩‍💻) are made of.
_KEEP = {"\n", "\t", "\u200d"}
# Look-alike of a backtick: three of them cannot close the code block we put the text in.
FENCE_BREAKER = "ˋ"
# Every ASCII character Discord's markdown gives a meaning to, anywhere or at the start of a
# line: emphasis and spoilers (* _ ~ |), code (`), quotes (>), headings and subtext (#, -#),
# lists (- * + and "1."), masked links ([ ] ( )), mentions, channels, custom emoji, timestamps
# and command mentions (<@id>, <#id>, <:name:id>, <t:0>, </cmd:id>, @everyone), autolinks
# (https:). A backslash before any punctuation shows it as it is.
_MARKDOWN = re.compile(r"[\\*_~|`>#+\-.!\[\]()<@:]")


def learner(interaction: discord.Interaction) -> LearnerRef:
    """Who is asking. Progress is per server; direct messages are their own "server"."""
    user = interaction.user
    guild = str(interaction.guild_id) if interaction.guild_id else DIRECT_MESSAGES
    return LearnerRef(PLATFORM, str(user.id), guild, user.display_name)


def neutralise(text: str) -> str:
    """Replace invisible and control characters (bidi overrides, zero-width spaces, NUL, ANSI
    escapes' ESC, ...) with a visible U+FFFD, so output cannot hide or reorder what it shows."""
    return "".join(
        "\ufffd"
        if ch not in _KEEP and unicodedata.category(ch) in ("Cc", "Cf", "Co", "Cs", "Zl", "Zp")
        else ch
        for ch in text
    )


def literal(text: str) -> str:
    """Text from a person or a snippet, to be shown exactly as it is in Discord markdown: no
    emphasis, link, heading, list, quote, mention, emoji or timestamp can come of it, it cannot
    hide or reorder anything (``neutralise``) and it stays on its line."""
    one_line = neutralise(text).replace("\n", " ").replace("\t", " ")
    return _MARKDOWN.sub(lambda m: "\\" + m.group(), one_line)


def clip(text: str, limit: int, marker: str = "…") -> str:
    return text if len(text) <= limit else text[: max(0, limit - len(marker))] + marker


def _fenced(body: str) -> str:
    """``body`` as the inside of a code block that it cannot close."""
    body = neutralise(body).replace("```", FENCE_BREAKER * 3).rstrip("\n") or " "
    return body + " " if body.endswith("`") else body  # would merge with the closing fence


def code_block(text: str, limit: int, lang: str = "") -> str:
    """``text`` in a code block that fits ``limit`` characters and cannot be broken out of."""
    wrapper = len(f"```{lang}\n\n```")
    return f"```{lang}\n{clip(_fenced(text), limit - wrapper, chr(10) + '…')}\n```"


def markdown(text: Text) -> str:
    """Text of a Reply as Discord markdown. What we or the course's authors wrote is markdown
    already; what people wrote (``text.spans``) is shown literally, and on its line: a name
    cannot add a line to a leaderboard."""
    return "".join(literal(piece) if theirs else piece for piece, theirs in text.pieces())


def mention(user_id: str) -> str:
    """A Discord user mention for a Discord id; anything else (a terminal learner) as text."""
    return f"<@{user_id}>" if user_id.isdigit() and user_id.isascii() else literal(user_id)


def block_markdown(block: Block) -> str:
    """One of a Reply's structures as Discord markdown."""
    if isinstance(block, Text):
        return markdown(block)
    if isinstance(block, Table):
        # Rows as lines: Discord's font is proportional, so padding would not align them.
        # People as mentions (who they are, whatever name they chose); the client's
        # allowed_mentions keeps them from pinging, and an embed never pings.
        body = [markdown(line) for line in block.lines(person=mention)]
    elif isinstance(block, Bars):
        # Bars need a fixed-width font; their labels are the course's topics.
        body = [code_block("\n".join(block.lines()), 2000)]
    else:
        body = [f"`{c.usage}` {c.summary}" for c in block.commands]
    return "\n".join([f"**{block.caption}**", *body] if block.caption else body)


def embed_for(reply: Reply, colour: discord.Colour | None = None) -> discord.Embed:
    """One embed for a tutor reply: its text, its structures, the numbered choices and the
    code."""
    if colour is None:
        if reply.kind is Kind.FEEDBACK:
            colour = RIGHT if reply.correct else WRONG
        else:
            colour = COLOURS.get(reply.kind, discord.Colour.light_grey())
    parts = [markdown(reply.body)] if reply.text else []
    parts += [block_markdown(block) for block in reply.blocks]
    if reply.choices:  # the course's own text
        parts.append("\n".join(f"**{i}.** {c}" for i, c in enumerate(reply.choices, start=1)))
    tail = ""
    if reply.code:
        room = EMBED_DESCRIPTION - sum(len(p) + 2 for p in parts)
        tail = code_block(reply.code, max(room, 200), "py")
    description = clip("\n\n".join(parts), EMBED_DESCRIPTION - len(tail) - 2)
    if tail:
        description = f"{description}\n\n{tail}" if description else tail
    embed = discord.Embed(description=description or None, colour=colour)
    if reply.heading is not None:
        embed.title = clip(markdown(reply.heading), EMBED_TITLE)
    return embed


def files_for(reply: Reply, embed: discord.Embed) -> list[discord.File]:
    """The reply's picture (a PNG, e.g. the progress chart) as the embed's image, and its
    attachment (e.g. a CSV export) as a file."""
    files = []
    if reply.image is not None:
        embed.set_image(url="attachment://chart.png")
        files.append(discord.File(io.BytesIO(reply.image), filename="chart.png"))
    if reply.attachment is not None:
        data = io.BytesIO(reply.attachment.data)
        files.append(discord.File(data, filename=reply.attachment.name))
    return files


def error_embed(text: str) -> discord.Embed:
    return discord.Embed(description=text, colour=COLOURS[Kind.ERROR])


async def defer_thinking(interaction: discord.Interaction, *, ephemeral: bool) -> None:
    """Acknowledge now with a "thinking…" message; the answer replaces it (``send``)."""
    await interaction.response.defer(thinking=True, ephemeral=ephemeral)
    interaction.extras[THINKING] = ephemeral


async def defer_silently(interaction: discord.Interaction) -> None:
    """Acknowledge a button click without a visible message; answers follow as new messages."""
    await interaction.response.defer()


async def send(
    interaction: discord.Interaction,
    *,
    embed: discord.Embed,
    ephemeral: bool,
    view: discord.ui.View | None = None,
    files: Sequence[discord.File] = (),
    content: str | None = None,
) -> None:
    """Answer ``interaction`` once, whatever it has done so far. ``content``: a line above the
    embed (e.g. whose answer a public feedback is: a mention, which pings no one)."""
    extra: dict[str, Any] = {}
    if content is not None:
        extra["content"] = content
    if view is not None:
        extra["view"] = view
    if files:
        extra["files"] = list(files)
    if not interaction.response.is_done():
        await interaction.response.send_message(embed=embed, ephemeral=ephemeral, **extra)
        return
    thinking = interaction.extras.pop(THINKING, None)
    if thinking is None:  # silent component deferral, or a second message
        await interaction.followup.send(embed=embed, ephemeral=ephemeral, **extra)
    elif ephemeral and not thinking:
        # The public "thinking" message cannot become private: close it with a neutral line
        # and say the private part in a follow-up, which Discord then keeps private.
        await interaction.edit_original_response(content="⚠️ That did not work.", embed=None)
        await interaction.followup.send(embed=embed, ephemeral=True, **extra)
    else:
        if files:
            extra["attachments"] = extra.pop("files")
        # content=None clears a progress line ("you are number 2 in the queue").
        extra.setdefault("content", None)
        await interaction.edit_original_response(embed=embed, **extra)


async def send_reply(
    interaction: discord.Interaction, reply: Reply, view: discord.ui.View | None = None
) -> None:
    embed = embed_for(reply)
    files = files_for(reply, embed)
    await send(interaction, embed=embed, ephemeral=reply.ephemeral, view=view, files=files)
