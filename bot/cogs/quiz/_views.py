"""Question and feedback buttons, and the short-answer modal. The buttons are persistent
(``components.PersistentButton``): whose question, which question and which choice are in the
custom_id, so a click is graded even after a restart."""

from __future__ import annotations

import re
from typing import Any

import discord

from bot.cogs._handling import bot_of
from bot.cogs.components import (
    OWNER,
    QID,
    Part,
    PersistentButton,
    RunIt,
    custom_id,
    stateless_modal,
    template,
)
from bot.cogs.render import defer_silently, embed_for, learner, send, send_reply
from bot.cogs.reports import ReportButton
from bot.tutor.replies import Action, Kind, Reply
from bot.tutor.service import MAX_ANSWER_CHARS

NOT_YOURS = "This is someone else's question. Type /quiz for one of your own."


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
    items: list[QuestionButton] = [
        AnswerButton(owner, qid, number, reply.order) for number in range(1, len(reply.choices) + 1)
    ]
    if not reply.choices:
        items.append(ShortAnswerButton(owner, qid))
    if Action.HINT in reply.actions:
        items.append(HintButton(owner, qid))
    if Action.SKIP in reply.actions:
        items.append(SkipButton(owner, qid))
    view = discord.ui.View(timeout=None)
    for item in items:
        item.item.disabled = closed or answered is not None
        if isinstance(item, AnswerButton) and item.number == answered:
            item.item.style = discord.ButtonStyle.success if correct else discord.ButtonStyle.danger
        view.add_item(item)
    return view


def feedback_view(reply: Reply) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    if Action.NEXT in reply.actions:
        view.add_item(NextButton())
    runs = reply.run_id or reply.question_id
    if Action.RUN in reply.actions and runs:
        view.add_item(RunIt(runs))
    if reply.question_id:
        view.add_item(ReportButton(reply.question_id))  # handled by bot.cogs.reports
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
    interaction: discord.Interaction,
    owner: int,
    qid: str,
    order: tuple[int, ...] = (),
    **state: Any,
) -> None:
    """Disable the buttons on the question message the click came from (whose choices were in
    ``order``)."""
    question = bot_of(interaction).services.bank.get(qid)
    shape = Reply(
        text="",
        question_id=qid,
        choices=tuple(c.text for c in (question.choices or ())) if question else (),
        actions=(Action.HINT, Action.SKIP),
        order=order,
    )
    await interaction.edit_original_response(view=question_view(shape, owner, **state))


async def grade(
    interaction: discord.Interaction,
    owner: int,
    qid: str,
    text: str,
    choice: int | None = None,
    order: tuple[int, ...] | None = None,
) -> None:
    """Shared by the choice buttons (``choice``: the button's number, ``order``: the order of
    the choices on its message) and the short-answer modal (the typed ``text``, never read here:
    the core grades it). The click is acknowledged first (silently): the attempt is committed
    before the feedback is sent."""
    await defer_silently(interaction)
    tutor = bot_of(interaction).services.tutor
    reply = await tutor.answer(learner(interaction), text, question_id=qid, order=order)
    if reply.kind is not Kind.FEEDBACK:
        await send_reply(interaction, reply)
        return
    await _close_question(
        interaction, owner, qid, order or (), answered=choice, correct=reply.correct, closed=True
    )
    await send(interaction, embed=embed_for(reply), ephemeral=False, view=feedback_view(reply))


class QuestionButton(PersistentButton):
    """A button under a learner's question: only that learner may click it."""

    not_yours = NOT_YOURS

    def __init__(self, owner: int, qid: str, *more: object, **look: Any) -> None:
        super().__init__(owner, qid, *more, owner=owner, **look)
        self.asker, self.qid = owner, qid


def _order(digits: str) -> tuple[int, ...]:
    return tuple(int(d) for d in digits)


# The order of the choices on the button's message, as the file's index of each ("2013");
# absent (buttons sent before choices were shuffled, or a file order): the file's order.
ORDER = Part("o", "[0-9]{2,9}", _order, optional=True)


class AnswerButton(QuestionButton, key="a", parts=(OWNER, QID, Part("n", "[1-9]", int), ORDER)):
    """Choice ``number`` as its message showed it: the order travels with the button, so a click
    on any message (after a restart, or once the question was asked again in another order) is
    graded as the choice the learner saw."""

    def __init__(
        self, owner: int, qid: str, number: int, order: tuple[int, ...] | None = None
    ) -> None:
        style = discord.ButtonStyle.primary
        digits = "".join(map(str, order or ())) or None
        super().__init__(owner, qid, number, digits, label=str(number), style=style, row=0)
        self.number, self.order = number, order or ()

    async def clicked(self, interaction: discord.Interaction) -> None:
        await grade(interaction, self.asker, self.qid, str(self.number), self.number, self.order)


class ShortAnswerButton(QuestionButton, key="sa", parts=(OWNER, QID)):
    def __init__(self, owner: int, qid: str) -> None:
        style = discord.ButtonStyle.primary
        super().__init__(owner, qid, label="Answer…", emoji="✏️", style=style, row=0)

    async def clicked(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(answer_modal(self.asker, self.qid))


# The modal's submission is handled by the quiz cog's listener, from this custom_id alone.
ANSWER_MODAL = re.compile(template("am", (OWNER, QID)))
ANSWER_FIELD = "answer"


def answer_modal(owner: int, qid: str) -> discord.ui.Modal:
    field: discord.ui.TextInput[Any] = discord.ui.TextInput(
        label="Answer",
        custom_id=ANSWER_FIELD,
        placeholder="e.g. (None, 5)",
        max_length=MAX_ANSWER_CHARS,
    )
    return stateless_modal("Your answer", custom_id("am", owner, qid), field)


class HintButton(QuestionButton, key="h", parts=(OWNER, QID)):
    def __init__(self, owner: int, qid: str) -> None:
        style = discord.ButtonStyle.secondary
        super().__init__(owner, qid, label="Hint", emoji="💡", style=style, row=1)

    async def clicked(self, interaction: discord.Interaction) -> None:
        await defer_silently(interaction)
        tutor = bot_of(interaction).services.tutor
        await send_reply(interaction, await tutor.hint(learner(interaction), question_id=self.qid))


class SkipButton(QuestionButton, key="s", parts=(OWNER, QID)):
    def __init__(self, owner: int, qid: str) -> None:
        style = discord.ButtonStyle.secondary
        super().__init__(owner, qid, label="Skip", emoji="⏭️", style=style, row=1)

    async def clicked(self, interaction: discord.Interaction) -> None:
        await defer_silently(interaction)
        tutor = bot_of(interaction).services.tutor
        reply = await tutor.skip(learner(interaction), question_id=self.qid)
        if reply.kind is Kind.QUESTION:
            await _close_question(interaction, self.asker, self.qid, closed=True)
        await send_question(interaction, reply)


class NextButton(PersistentButton, key="n"):
    """Anyone may click it: it asks the clicker their own next question."""

    def __init__(self) -> None:
        style = discord.ButtonStyle.primary
        super().__init__(label="Next question", emoji="➡️", style=style)

    async def clicked(self, interaction: discord.Interaction) -> None:
        await defer_silently(interaction)
        tutor = bot_of(interaction).services.tutor
        await send_question(interaction, await tutor.quiz(learner(interaction)))


DYNAMIC_ITEMS = (AnswerButton, ShortAnswerButton, HintButton, SkipButton, NextButton)
