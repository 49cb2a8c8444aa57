"""The quiz flow as pure functions: choose a question, grade an answer, build the feedback.

No clock, no storage: callers pass in the history and the time, which keeps every rule here
testable with plain values.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from fsrs import Rating

from bot.tutor import grading, review
from bot.tutor.content import Bank, Question
from bot.tutor.replies import Action, Kind, Reply
from bot.tutor.review import CardState

XP_PER_DIFFICULTY = 10
# A hint is worth having, but an answer found alone is worth more.
HINTED_XP_FACTOR = 0.5


@dataclass(frozen=True)
class OpenQuestion:
    """The question a learner is currently answering."""

    question_id: str
    asked_at: datetime
    # A hint for this question was seen since the learner last answered it: a hint stays with
    # the question (through /skip, restarts, asking it again) until an answer is graded.
    hinted: bool = False


class Reason(StrEnum):
    NEW = "new"
    REVIEW = "review"  # its card is due
    RETRY = "retry"  # due again after a wrong answer
    PRACTICE = "practice"  # nothing due or new: an early repeat, which earns no XP


@dataclass(frozen=True)
class Pick:
    question: Question
    reason: Reason


@dataclass(frozen=True)
class Grade:
    correct: bool
    answer: str  # what is stored: the choice text, or the learner's words
    choice_index: int | None


def is_text(value: str) -> bool:
    """Whether ``value`` is text that can be stored and shown: bytes that were not UTF-8, which
    Python decodes from stdin and argv as lone surrogates, cannot be (SQLite refuses them)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class InvalidAnswer(ValueError):
    """The input cannot be graded (e.g. choice 7 of 4). Nothing is recorded."""


# How the learner is doing decides the difficulty of new questions: the share of their last
# RECENT_REVIEWS answers that were right maps to a target difficulty.
RECENT_REVIEWS = 10
TARGET_DIFFICULTY = ((0.85, 3), (0.6, 2))  # (at least this share right, difficulty)


def target_difficulty(cards: Mapping[str, CardState]) -> int:
    reviewed = [(c.last_review, c) for c in cards.values() if c.last_review is not None]
    recent = [c for _, c in sorted(reviewed, key=lambda pair: pair[0])][-RECENT_REVIEWS:]
    if len(recent) < 3:
        return 1
    share = sum(c.last_rating != Rating.Again for c in recent) / len(recent)
    return next((level for floor, level in TARGET_DIFFICULTY if share >= floor), 1)


def choose_next(
    bank: Bank,
    cards: Mapping[str, CardState],
    now: datetime,
    topic: str | None = None,
    avoid: Collection[str] = (),
    due_only: bool = False,
    difficulty: int | None = None,
) -> Pick | None:
    """The next question:

    1. a due review, the longest overdue first;
    2. a new question, from the learner's weakest topic (least mastered), of the difficulty that
       suits how they are doing, then in file order;
    3. otherwise the question they are likeliest to have forgotten (an early repeat).

    ``avoid`` (e.g. the question just skipped) goes last within its group; ``due_only`` stops
    after step 1 (/review). ``topic`` and ``difficulty`` (1 to 3), when given, restrict the
    candidates.
    """
    candidates: Sequence[Question] = bank.questions
    if topic is not None or difficulty is not None:
        candidates = [
            q
            for q in bank.questions
            if (topic is None or q.topic == topic)
            and (difficulty is None or q.difficulty == difficulty)
        ]
    # One pass over the learner's cards (/quiz runs this for every question it asks). The
    # candidates are in file order and min() keeps the first of equal keys: ties go to the
    # question that comes first in the files.
    stored = [cards.get(q.id) for q in candidates]
    pairs = zip(candidates, stored, strict=True)
    due = [(q, c) for q, c in pairs if c is not None and c.due <= now]
    if due:
        best, card = min(due, key=lambda pair: (pair[0].id in avoid, pair[1].due))
        return Pick(best, Reason.RETRY if card.last_rating == Rating.Again else Reason.REVIEW)
    if due_only:
        return None
    if None in stored:  # some candidate is new
        new = [q for q, c in zip(candidates, stored, strict=True) if c is None]
        shares = {
            t: done / total
            for t, (done, total) in review.mastery(bank.questions, cards, now).items()
        }
        topics = {t: i for i, t in enumerate(bank.topics)}
        level = target_difficulty(cards)
        best = min(
            new,
            key=lambda q: (
                q.id in avoid,
                shares[q.topic],
                topics[q.topic],
                abs(q.difficulty - level),
            ),
        )
        return Pick(best, Reason.NEW)
    if not candidates:
        return None
    # The likeliest forgotten: lowest retrievability (tuples compare in C; the index breaks ties).
    # Here every candidate has a card (none is new).
    forgetting = review.retrievabilities([c for c in stored if c is not None], now)
    order = range(len(candidates))
    if avoid:
        avoided = [q.id in avoid for q in candidates]
        *_, best_index = min(zip(avoided, forgetting, order, strict=True))
    else:
        _, best_index = min(zip(forgetting, order, strict=True))
    return Pick(candidates[best_index], Reason.PRACTICE)


