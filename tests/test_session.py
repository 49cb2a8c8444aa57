"""The pure quiz rules: question choice, grading, XP and feedback."""

from datetime import UTC, datetime, timedelta

import pytest
from fsrs import Rating

from bot.tutor.content import Bank, Question
from bot.tutor.replies import Action, Kind
from bot.tutor.review import CardState, review
from bot.tutor.session import (
    InvalidAnswer,
    Outcome,
    Pick,
    Reason,
    ask,
    choose_next,
    feedback,
    grade,
    hint,
    target_difficulty,
    xp_for,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def pick_of(
    bank: Bank,
    cards: dict[str, CardState],
    now: datetime,
    topic: str | None = None,
    avoid: frozenset[str] | set[str] = frozenset(),
    due_only: bool = False,
) -> Pick:
    """``choose_next`` where the test expects a question."""
    pick = choose_next(bank, cards, now, topic=topic, avoid=avoid, due_only=due_only)
    assert pick is not None
    return pick


def question_of(bank: Bank, qid: str) -> Question:
    question = bank.get(qid)
    assert question is not None, qid
    return question


def answered(*history: tuple[str, Rating, datetime]) -> dict[str, CardState]:
    cards: dict[str, CardState] = {}
    for qid, rating, when in history:
        cards[qid] = review(cards.get(qid), qid, rating, when)
    return cards


def test_new_learner_gets_easiest_of_the_first_topic(bank: Bank):
    pick = pick_of(bank, {}, T0)
    assert pick is not None
    assert (pick.question.id, pick.reason) == ("easy-choice", Reason.NEW)


def test_new_questions_come_from_the_weakest_topic(bank: Bank):
    # "basics" has one of its two questions mastered; "shapes" none: shapes is weaker.
    cards = answered(("easy-choice", Rating.Good, at(0)))
    assert pick_of(bank, cards, at(1)).question.id == "text-answer"


def test_due_reviews_come_before_new_questions(bank: Bank):
    cards = answered(("easy-choice", Rating.Again, at(0)))  # learning step: due in 1 minute
    assert pick_of(bank, cards, at(0.5)).reason is Reason.NEW
    pick = pick_of(bank, cards, at(1))
    assert (pick.question.id, pick.reason) == ("easy-choice", Reason.RETRY)
    cards = answered(("easy-choice", Rating.Good, at(0)), ("easy-choice", Rating.Good, at(10)))
    review_day = cards["easy-choice"].due
    assert pick_of(bank, cards, review_day).reason is Reason.REVIEW


def test_the_longest_overdue_review_comes_first(bank: Bank):
    cards = answered(("easy-choice", Rating.Again, at(0)), ("text-answer", Rating.Again, at(3)))
    assert pick_of(bank, cards, at(60)).question.id == "easy-choice"
    assert pick_of(bank, cards, at(60), avoid={"easy-choice"}).question.id == "text-answer"


def test_due_only_stops_after_reviews(bank: Bank):
    cards = answered(("easy-choice", Rating.Good, at(0)))
    assert choose_next(bank, cards, at(1), due_only=True) is None
    assert pick_of(bank, cards, at(11), due_only=True).question.id == "easy-choice"


def test_when_everything_is_seen_the_least_remembered_is_practised(bank: Bank):
    history = [(q.id, Rating.Good, at(i)) for i, q in enumerate(bank.questions)]
    cards = answered(*history, ("hard-choice", Rating.Easy, at(20)))
    cards = {qid: c for qid, c in cards.items()}
    now = at(21)  # nothing due: learning steps of 10 minutes passed for all but hard-choice
    due = [q for q, c in cards.items() if c.is_due(now)]
    assert due == ["easy-choice", "shape-answer", "text-answer"]
    later = answered(*[(q.id, Rating.Easy, at(0)) for q in bank.questions])
    pick = pick_of(bank, later, at(1))
    assert pick.reason is Reason.PRACTICE


def test_difficulty_follows_how_the_learner_is_doing(bank: Bank):
    assert target_difficulty({}) == 1
    good = answered(*[(f"q{i}", Rating.Good, at(i)) for i in range(10)])
    assert target_difficulty(good) == 3
    mixed = answered(*[(f"q{i}", Rating.Good if i % 3 else Rating.Again, at(i)) for i in range(9)])
    assert target_difficulty(mixed) == 2  # 6 of 9 right
    # A good learner gets the hard question before the easy one of the same topic.
    cards = {**good, **answered(("text-answer", Rating.Good, at(30)))}
    assert pick_of(bank, cards, at(31), topic="basics").question.id == "hard-choice"


def test_topic_filter_and_avoid(bank: Bank):
    assert pick_of(bank, {}, T0, topic="shapes").question.id == "text-answer"
    pick = pick_of(bank, {}, T0, topic="shapes", avoid={"text-answer"})
    assert pick.question.id == "shape-answer"
    assert choose_next(bank, {}, T0, topic="nope") is None


def test_grading_choices(bank: Bank):
    q = question_of(bank, "easy-choice")
    right = grade(q, "2")
    assert (right.correct, right.answer, right.choice_index) == (True, "Right one", 1)
    assert grade(q, "1").correct is False
    for bad in ("4", "0", "right one", "  "):
        with pytest.raises(InvalidAnswer):
            grade(q, bad)


def test_grading_short_answers(bank: Bank):
    q = question_of(bank, "shape-answer")
    assert grade(q, "none, 5").correct
    assert grade(q, "[None,5]").correct
    assert not grade(q, "(None, 10)").correct
    assert grade(q, "(None, 10)").answer == "(None, 10)"  # the learner's words are kept
    # Bytes that were not UTF-8 (lone surrogates): refused, never stored.
    with pytest.raises(InvalidAnswer, match="not valid UTF-8"):
        grade(q, "(None, 5)\udcff")


def test_xp_by_difficulty_halved_with_a_hint_and_none_for_early_repeats(bank: Bank):
    hard = question_of(bank, "hard-choice")
    assert xp_for(hard, correct=True, hinted=False, card=None, now=T0) == 30
    assert xp_for(hard, correct=True, hinted=True, card=None, now=T0) == 15
    assert xp_for(hard, correct=False, hinted=False, card=None, now=T0) == 0
    card = answered(("hard-choice", Rating.Good, T0))["hard-choice"]  # due in 10 minutes
    assert xp_for(hard, True, False, card, at(5)) == 0  # farming: nothing
    # Due, but a learning step ten minutes after the answer was shown: a retry, no XP.
    assert xp_for(hard, True, False, card, at(10)) == 0
    assert xp_for(hard, True, False, card, at(24 * 60)) == 30  # after a real interval


def test_question_reply_carries_what_a_frontend_needs(bank: Bank):
    reply = ask(pick_of(bank, {}, T0, topic="shapes", avoid={"text-answer"}))
    assert reply.kind is Kind.QUESTION
    assert reply.question_id == "shape-answer"
    assert reply.code == 'print("hello")\n'
    assert reply.choices == ()
    assert ask(pick_of(bank, {}, T0)).choices == ("Wrong one", "Right one", "Another wrong one")


def test_a_question_asked_again_after_its_hint_says_the_hint_still_counts(bank: Bank):
    pick = pick_of(bank, {}, T0)
    assert "hint" not in ask(pick).text
    again = ask(pick, hinted=True)
    assert "You saw the hint for this question: a correct answer earns 50% of the XP." in again.text
    assert again.choices == ask(pick).choices and again.actions == ask(pick).actions


def outcome(result, hinted=False, xp=0, card=None, retry=False, revealed=False, leech=False):
    return Outcome(result, hinted, revealed, retry, xp, card, leech)


def test_feedback_names_the_answer_explains_and_says_when_it_returns(bank: Bank):
    q = question_of(bank, "easy-choice")
    card = review(None, q.id, Rating.Again, T0)
    bad = feedback(q, outcome(grade(q, "1"), card=card))
    assert bad.correct is False
    assert "The answer is: Right one" in bad.text
    assert "Not this one, because it is wrong." in bad.text
    assert "The right one is right." in bad.text
    assert "Next review of this question: in 1 minute." in bad.text
    assert bad.actions == (Action.NEXT,)
    code_q = question_of(bank, "shape-answer")
    hard = review(None, code_q.id, Rating.Hard, T0)
    good = feedback(code_q, outcome(grade(code_q, "(None,5)"), True, 10, hard))
    assert "+10 XP (with a hint)" in good.text
    assert Action.RUN in good.actions
    early = feedback(code_q, outcome(grade(code_q, "(None,5)"), card=card))
    assert "no XP this time" in early.text


def test_hint_reply(bank: Bank):
    q = question_of(bank, "easy-choice")
    first = hint(q, already=False)
    assert "Pick the right one." in first.text and "50%" in first.text
    assert first.ephemeral
    assert "50%" not in hint(q, already=True).text


def picked(*args, **kwargs):
    pick = choose_next(*args, **kwargs)
    assert pick is not None
    return pick


def test_practice_picks_the_least_remembered_avoided_last_ties_in_file_order(bank: Bank):
    ids = [q.id for q in bank.questions]
    # All answered Easy at once: equal retrievability, so file order decides.
    same = answered(*[(qid, Rating.Easy, at(0)) for qid in ids])
    assert picked(bank, same, at(1)).question.id == ids[0]
    assert picked(bank, same, at(1), avoid={ids[0]}).question.id == ids[1]
    # The one answered a day earlier than the others is the likeliest forgotten (none is due).
    older = {**same, **answered((ids[-1], Rating.Easy, at(-60 * 24)))}
    pick = picked(bank, older, at(60 * 24 * 3))
    assert (pick.question.id, pick.reason) == (ids[-1], Reason.PRACTICE)
    assert picked(bank, older, at(60 * 24 * 3), avoid={ids[-1]}).question.id == ids[0]
