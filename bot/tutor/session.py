"""The quiz flow as pure functions: choose a question, grade an answer, build the feedback.

No clock, no storage: callers pass in the history and the time, which keeps every rule here
testable with plain values.
"""

from __future__ import annotations

import io
import random
import tokenize
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from fsrs import Rating

from bot.tutor import grading, review
from bot.tutor.content import Bank, Question
from bot.tutor.replies import Action, Kind, Reply, counted
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
    # The order the choices were shown in: position i showed choice ``order[i]`` of the file
    # (empty: file order). Stored with the question, so a restart grades what was shown.
    order: tuple[int, ...] = ()
    # The "hint" was running the question's own code, which shows the answer (implies hinted).
    revealed: bool = False


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
    choice_index: int | None  # the choice's index in the file
    note: str | None = None  # what is almost right about a wrong answer


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
    new_allowed: bool = True,
) -> Pick | None:
    """The next question:

    1. a due review, the longest overdue first;
    2. a new question, from the learner's weakest topic (least mastered), of the difficulty that
       suits how they are doing, then in file order;
    3. otherwise the question they are likeliest to have forgotten (an early repeat).

    ``avoid`` (e.g. the question just skipped) goes last within its group; ``due_only`` stops
    after step 1 (/review); without ``new_allowed`` (the daily limit of new questions is
    reached) step 2 is left out. ``topic`` and ``difficulty`` (1 to 3), when given, restrict the
    candidates. A parked question (a leech, see ``review``) is never chosen until its park ends.
    """
    candidates: Sequence[Question] = bank.questions
    # Inline, not review.is_parked: /quiz runs this over every card of the learner.
    parked = {
        qid for qid, c in cards.items() if c.parked_until is not None and c.parked_until > now
    }
    if topic is not None or difficulty is not None or parked:
        candidates = [
            q
            for q in bank.questions
            if (topic is None or q.topic == topic)
            and (difficulty is None or q.difficulty == difficulty)
            and q.id not in parked
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
    if new_allowed and None in stored:  # some candidate is new
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
    known = [c for c in stored if c is not None]
    if not known:
        return None
    if len(known) < len(candidates):  # new ones left out (the daily limit)
        candidates = [q for q, c in zip(candidates, stored, strict=True) if c is not None]
    # The likeliest forgotten: lowest retrievability (tuples compare in C; the index breaks ties).
    forgetting = review.retrievabilities(known, now)
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
    """XP for an answer: by difficulty, halved with a hint (or a revealing run), and nothing for
    a wrong answer, for repeating a question before its review is due (no farming), or for a
    retry: an answer less than a day after the last one, whose feedback showed the answer
    (learning and relearning steps schedule the question, but earn nothing)."""
    if not correct or (card is not None and not card.is_due(now)) or review.is_retry(card, now):
        return 0
    base = XP_PER_DIFFICULTY * question.difficulty
    return round(base * HINTED_XP_FACTOR) if hinted else base


def shuffle(question: Question, rng: random.Random) -> tuple[int, ...]:
    """A new order of ``question``'s choices (see ``OpenQuestion.order``): pinned choices keep
    their place in the file ("All of the above" last), the others are shuffled around them."""
    if not question.choices:
        return ()
    free = [i for i, c in enumerate(question.choices) if not c.pinned]
    moved = iter(rng.sample(free, len(free)))
    return tuple(i if c.pinned else next(moved) for i, c in enumerate(question.choices))


def valid_order(question: Question, order: Sequence[int]) -> bool:
    """Whether ``order`` (empty: file order) is an order of this question's choices: content
    edited since it was stored may have changed their number."""
    n = len(question.choices or ())
    return not order or sorted(order) == list(range(n))


def shown_choices(question: Question, order: Sequence[int]) -> tuple[str, ...]:
    """The choices' texts as shown, in ``order`` (empty: file order)."""
    choices = question.choices or ()
    return tuple(choices[i].text for i in order) if order else tuple(c.text for c in choices)


def grade(question: Question, answer: str, order: Sequence[int] = ()) -> Grade:
    """Grade ``answer``: for multiple choice the number of a choice as shown in ``order``
    (empty: file order), otherwise free text (shapes, counts and words, see ``grading``)."""
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
        index = order[index] if order else index
        return Grade(question.choices[index].correct, question.choices[index].text, index)
    try:
        match = grading.check(answer, question.accept or ())
    except grading.Unreadable as exc:
        raise InvalidAnswer(str(exc)) from None
    return Grade(match.correct, answer, None, match.note)


# --- running a question's code ------------------------------------------------------------------


def _code_lines(code: str) -> set[str]:
    """The lines of ``code`` without comments, blank lines and differences of spacing."""
    lines = code.splitlines()
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, SyntaxError):
        tokens = []  # not Python as written: compared line by line as it is
    for token in reversed(tokens):  # a comment ends its line: cut from the right
        if token.type == tokenize.COMMENT:
            row, column = token.start
            lines[row - 1] = lines[row - 1][:column]
    spaced = (" ".join(line.split()) for line in lines)
    return {line for line in spaced if line and not line.startswith("#")}


def runs_question_code(code: str, question_code: str) -> bool:
    """Whether running ``code`` shows what ``question_code`` does: every line of the question's
    code (spacing, blank lines and comments aside) is in it, in any order, with any others.
    A changed line is other code: it may do something else, and is not counted."""
    wanted = _code_lines(question_code)
    return bool(wanted) and wanted <= _code_lines(code)


