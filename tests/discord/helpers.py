"""What the Discord tests share: readers for what the bot put on the (simulated) screen, and
the steps several tests take (a world, a restart, a confirmation, a /run)."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import pytest
import simcord

from bot import Settings, create_bot
from bot.client import TutorBot, sync_commands
from bot.runner.api import SandboxUnavailable, SnippetRunner
from bot.runner.pool import Runner

# A snippet for /run (the fake runners never run it).
CODE = "import tensorflow as tf\nmodel = tf.keras.Sequential([tf.keras.layers.Dense(5)])\n"


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


def question_of(result: Any) -> Any:
    """The question a /quiz, /review or /skip asked (or a click's Skip or Next), where its
    study mode put it beside the interaction: its response (ephemeral mode), or its first
    public follow-up (channel mode, the Discord tests' default, after the private
    "thinking…", which is removed). Thread mode posts in the thread: see test_study.py."""
    for message in [result.response, *result.followups]:
        if message is not None and any(k in buttons(message) for k in ("Hint", "Skip")):
            return message
    raise AssertionError(f"no question in {result!r}")


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


def as_read(env: simcord.Env, message: Any) -> str:
    """``text_of`` with user mentions (``<@id>``) shown as a Discord client shows them: the
    member's name after an @."""
    users = env.backend.users
    return re.sub(
        r"<@!?([0-9]+)>",
        lambda m: "@" + users[int(m[1])].name if int(m[1]) in users else m[0],
        text_of(message),
    )


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


def attempts(db_path: Path) -> list[tuple[str, str, int, str, str]]:
    """(question_id, answer, correct, user_id, guild_id) of every stored attempt, read straight
    from the SQLite file the bot wrote."""
    with sqlite3.connect(db_path) as db:
        return db.execute(
            "SELECT a.question_id, a.answer, a.correct, l.user_id, l.guild_id "
            "FROM attempts a JOIN learners l ON l.id = a.learner_id ORDER BY a.id"
        ).fetchall()


async def restart(
    env: simcord.Env, settings: Settings, bots: list[TutorBot], runner: SnippetRunner | None = None
) -> TutorBot:
    """A new bot process on the same database: the old one shut down, a fresh one attached."""
    old = env.bot
    new = create_bot(settings, runner=runner)
    bots.append(new)
    await env.restart_bot(new)
    await old.close()
    await sync_commands(new)
    return new


async def confirm(actor: Any, asked: Any, label: str = "Confirm") -> str:
    """Press a button on the confirmation; the same (private) message is edited."""
    assert asked.ephemeral and set(buttons(asked.response)) == {"Confirm", "Cancel"}
    pressed = await actor.click(asked.response, label=label)
    assert pressed.acknowledged and not pressed.followups
    assert not buttons(asked.response)  # the buttons are gone: it cannot be pressed twice
    return text_of(asked.response)


async def run_code(member: Any, channel: Any, code: str = CODE) -> Any:
    """Open /run's modal and submit ``code``."""
    opened = await member.slash(channel, "run")
    assert opened.modal is not None
    return await member.submit_modal(opened, {"code": code})


@asynccontextmanager
async def warm_runner(settings: Settings) -> AsyncIterator[Runner]:
    """The real runner with one warm worker, started outside the bot so that SimCord does not
    wait for its warm-up; the test is skipped where the sandbox cannot run."""
    runner = Runner(settings.runner.model_copy(update={"workers": 1}))
    try:
        await runner.start()
        await runner.wait_idle(within_s=300)
    except SandboxUnavailable as exc:  # no bubblewrap: `make install` installs it as root
        await runner.close()
        pytest.skip(f"the sandbox cannot run here: {exc}")
    try:
        yield runner
    finally:
        await runner.close()
