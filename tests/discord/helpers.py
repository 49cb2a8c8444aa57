"""Small readers for what the bot put on the (simulated) screen."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import simcord


def world(env: simcord.Env) -> tuple[Any, Any, Any]:
    guild = env.create_guild()
    channel = guild.create_text_channel("learn")
    alice = guild.add_member(env.create_user("alice"))
    return guild, channel, alice


def buttons(message: Any) -> dict[str, dict[str, Any]]:
    """label → raw button payload, for a message's (possibly edited) components."""
    found: dict[str, dict[str, Any]] = {}
    for row in message.components:
        for component in row.get("components", []):
            if component.get("type") == 2:
                found[component.get("label") or component.get("custom_id")] = component
    return found


def raw_text_of(message: Any) -> str:
    """Content plus every embed's title, description and fields, as Discord receives them."""
    parts = [message.content or ""]
    for embed in message.embeds:
        parts += [embed.title or "", embed.description or "", embed.footer.text or ""]
        parts += [f"{f.name}\n{f.value}" for f in embed.fields]
    return "\n".join(parts)


def text_of(message: Any) -> str:
    """``raw_text_of`` with markdown's backslash escapes read as Discord reads them (``\\*``
    shows ``*``), for simple assertions about what a reader sees."""
    return re.sub(r"\\([^0-9A-Za-z\s])", r"\1", raw_text_of(message))


def refusals(env: simcord.Env) -> list[str]:
    """The user errors the bot answered through its error handler (acknowledging them for
    SimCord, which otherwise fails a test whose bot raised)."""
    from bot.errors import UserError
    from bot.runner.api import RunRefused

    found = []
    for error in env.errors:
        cause = error.__cause__ if error.__cause__ is not None else error
        assert isinstance(cause, UserError | RunRefused), f"unexpected error: {error!r}"
        found.append(str(cause))
    return found


@contextmanager
def unsettled(env: simcord.Env) -> Iterator[None]:
    """Actor verbs deliver their event and return at once, instead of waiting for the bot to
    finish reacting: the only way to have many interactions in flight together (or one in
    flight during a shutdown). Uses SimCord's private settle hook; ``env.settle()`` afterwards."""

    async def deliver_only(**_: Any) -> None:
        return None

    env._settle_internal = deliver_only
    try:
        yield
    finally:
        del env._settle_internal
