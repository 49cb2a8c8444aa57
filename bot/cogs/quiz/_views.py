"""Question and feedback buttons, and the short-answer modal. The buttons are persistent
(``components.PersistentButton``): whose question, which question and which choice are in the
custom_id, so a click is graded even after a restart."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
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
from bot.cogs.quiz._places import REPLACED, attribution, mode_for, present
from bot.cogs.render import defer_silently, embed_for, learner, send, send_reply
from bot.cogs.reports import ReportButton
from bot.tutor.content import is_practice
from bot.tutor.replies import Action, Kind, Reply
from bot.tutor.service import MAX_ANSWER_CHARS, is_stale
from bot.tutor.study import Mode

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


def feedback_view(reply: Reply, owner: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    if Action.NEXT in reply.actions:
        view.add_item(NextButton(owner, practice=is_practice(reply.question_id or "")))
    runs = reply.run_id or reply.question_id
    if Action.RUN in reply.actions and runs:
        view.add_item(RunIt(runs))
    if reply.question_id:
        view.add_item(ReportButton(reply.question_id))  # handled by bot.cogs.reports
    return view


def _private_message(interaction: discord.Interaction) -> bool:
    """The click (or the modal) came from a message only the clicker sees."""
    message = interaction.message
    return message is not None and message.flags.ephemeral


async def ask(
    interaction: discord.Interaction,
    asking: Callable[[], Awaitable[Reply]],
    *,
    private: bool = False,
) -> None:
    """Ask the tutor for a question (``asking``) and send it to its place: the learner's
    study mode here, or privately (``private``, or a click on a message only they see). A
    refusal of the place (studying happens elsewhere) comes before anything is asked."""
    private = private or _private_message(interaction)
    mode = Mode.EPHEMERAL if private else await mode_for(interaction)
    if isinstance(mode, Reply):
        await send_reply(interaction, mode)
        return
    reply = await asking()
    if reply.kind is not Kind.QUESTION:
        await refuse(interaction, reply)
        return
    await present(interaction, reply, question_view(reply, interaction.user.id), mode)


async def refuse(interaction: discord.Interaction, reply: Reply) -> None:
    """A click's refusal, privately; on a question a newer one replaced, its buttons close
    too, saying why (a message only the learner sees cannot be closed when the newer one
    opens: it is closed when used)."""
    if is_stale(reply) and interaction.message is not None:
        await interaction.edit_original_response(content=REPLACED, view=None)
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
    # Closed by its own answer or skip: nothing left for a newer question to close.
    tutor = bot_of(interaction).services.tutor
    await tutor.study.replace_question(learner(interaction), None)


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
        await refuse(interaction, reply)
        return
    await _close_question(
        interaction, owner, qid, order or (), answered=choice, correct=reply.correct, closed=True
    )
    # Beside its question, privately if the question was private; in public, addressed to
    # the learner (a mention that pings no one).
    private = _private_message(interaction)
    await send(
        interaction,
        embed=embed_for(reply),
        ephemeral=private,
        view=feedback_view(reply, owner),
        content=attribution(interaction, private),
    )


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
        reply = await tutor.hint(learner(interaction), question_id=self.qid)
        if reply.kind is Kind.ERROR:
            await refuse(interaction, reply)
        else:
            await send_reply(interaction, reply)


class SkipButton(QuestionButton, key="s", parts=(OWNER, QID)):
    def __init__(self, owner: int, qid: str) -> None:
        style = discord.ButtonStyle.secondary
        super().__init__(owner, qid, label="Skip", emoji="⏭️", style=style, row=1)

    async def clicked(self, interaction: discord.Interaction) -> None:
        await defer_silently(interaction)
        tutor = bot_of(interaction).services.tutor
        who = learner(interaction)

        async def asking() -> Reply:
            reply = await tutor.skip(who, question_id=self.qid)
            if reply.kind is Kind.QUESTION:
                await _close_question(interaction, self.asker, self.qid, closed=True)
            return reply

        await ask(interaction, asking)


def _practice(_: str) -> bool:
    return True


# Present on the Next button under practice feedback (absent on older buttons: the quiz).
PRACTICE = Part("p", "p", _practice, optional=True)
# The learner whose feedback it is under (absent on buttons from before that was recorded).
FOR = Part("for", OWNER.pattern, int, optional=True)


class NextButton(PersistentButton, key="n", parts=(FOR, PRACTICE)):
    """Anyone may click it: it asks the clicker their own next question (under practice
    feedback: their next practice question). The feedback's learner gets it where they study;
    anyone else privately, so that their question does not land in someone's study thread
    (buttons from before the learner was recorded: anyone's study place)."""

    def __init__(self, learner_id: int | None = None, practice: bool | None = None) -> None:
        style = discord.ButtonStyle.primary
        super().__init__(
            learner_id, "p" if practice else None, label="Next question", emoji="➡️", style=style
        )
        self.learner_id = learner_id
        self.practice = bool(practice)

    async def clicked(self, interaction: discord.Interaction) -> None:
        await defer_silently(interaction)
        tutor = bot_of(interaction).services.tutor
        theirs = self.learner_id is not None and self.learner_id != interaction.user.id
        who = learner(interaction)
        asking = (lambda: tutor.practice(who)) if self.practice else (lambda: tutor.quiz(who))
        await ask(interaction, asking, private=theirs)


DYNAMIC_ITEMS = (AnswerButton, ShortAnswerButton, HintButton, SkipButton, NextButton)
