"""FSRS ratings, due dates and mastery."""

from datetime import UTC, datetime, timedelta

from fsrs import Rating

from bot.tutor.content import Bank
from bot.tutor.review import (
    FAST_BASE_S,
    fast_threshold_s,
    is_mastered,
    mastery,
    rating_for,
    retrievability,
    review,
)

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


def test_outcomes_map_to_ratings():
    assert rating_for(correct=False, hinted=False, elapsed_s=1, fast_s=10) is Rating.Again
    assert rating_for(correct=False, hinted=True, elapsed_s=1, fast_s=10) is Rating.Again
    assert rating_for(correct=True, hinted=True, elapsed_s=1, fast_s=10) is Rating.Hard
    assert rating_for(correct=True, hinted=False, elapsed_s=30, fast_s=10) is Rating.Good
    assert rating_for(correct=True, hinted=False, elapsed_s=10, fast_s=10) is Rating.Easy


def test_fast_threshold_allows_for_reading_time(bank: Bank):
    short, with_code = bank.get("hard-choice"), bank.get("shape-answer")
    assert short is not None and with_code is not None
    assert FAST_BASE_S < fast_threshold_s(short) < fast_threshold_s(with_code)


def test_better_ratings_schedule_later_reviews():
    dues = {
        r: review(review(None, "q", Rating.Good, T0), "q", r, T0 + timedelta(minutes=10)).due
        for r in (Rating.Again, Rating.Hard, Rating.Good, Rating.Easy)
    }
    assert dues[Rating.Again] < dues[Rating.Hard] < dues[Rating.Good] < dues[Rating.Easy]
    assert dues[Rating.Good] - T0 >= timedelta(days=1)


def test_retrievability_decays_and_mastery_needs_a_recent_success():
    card = review(review(None, "q", Rating.Good, T0), "q", Rating.Good, T0 + timedelta(minutes=10))
    assert retrievability(card, card.due) < retrievability(card, T0 + timedelta(minutes=11))
    assert is_mastered(card, T0 + timedelta(minutes=11))
    assert not is_mastered(card, card.due + timedelta(days=30))  # forgotten by then
    failed = review(card, "q", Rating.Again, T0 + timedelta(minutes=12))
    assert not is_mastered(failed, T0 + timedelta(minutes=13))


def test_mastery_per_topic(bank: Bank):
    cards = {"easy-choice": review(None, "easy-choice", Rating.Easy, T0)}
    assert mastery(bank.questions, cards, T0 + timedelta(minutes=1)) == {
        "basics": (1, 2),
        "shapes": (0, 2),
    }


def test_retrievability_of_a_stored_card_is_what_fsrs_says_of_the_full_card():
    """retrievability() hands fsrs the CardState itself (no fsrs Card built per card, per /quiz);
    it must agree with fsrs given the full Card, at every stage of a card's life."""
    from bot.tutor.review import _fsrs_card, scheduler

    card = None
    for step, rating in enumerate([Rating.Good, Rating.Again, Rating.Hard, Rating.Easy]):
        card = review(card, "q", rating, T0 + timedelta(days=step * 3))
        for later in (timedelta(0), timedelta(hours=5), timedelta(days=2), timedelta(days=40)):
            now = T0 + timedelta(days=step * 3) + later
            full = scheduler().get_card_retrievability(_fsrs_card(card), now)
            assert retrievability(card, now) == full
