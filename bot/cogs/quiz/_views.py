"""Question and feedback buttons. They are ``DynamicItem``s: all their state (whose question,
which question, which choice) is in the custom_id, so a click is graded even after a restart."""

from __future__ import annotations

import re
from typing import Any

import discord

from bot.cogs._handling import bot_of, handle
from bot.cogs.render import (
    CUSTOM_ID,
    defer_silently,
    embed_for,
    learner,
    send,
    send_reply,
)
from bot.tutor.replies import Action, Kind, Reply
from bot.tutor.service import MAX_ANSWER_CHARS

_OWNER = r"(?P<owner>[0-9]{1,20})"
_QID = r"(?P<qid>[a-z0-9_-]{1,60})"
NOT_YOURS = "This is someone else's question. Type /quiz for one of your own."


def _check_len(custom_id: str) -> str:
    if len(custom_id) > CUSTOM_ID:  # question ids are at most 60 characters, so this holds
        raise ValueError(f"custom_id too long: {custom_id!r}")
    return custom_id


async def _not_owner(interaction: discord.Interaction, owner: int) -> bool:
    """True (after telling the clicker privately) when the clicker did not ask the question."""
    if interaction.user.id == owner:
        return False
    await interaction.response.send_message(NOT_YOURS, ephemeral=True)
    return True


def question_view(
    reply: Reply,
    owner: int,
    *,
    answered: int | None = None,
    correct: bool | None = None,
    closed: bool = False,
) -> discord.ui.View:
    """The buttons under a question. ``closed`` (or ``answered``: the 1-based choice) disables
    them all, colouring the chosen one, once the question is answered or skipped."""
    qid = reply.question_id or ""
    closed = closed or answered is not None
    view = discord.ui.View(timeout=None)
    for number in range(1, len(reply.choices) + 1):
        button = AnswerButton(owner, qid, number)
        if number == answered:
            button.item.style = (
                discord.ButtonStyle.success if correct else discord.ButtonStyle.danger
            )
        button.item.disabled = closed
        view.add_item(button)
    if not reply.choices:
        item: Any = ShortAnswerButton(owner, qid)
        item.item.disabled = closed
        view.add_item(item)
    if Action.HINT in reply.actions:
        item = HintButton(owner, qid)
        item.item.disabled = closed
        view.add_item(item)
    if Action.SKIP in reply.actions:
        item = SkipButton(owner, qid)
        item.item.disabled = closed
        view.add_item(item)
    return view


def feedback_view(reply: Reply) -> discord.ui.View:
    from bot.cogs.run._views import RunQuestionButton  # the run feature owns that button

    view = discord.ui.View(timeout=None)
    if Action.NEXT in reply.actions:
        view.add_item(NextButton())
    if Action.RUN in reply.actions and reply.question_id:
        view.add_item(RunQuestionButton(reply.question_id))
    return view


async def send_question(interaction: discord.Interaction, reply: Reply) -> None:
    """A question (with its buttons) or the tutor's refusal (private)."""
    if reply.kind is Kind.QUESTION:
        embed = embed_for(reply)
        embed.set_footer(
            text="Click the number of your answer."
            if reply.choices
            else "Click Answer to type your answer."
        )
        view = question_view(reply, interaction.user.id)
        await send(interaction, embed=embed, ephemeral=False, view=view)
    else:
        await send_reply(interaction, reply)


async def _close_question(
    interaction: discord.Interaction, owner: int, qid: str, **state: Any
) -> None:
    """Disable the buttons on the question message the click came from."""
    question = bot_of(interaction).tutor.bank.get(qid)
    shape = Reply(
        text="",
        question_id=qid,
        choices=tuple(c.text for c in (question.choices or ())) if question else (),
        actions=(Action.HINT, Action.SKIP),
    )
    await interaction.edit_original_response(view=question_view(shape, owner, **state))


async def grade(
    interaction: discord.Interaction, owner: int, qid: str, text: str, choice: int | None = None
) -> None:
    """Shared by the choice buttons (``choice``: the button's number) and the short-answer modal
    (the typed ``text``, never read here: the core grades it). The click is acknowledged first
    (silently): the attempt is committed before the feedback is sent."""
    await defer_silently(interaction)
    reply = await bot_of(interaction).tutor.answer(learner(interaction), text, question_id=qid)
    if reply.kind is not Kind.FEEDBACK:
        await send_reply(interaction, reply)
        return
    await _close_question(
        interaction, owner, qid, answered=choice, correct=reply.correct, closed=True
    )
    await send(interaction, embed=embed_for(reply), ephemeral=False, view=feedback_view(reply))


class AnswerButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=rf"tlt:a:{_OWNER}:{_QID}:(?P<n>[1-9])",
):
    def __init__(self, owner: int, qid: str, number: int) -> None:
        super().__init__(
            discord.ui.Button(
                label=str(number),
                style=discord.ButtonStyle.primary,
                custom_id=_check_len(f"tlt:a:{owner}:{qid}:{number}"),
                row=0,
            )
        )
        self.owner, self.qid, self.number = owner, qid, number

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> AnswerButton:
        return cls(int(match["owner"]), match["qid"], int(match["n"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        await handle(interaction, self._answer)

    async def _answer(self, interaction: discord.Interaction) -> None:
        if not await _not_owner(interaction, self.owner):
            await grade(interaction, self.owner, self.qid, str(self.number), self.number)


class ShortAnswerButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=rf"tlt:sa:{_OWNER}:{_QID}"
):
    def __init__(self, owner: int, qid: str) -> None:
        super().__init__(
            discord.ui.Button(
                label="Answer…",
                emoji="✏️",
                style=discord.ButtonStyle.primary,
                custom_id=_check_len(f"tlt:sa:{owner}:{qid}"),
                row=0,
            )
        )
        self.owner, self.qid = owner, qid

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ShortAnswerButton:
        return cls(int(match["owner"]), match["qid"])

    async def callback(self, interaction: discord.Interaction) -> None:
        await handle(interaction, self._open)

    async def _open(self, interaction: discord.Interaction) -> None:
        if not await _not_owner(interaction, self.owner):
            await interaction.response.send_modal(answer_modal(self.owner, self.qid))


# The modal's submission is handled by the quiz cog's listener, from this custom_id alone.
ANSWER_MODAL = re.compile(rf"tlt:am:{_OWNER}:{_QID}")
ANSWER_FIELD = "answer"


def answer_modal(owner: int, qid: str) -> discord.ui.Modal:
    modal = discord.ui.Modal(title="Your answer", custom_id=_check_len(f"tlt:am:{owner}:{qid}"))
    modal.add_item(
        discord.ui.TextInput(
            label="Answer",
            custom_id=ANSWER_FIELD,
            placeholder="e.g. (None, 5)",
            max_length=MAX_ANSWER_CHARS,
        )
    )
    # Stopped before sending, so discord.py does not keep it in memory waiting for a submit:
    # the submission is parsed statelessly, which also works after a restart.
    modal.stop()
    return modal


class HintButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=rf"tlt:h:{_OWNER}:{_QID}"
):
    def __init__(self, owner: int, qid: str) -> None:
        super().__init__(
            discord.ui.Button(
                label="Hint",
                emoji="💡",
                style=discord.ButtonStyle.secondary,
                custom_id=_check_len(f"tlt:h:{owner}:{qid}"),
                row=1,
            )
        )
        self.owner, self.qid = owner, qid

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> HintButton:
        return cls(int(match["owner"]), match["qid"])

    async def callback(self, interaction: discord.Interaction) -> None:
        await handle(interaction, self._hint)

    async def _hint(self, interaction: discord.Interaction) -> None:
        if await _not_owner(interaction, self.owner):
            return
        await defer_silently(interaction)
        reply = await bot_of(interaction).tutor.hint(learner(interaction), question_id=self.qid)
        await send_reply(interaction, reply)


class SkipButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=rf"tlt:s:{_OWNER}:{_QID}"
):
    def __init__(self, owner: int, qid: str) -> None:
        super().__init__(
            discord.ui.Button(
                label="Skip",
                emoji="⏭️",
                style=discord.ButtonStyle.secondary,
                custom_id=_check_len(f"tlt:s:{owner}:{qid}"),
                row=1,
            )
        )
        self.owner, self.qid = owner, qid

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> SkipButton:
        return cls(int(match["owner"]), match["qid"])

    async def callback(self, interaction: discord.Interaction) -> None:
        await handle(interaction, self._skip)

    async def _skip(self, interaction: discord.Interaction) -> None:
        if await _not_owner(interaction, self.owner):
            return
        await defer_silently(interaction)
        reply = await bot_of(interaction).tutor.skip(learner(interaction), question_id=self.qid)
        if reply.kind is Kind.QUESTION:
            await _close_question(interaction, self.owner, self.qid, closed=True)
        await send_question(interaction, reply)


class NextButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"tlt:n"):
    """Anyone may click it: it asks the clicker their own next question."""

    def __init__(self) -> None:
        super().__init__(
            discord.ui.Button(
                label="Next question",
                emoji="➡️",
                style=discord.ButtonStyle.primary,
                custom_id="tlt:n",
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> NextButton:
        return cls()

    async def callback(self, interaction: discord.Interaction) -> None:
        await handle(interaction, self._next)

    async def _next(self, interaction: discord.Interaction) -> None:
        await defer_silently(interaction)
        await send_question(interaction, await bot_of(interaction).tutor.quiz(learner(interaction)))


DYNAMIC_ITEMS = (AnswerButton, ShortAnswerButton, HintButton, SkipButton, NextButton)