def reveal_note(question: Question) -> Reply:
    """Said before a run of the open question's own code: its output shows the answer."""
    return Reply(
        text=f"Running it shows the answer: a right answer to the open question will count as "
        f"hinted ({HINTED_XP_FACTOR:.0%} of the XP).",
        kind=Kind.HINT,
        question_id=question.id,
    )


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
    return f"in {counted(count, unit)}"


def ask(pick: Pick, hinted: bool = False, order: Sequence[int] = (), note: str = "") -> Reply:
    """The question as asked, its choices in ``order`` (empty: file order). ``hinted``: the
    learner saw its hint before (then skipped it, or it was asked again), which still halves the
    XP of a right answer; say so up front. ``note``: a word on why this question (e.g. the
    daily limit of new questions is reached)."""
    q = pick.question
    how = "Answer with the number of your choice." if q.choices else "Type your answer."
    if hinted:
        how += (
            f"\n💡 You saw the hint for this question: a correct answer earns "
            f"{HINTED_XP_FACTOR:.0%} of the XP."
        )
    if note:
        how += f"\n{note}"
    stars = "★" * q.difficulty + "☆" * (3 - q.difficulty)
    return Reply(
        text=f"{q.prompt}\n\n{how}",
        kind=Kind.QUESTION,
        title=f"{_REASON_TITLE[pick.reason]} · {q.topic} · {stars}",
        code=q.code,
        choices=shown_choices(q, order),
        question_id=q.id,
        actions=(Action.HINT, Action.SKIP),
        order=tuple(order),
    )


@dataclass(frozen=True)
class Outcome:
    """What was stored for an answer, as its feedback tells it."""

    grade: Grade
    hinted: bool
    revealed: bool  # the learner ran the question's code first
    retry: bool  # answered less than a day after the last time (see xp_for)
    xp: int
    card: CardState | None  # after this answer; None: not scheduled (a practice variant)
    leech: bool  # this wrong answer made the question a leech (parked)
    # A practice variant's answer earns this fraction of the XP (practice.xp_for); its
    # ``retry``: the learner answered that variant before.
    practice_rate: float | None = None


def related_example(bank: Bank, question: Question) -> Question | None:
    """A runnable example for a question the learner keeps missing: its own code, else the
    first snippet of its topic."""
    if question.code:
        return question
    return next((q for q in bank.questions if q.topic == question.topic and q.code), None)


def feedback(question: Question, outcome: Outcome, example: Question | None = None) -> Reply:
    """The feedback on an answer. Choices are named by their text, never by their number (the
    learner saw them in an order of their own). ``example``: for a leech, code to run."""
    result = outcome.grade
    lines = []
    if result.correct:
        rate = outcome.practice_rate
        if outcome.xp:
            how = " (ran its code first)" if outcome.revealed else " (with a hint)"
            earned = f"+{outcome.xp} XP" + (how if outcome.hinted else "")
            if rate is not None:
                earned += f" (practice: {rate:.0%} of the XP)"
        elif rate is not None:
            earned = (
                "no XP this time: you answered this variant before"
                if outcome.retry
                else "no XP this time (practice)"
            )
        elif outcome.retry:
            earned = (
                "no XP this time: you saw the answer less than a day ago. It counts for your "
                "schedule; XP comes when the question returns after a real interval"
            )
        else:
            earned = "no XP this time: it was not due for review yet"
        lines.append(f"✅ Correct! {earned}")
    else:
        lines.append(f"❌ Not quite. The answer is: {question.correct_answer}")
        if result.choice_index is not None:
            lines.append(f"(You answered: {result.answer})")
        if result.note:
            lines.append(f"\n{result.note}")
    if result.choice_index is not None and question.choices:
        chosen = question.choices[result.choice_index]
        if chosen.feedback:
            lines.append(f"\n{chosen.feedback}")
    lines.append(f"\n{question.explanation}")
    if outcome.leech:
        parked = outcome.card.parked_until if outcome.card else None
        back = f" It is parked until {parked:%Y-%m-%d} and" if parked else " It"
        lines.append(
            f"\n🩹 This question keeps tripping you up ({review.LEECH_LAPSES} wrong answers)."
            f"{back} is listed in /progress. The hint again: {question.hint}"
        )
    if question.references:
        lines.append("\nRead more: " + " · ".join(str(r) for r in question.references))
    card = outcome.card
    if card is not None:
        # A parked question is not asked before its park ends, whatever FSRS says.
        due = max(card.due, card.parked_until) if card.parked_until else card.due
        lines.append(f"\nNext review of this question: {when(due, card.last_review or card.due)}.")
    if outcome.leech and example is not None:
        lines.append("\nRun this example to see it at work:")
    runnable = example if outcome.leech else question
    code = example.code if outcome.leech and example is not None else None
    actions = (Action.NEXT, Action.RUN) if runnable and runnable.code else (Action.NEXT,)
    return Reply(
        text="\n".join(lines),
        kind=Kind.FEEDBACK,
        question_id=question.id,
        correct=result.correct,
        actions=actions,
        code=code,
        run_id=runnable.id if runnable and runnable.code else None,
    )


def hint(question: Question, already: bool) -> Reply:
    note = "" if already else f" (a correct answer now earns {HINTED_XP_FACTOR:.0%} of the XP)"
    return Reply(
        text=f"💡 {question.hint}{note}",
        kind=Kind.HINT,
        ephemeral=True,
        question_id=question.id,
    )
