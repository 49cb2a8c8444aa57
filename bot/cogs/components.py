"""What the features' components share: the base of every persistent button, the custom_id and
modal helpers, topic autocompletion, and the look of "Run it" (the quiz shows it; the run
extension handles it). So the quiz and run extensions need nothing from each other.

Every button is a ``DynamicItem`` whose state is all in its custom_id (``tlt:<key>:<part>:…``),
so a click is handled even after a restart (discord.py's ``examples/views/dynamic_counter.py``).
``PersistentButton`` builds and parses that custom_id from the parts a subclass declares, checks
who may click, and runs the click through the one error path; a subclass gives its look and
what a click does (``clicked``).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import discord
from discord import app_commands

from bot.cogs._handling import handle
from bot.cogs.render import CUSTOM_ID
from bot.errors import UserError

PREFIX = "tlt"


@dataclass(frozen=True)
class Part:
    """One piece of state in a custom_id: its name, what it may look like, how to read it."""

    name: str
    pattern: str
    parse: Callable[[str], Any] = str
    optional: bool = False  # only the last parts may be optional


OWNER = Part("owner", r"[0-9]{1,20}", int)  # the Discord user the button is for
QID = Part("qid", r"[a-z0-9_-]{1,60}")  # a question id (content.py allows no other)


def custom_id(*parts: object) -> str:
    """``tlt:a:b:c`` from the parts (None ones left out), within Discord's 100 characters."""
    made = ":".join([PREFIX, *(str(p) for p in parts if p is not None)])
    if len(made) > CUSTOM_ID:  # question ids are at most 60 characters, so this holds
        raise ValueError(f"custom_id too long: {made!r}")
    return made


def template(key: str, parts: tuple[Part, ...]) -> str:
    """The pattern of the custom_ids ``custom_id(key, *values of parts)`` makes."""
    pattern = re.escape(f"{PREFIX}:{key}")
    for part in parts:
        field = f":(?P<{part.name}>{part.pattern})"
        pattern += f"(?:{field})?" if part.optional else field
    return pattern


class PersistentButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"(?!)"):
    """Base of the bot's buttons. A subclass says ``key=`` and ``parts=`` in its class line,
    takes the parts' values as its first arguments (in order), passes them with its look to
    ``__init__`` here, and implements ``clicked``. A class without ``key=`` is a base for
    others and keeps its parent's template."""

    key: ClassVar[str] = ""
    parts: ClassVar[tuple[Part, ...]] = ()
    # Said privately to anyone but ``owner`` who clicks.
    not_yours: ClassVar[str] = "This button is for someone else."

    def __init_subclass__(cls, *, key: str | None = None, parts: tuple[Part, ...] = ()) -> None:
        if key is None:
            super().__init_subclass__(template=cls.__discord_ui_compiled_template__)
            return
        cls.key, cls.parts = key, parts
        super().__init_subclass__(template=template(key, parts))

    def __init__(
        self,
        *values: object,
        label: str,
        style: discord.ButtonStyle,
        emoji: str | None = None,
        row: int | None = None,
        owner: int | None = None,
    ) -> None:
        super().__init__(
            discord.ui.Button(
                label=label,
                style=style,
                emoji=emoji,
                row=row,
                custom_id=custom_id(self.key, *values),
            )
        )
        self.owner = owner  # only this user may click; None: anyone

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> PersistentButton:
        values = [match[p.name] for p in cls.parts]
        build: Callable[..., PersistentButton] = cls  # a subclass takes its parts' values
        return build(
            *(None if v is None else p.parse(v) for p, v in zip(cls.parts, values, strict=True))
        )

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        if self.owner is None or interaction.user.id == self.owner:
            return True
        await interaction.response.send_message(self.not_yours, ephemeral=True)
        return False

    async def callback(self, interaction: discord.Interaction) -> None:
        await handle(interaction, self.clicked)

    async def clicked(self, interaction: discord.Interaction) -> None:
        raise NotImplementedError


UNAVAILABLE = "Running snippets is not available on this bot right now."
# What "Run it" does with a question id: the run extension's, set when it loads.
RunQuestion = Callable[[discord.Interaction, str], Awaitable[None]]


class RunIt(PersistentButton, key="r", parts=(QID,)):
    """Runs a question's own snippet, for anyone who clicks it. The quiz puts it under feedback;
    what a click does is the run extension's (``run_question``, set in its ``setup``), so that
    neither extension imports the other. (The class shown must be the class that handles the
    click: discord.py registers the class of every persistent item it sends.)"""

    run_question: ClassVar[RunQuestion | None] = None

    def __init__(self, qid: str) -> None:
        super().__init__(qid, label="Run it", emoji="▶️", style=discord.ButtonStyle.success)
        self.qid = qid

    async def clicked(self, interaction: discord.Interaction) -> None:
        if RunIt.run_question is None:
            raise UserError(UNAVAILABLE)
        await RunIt.run_question(interaction, self.qid)


def modal_value(data: Mapping[str, Any], field: str) -> str | None:
    """The value of one text input in a modal submission (inside action rows or labels)."""
    stack: list[Any] = list(data.get("components") or [])
    while stack:
        node = stack.pop()
        if not isinstance(node, Mapping):
            continue
        if node.get("custom_id") == field and "value" in node:
            return str(node["value"])
        stack.extend(node.get("components") or [])
        if node.get("component"):
            stack.append(node["component"])
    return None


def submitted(
    interaction: discord.Interaction, pattern: re.Pattern[str]
) -> tuple[re.Match[str], Mapping[str, Any]] | None:
    """For a modal submission whose custom_id is one of ``pattern``'s: the match and the data.
    Modals are parsed this way, statelessly, so that a submission works after a restart."""
    if interaction.type is not discord.InteractionType.modal_submit:
        return None
    data: Mapping[str, Any] = interaction.data or {}
    match = pattern.fullmatch(str(data.get("custom_id", "")))
    return None if match is None else (match, data)


def stateless_modal(
    title: str, modal_id: str, field: discord.ui.TextInput[Any]
) -> discord.ui.Modal:
    """A modal with one text input, answered through ``submitted`` (by a cog's listener)."""
    modal = discord.ui.Modal(title=title, custom_id=modal_id)
    modal.add_item(field)
    # Stopped before sending, so discord.py does not keep it in memory waiting for a submit.
    modal.stop()
    return modal


def topic_choices(topics: Sequence[str], typed: str) -> list[app_commands.Choice[str]]:
    """Autocomplete for a topic option: the course's topics containing what was typed."""
    wanted = typed.lower()
    return [app_commands.Choice(name=t, value=t) for t in topics if wanted in t.lower()][:25]
