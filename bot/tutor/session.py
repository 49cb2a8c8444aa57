"""The quiz flow as pure functions: choose a question, grade an answer, build the feedback.

No clock, no storage: callers pass in the history and the time, which keeps every rule here
testable with plain values.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.tutor import grading
from bot.tutor.content import Bank, Question
from bot.tutor.replies import Action, Kind, Reply

POINTS_PER_DIFFICULTY = 10
# A hint is worth having, but an answer found alone is worth more.
HINTED_POINTS_FACTOR = 0.5


@dataclass(frozen=True)
class OpenQuestion:
    """The question a learner is currently answering."""

    question_id: str
    asked_at: datetime
    hinted: bool = False


@dataclass(frozen=True)
class PastAttempt:
    """The part of an attempt that question choice needs."""

    question_id: str
    correct: bool
    answered_at: datetime


class Reason(StrEnum):
    NEW = "new"
    RETRY = "retry"  # answered wrongly last time
    REVIEW = "review"  # everything was answered correctly; the oldest comes back


@dataclass(frozen=True)
class Pick:
    question: Question
    reason: Reason


@dataclass(frozen=True)
class Grade:
    correct: bool
    answer: str  # what is stored: the choice text, or the learner's words
    choice_index: int | None
    points: int


class InvalidAnswer(ValueError):
    """The input cannot be graded (e.g. choice 7 of 4). Nothing is recorded."""


def choose_next(
    bank: Bank,
    history: Sequence[PastAttempt],
    topic: str | None = None,
    avoid: Collection[str] = (),
    difficulty: int | None = None,
) -> Pick | None:
    """The next question: unanswered ones first, then those last answered wrongly, then the
    least recently answered. ``avoid`` (e.g. just skipped) goes last within its group.
    ``topic`` and ``difficulty`` (1 to 3), when given, restrict the candidates.

    Within a group, easier questions come first and then file order, so a new learner meets the
    course in the order it was written.
    """
    candidates = [
        q
        for q in bank.questions
        if (topic is None or q.topic == topic)
        and (difficulty is None or q.difficulty == difficulty)
    ]
    if not candidates:
        return None
    last: dict[str, PastAttempt] = {}
    for attempt in sorted(history, key=lambda a: a.answered_at):
        last[attempt.question_id] = attempt
    order = {q.id: i for i, q in enumerate(bank.questions)}

    def rank(q: Question) -> tuple[int, int, float, int, int]:
        seen = last.get(q.id)
        group = 0 if seen is None else (1 if not seen.correct else 2)
        when = seen.answered_at.timestamp() if seen is not None and group == 2 else 0.0
        return (group, q.id in avoid, when, q.difficulty, order[q.id])

    best = min(candidates, key=rank)
    seen = last.get(best.id)
    reason = Reason.NEW if seen is None else (Reason.RETRY if not seen.correct else Reason.REVIEW)
    return Pick(best, reason)


def points_for(question: Question, correct: bool, hinted: bool) -> int:
    if not correct:
        return 0
    base = POINTS_PER_DIFFICULTY * question.difficulty
    return round(base * HINTED_POINTS_FACTOR) if hinted else base


def grade(question: Question, answer: str, hinted: bool = False) -> Grade:
    """Grade ``answer`` (a choice number for multiple choice, free text otherwise)."""
    answer = answer.strip()
    if not answer:
        raise InvalidAnswer("Type an answer, or /hint for a hint, or /skip.")
    if question.choices:
        try:
            index = grading.parse_choice(answer, len(question.choices))
        except ValueError as exc:
            raise InvalidAnswer(str(exc)) from None
        if index is None:
            raise InvalidAnswer(
                f"Answer with the number of a choice, 1 to {len(question.choices)}."
            )
        correct = question.choices[index].correct
        text = question.choices[index].text
    else:
        index = None
        correct = grading.matches(answer, list(question.accept or ()))
        text = answer
    return Grade(correct, text, index, points_for(question, correct, hinted))


# --- replies ------------------------------------------------------------------------------------

_REASON_TITLE = {
    Reason.NEW: "Question",
    Reason.RETRY: "Another try",
    Reason.REVIEW: "Review",
}


def ask(pick: Pick) -> Reply:
    q = pick.question
    how = "Answer with the number of your choice." if q.choices else "Type your answer."
    stars = "★" * q.difficulty + "☆" * (3 - q.difficulty)
    return Reply(
        text=f"{q.prompt}\n\n{how}",
        kind=Kind.QUESTION,
        title=f"{_REASON_TITLE[pick.reason]} · {q.topic} · {stars}",
        code=q.code,
        choices=tuple(c.text for c in q.choices or ()),
        question_id=q.id,
        actions=(Action.HINT, Action.SKIP),
    )


def feedback(question: Question, result: Grade, hinted: bool) -> Reply:
    lines = []
    if result.correct:
        earned = f"+{result.points} points" + (" (with a hint)" if hinted else "")
        lines.append(f"✅ Correct! {earned}")
    else:
        lines.append(f"❌ Not quite. The answer is: {question.correct_answer}")
    if result.choice_index is not None and question.choices:
        chosen = question.choices[result.choice_index]
        if chosen.feedback:
            lines.append(f"\n{chosen.feedback}")
    lines.append(f"\n{question.explanation}")
    if question.references:
        lines.append("\nRead more: " + " · ".join(str(r) for r in question.references))
    actions = (Action.NEXT, Action.RUN) if question.code else (Action.NEXT,)
    return Reply(
        text="\n".join(lines),
        kind=Kind.FEEDBACK,
        question_id=question.id,
        correct=result.correct,
        actions=actions,
    )


def hint(question: Question, already: bool) -> Reply:
    note = "" if already else f" (a correct answer now earns {HINTED_POINTS_FACTOR:.0%} points)"
    return Reply(
        text=f"💡 {question.hint}{note}",
        kind=Kind.HINT,
        ephemeral=True,
        question_id=question.id,
    )