def xp_for(
    question: Question, correct: bool, hinted: bool, card: CardState | None, now: datetime
) -> int:
    """XP for an answer: by difficulty, halved with a hint, and nothing for a wrong answer or
    for repeating a question before its review is due (no farming)."""
    if not correct or (card is not None and not card.is_due(now)):
        return 0
    base = XP_PER_DIFFICULTY * question.difficulty
    return round(base * HINTED_XP_FACTOR) if hinted else base


def grade(question: Question, answer: str) -> Grade:
    """Grade ``answer`` (a choice number for multiple choice, free text otherwise)."""
    answer = answer.strip()
    if not answer:
        raise InvalidAnswer("Type an answer, or /hint for a hint, or /skip.")
    if not is_text(answer):
        raise InvalidAnswer("That answer is not valid UTF-8 text; type it again.")
    if question.choices:
        try:
            index = grading.parse_choice(answer, len(question.choices))
        except ValueError as exc:
            raise InvalidAnswer(str(exc)) from None
        if index is None:
            raise InvalidAnswer(
                f"Answer with the number of a choice, 1 to {len(question.choices)}."
            )
        return Grade(question.choices[index].correct, question.choices[index].text, index)
    return Grade(grading.matches(answer, list(question.accept or ())), answer, None)


# --- replies ------------------------------------------------------------------------------------

_REASON_TITLE = {
    Reason.NEW: "Question",
    Reason.RETRY: "Another try",
    Reason.REVIEW: "Review",
    Reason.PRACTICE: "Practice (not due yet: no XP)",
}


def when(due: datetime, now: datetime) -> str:
    """How far ``due`` is from ``now``, as a person says it."""
    seconds = (due - now).total_seconds()
    if seconds <= 0:
        return "now"
    if seconds >= 2 * 86400:
        count, unit = round(seconds / 86400), "day"
    elif seconds >= 3600:
        count, unit = round(seconds / 3600), "hour"
    else:
        count, unit = max(1, round(seconds / 60)), "minute"
    return f"in {count} {unit}{'s' * (count != 1)}"


def ask(pick: Pick, hinted: bool = False) -> Reply:
    """The question as asked. ``hinted``: the learner saw its hint before (then skipped it, or
    it was asked again), which still halves the XP of a right answer; say so up front."""
    q = pick.question
    how = "Answer with the number of your choice." if q.choices else "Type your answer."
    if hinted:
        how += (
            f"\n💡 You saw the hint for this question: a correct answer earns "
            f"{HINTED_XP_FACTOR:.0%} of the XP."
        )
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


def feedback(question: Question, result: Grade, hinted: bool, xp: int, card: CardState) -> Reply:
    lines = []
    if result.correct:
        if xp:
            earned = f"+{xp} XP" + (" (with a hint)" if hinted else "")
        else:
            earned = "no XP this time: it was not due for review yet"
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
    lines.append(f"\nNext review of this question: {when(card.due, card.last_review or card.due)}.")
    actions = (Action.NEXT, Action.RUN) if question.code else (Action.NEXT,)
    return Reply(
        text="\n".join(lines),
        kind=Kind.FEEDBACK,
        question_id=question.id,
        correct=result.correct,
        actions=actions,
    )


def hint(question: Question, already: bool) -> Reply:
    note = "" if already else f" (a correct answer now earns {HINTED_XP_FACTOR:.0%} of the XP)"
    return Reply(
        text=f"💡 {question.hint}{note}",
        kind=Kind.HINT,
        ephemeral=True,
        question_id=question.id,
    )
