"""Spaced review with FSRS: one card per learner and question, scheduled by the ``fsrs`` package.

An answer is a review of its card. The rating comes from the outcome:

- wrong                        -> Again
- correct after a hint         -> Hard
- correct                      -> Good
- correct, no hint, and fast   -> Easy

"Fast" means within ``fast_threshold_s(question)``: ``FAST_BASE_S`` seconds plus the time to read
the question at ``READING_CHARS_PER_S`` characters per second (prompt, code and choices), so a
question with a long snippet is not held to the time of a one-liner. A hint, or running the
question's own code before answering (which shows the answer), counts as a hint.

Leeches: a question answered wrong ``LEECH_LAPSES`` times (since it was last parked) is parked
for ``PARK``: not asked until then, listed in /progress, and its feedback gives the hint, the
explanation and a runnable example again. Anki's default is 8 lapses, but Anki counts only
failures of cards already learned, days apart; here every wrong answer counts, including those
of the learning steps minutes apart, so the threshold is lower. A right answer ends the leech.

The learner's desired retention (``/settings retention``) is FSRS's: the probability of recall at
which a review falls due; higher means more reviews.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from fsrs import Card, Rating, Scheduler, State

from bot.tutor.content import Question

FAST_BASE_S = 5.0
READING_CHARS_PER_S = 25.0
# A question counts as mastered while the learner would recall it with at least this probability.
MASTERY_RETRIEVABILITY = 0.9
DEFAULT_RETENTION = 0.9  # FSRS's own default
MIN_RETENTION, MAX_RETENTION = 0.7, 0.97  # the range FSRS's authors recommend
LEECH_LAPSES = 6
PARK = timedelta(days=3)
# An answer within a day of the last one (whose feedback showed the answer) is a retry: it
# schedules, but earns no XP. FSRS's shortest interval in review is a day.
REAL_INTERVAL = timedelta(days=1)
# fsrs.Card() without an id makes one from the clock and sleeps 1 ms to keep it unique; our cards
# are keyed by learner and question in the database, so the id is unused.
CARD_ID = 0


@dataclass(frozen=True)
class CardState:
    """The FSRS card of one learner for one question, as stored (one column per field)."""

    question_id: str
    state: int  # fsrs.State: 1 learning, 2 review, 3 relearning
    step: int | None
    stability: float | None
    difficulty: float | None
    due: datetime
    last_review: datetime | None
    last_rating: int  # fsrs.Rating of the latest review: 1 again .. 4 easy
    lapses: int = 0  # wrong answers since the question was last parked (see ``leech``)
    parked_until: datetime | None = None  # a leech is not asked before then

    def is_due(self, now: datetime) -> bool:
        return self.due <= now


@cache
def scheduler(desired_retention: float = DEFAULT_RETENTION) -> Scheduler:
    # No fuzzing: the same answers always give the same schedule (testable, explainable).
    # Cached per retention: settings are rounded to two decimals, so there are few.
    return Scheduler(desired_retention=desired_retention, enable_fuzzing=False)


def is_retry(card: CardState | None, now: datetime) -> bool:
    """Whether an answer now repeats one given less than ``REAL_INTERVAL`` ago (after whose
    feedback the learner knows the answer): learning and relearning steps, early repeats."""
    return (
        card is not None and card.last_review is not None and now - card.last_review < REAL_INTERVAL
    )


def is_parked(card: CardState, now: datetime) -> bool:
    return card.parked_until is not None and card.parked_until > now


def is_leech(card: CardState) -> bool:
    """Parked at some point and not answered right since."""
    return card.parked_until is not None


def became_leech(card: CardState) -> bool:
    """Whether the review that made ``card`` parked it (rather than found it parked)."""
    return (
        card.parked_until is not None
        and card.last_review is not None
        and card.parked_until == card.last_review + PARK
    )


def fast_threshold_s(question: Question) -> float:
    text = question.prompt + (question.code or "") + "".join(c.text for c in question.choices or ())
    return FAST_BASE_S + len(text) / READING_CHARS_PER_S


def rating_for(correct: bool, hinted: bool, elapsed_s: float, fast_s: float) -> Rating:
    if not correct:
        return Rating.Again
    if hinted:
        return Rating.Hard
    return Rating.Easy if elapsed_s <= fast_s else Rating.Good


def review(
    card: CardState | None,
    question_id: str,
    rating: Rating,
    now: datetime,
    retention: float = DEFAULT_RETENTION,
) -> CardState:
    """The card after this review (a new card when the question is answered the first time),
    parked if this wrong answer makes it a leech."""
    before = Card(card_id=CARD_ID, due=now) if card is None else _fsrs_card(card)
    after, _log = scheduler(retention).review_card(before, rating, now)
    lapses = (card.lapses if card else 0) + (rating == Rating.Again)
    parked = card.parked_until if card and rating == Rating.Again else None
    if lapses >= LEECH_LAPSES:
        lapses, parked = 0, now + PARK
    return CardState(
        question_id,
        int(after.state),
        after.step,
        after.stability,
        after.difficulty,
        after.due,
        after.last_review,
        int(rating),
        lapses,
        parked,
    )


def retrievability(card: CardState, now: datetime) -> float:
    return retrievabilities([card], now)[0]


def retrievabilities(cards: Iterable[CardState], now: datetime) -> list[float]:
    """The retrievability of each card, in order: /quiz asks it of every card of the learner."""
    # fsrs computes it from the card's ``stability`` and ``last_review`` alone, which a CardState
    # has under the same names: building an fsrs Card first would cost five times as much
    # (tests/test_review.py checks that the two agree).
    of = scheduler().get_card_retrievability
    return [float(of(card, now)) for card in cards]


def _fsrs_card(card: CardState) -> Card:
    return Card(
        card_id=CARD_ID,
        state=State(card.state),
        step=card.step,
        stability=card.stability,
        difficulty=card.difficulty,
        due=card.due,
        last_review=card.last_review,
    )


def is_mastered(card: CardState, now: datetime) -> bool:
    # Right after a wrong answer FSRS still reports high retrievability (the review just
    # happened), but nobody would call a question they just failed "mastered".
    return card.last_rating != Rating.Again and retrievability(card, now) >= MASTERY_RETRIEVABILITY


def mastery(
    questions: Iterable[Question], cards: Mapping[str, CardState], now: datetime
) -> dict[str, tuple[int, int]]:
    """Per topic: (questions mastered now, questions in the topic)."""
    result: dict[str, tuple[int, int]] = {}
    for q in questions:
        done, total = result.get(q.topic, (0, 0))
        card = cards.get(q.id)
        result[q.topic] = (done + (card is not None and is_mastered(card, now)), total + 1)
    return result
