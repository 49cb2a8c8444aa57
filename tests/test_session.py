"""The pure quiz rules: question choice, grading, points and feedback."""

from datetime import UTC, datetime, timedelta

import pytest

from bot.tutor.content import Bank
from bot.tutor.replies import Action, Kind
from bot.tutor.session import (
    InvalidAnswer,
    PastAttempt,
    Reason,
    ask,
    choose_next,
    feedback,
    grade,
    hint,
    points_for,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_new_learner_gets_easiest_first_then_file_order(bank: Bank):
    pick = choose_next(bank, [])
    assert pick is not None
    assert (pick.question.id, pick.reason) == ("easy-choice", Reason.NEW)
    history = [PastAttempt("easy-choice", True, at(1))]
    assert choose_next(bank, history).question.id == "text-answer"  # difficulty 1 before 2


def test_unanswered_before_missed_before_review(bank: Bank):
    history = [
        PastAttempt("easy-choice", False, at(1)),
        PastAttempt("text-answer", True, at(2)),
        PastAttempt("shape-answer", True, at(3)),
    ]
    assert choose_next(bank, history).question.id == "hard-choice"
    history.append(PastAttempt("hard-choice", True, at(4)))
    pick = choose_next(bank, history)
    assert (pick.question.id, pick.reason) == ("easy-choice", Reason.RETRY)
    history.append(PastAttempt("easy-choice", True, at(5)))
    # All correct now: the one answered longest ago comes back for review.
    pick = choose_next(bank, history)
    assert (pick.question.id, pick.reason) == ("text-answer", Reason.REVIEW)


def test_latest_attempt_decides_missed(bank: Bank):
    history = [PastAttempt("easy-choice", True, at(1)), PastAttempt("easy-choice", False, at(2))]
    history += [PastAttempt(q, True, at(3)) for q in ("text-answer", "shape-answer", "hard-choice")]
    assert choose_next(bank, history).reason is Reason.RETRY


def test_topic_filter_and_avoid(bank: Bank):
    assert choose_next(bank, [], topic="shapes").question.id == "text-answer"
    assert choose_next(bank, [], topic="shapes", avoid={"text-answer"}).question.id == (
        "shape-answer"
    )
    # Avoiding the only candidate still returns it rather than nothing.
    only = choose_next(bank, [PastAttempt("shape-answer", True, at(1))], "shapes", {"text-answer"})
    assert only.question.id == "text-answer"
    assert choose_next(bank, [], topic="nope") is None


def test_grading_choices(bank: Bank):
    q = bank.get("easy-choice")
    right = grade(q, "2")
    assert (right.correct, right.answer, right.choice_index, right.points) == (
        True,
        "Right one",
        1,
        10,
    )
    wrong = grade(q, "1")
    assert (wrong.correct, wrong.points) == (False, 0)
    for bad in ("4", "0", "right one", "  "):
        with pytest.raises(InvalidAnswer):
            grade(q, bad)


def test_grading_short_answers(bank: Bank):
    q = bank.get("shape-answer")
    assert grade(q, "none, 5").correct
    assert grade(q, "[None,5]").points == 20
    assert not grade(q, "(None, 10)").correct
    assert grade(q, "(None, 10)").answer == "(None, 10)"  # the learner's words are kept


def test_points_scale_with_difficulty_and_halve_with_a_hint(bank: Bank):
    hard = bank.get("hard-choice")
    assert points_for(hard, correct=True, hinted=False) == 30
    assert points_for(hard, correct=True, hinted=True) == 15
    assert points_for(hard, correct=False, hinted=False) == 0
    assert grade(hard, "1", hinted=True).points == 15


def test_question_reply_carries_what_a_frontend_needs(bank: Bank):
    reply = ask(choose_next(bank, [], topic="shapes", avoid={"text-answer"}))
    assert reply.kind is Kind.QUESTION
    assert reply.question_id == "shape-answer"
    assert reply.code == 'print("hello")\n'
    assert reply.choices == ()
    mc = ask(choose_next(bank, []))
    assert mc.choices == ("Wrong one", "Right one", "Another wrong one")


def test_feedback_names_the_answer_and_explains(bank: Bank):
    q = bank.get("easy-choice")
    bad = feedback(q, grade(q, "1"), hinted=False)
    assert bad.correct is False
    assert "The answer is: Right one" in bad.text
    assert "Not this one, because it is wrong." in bad.text
    assert "The right one is right." in bad.text
    assert bad.actions == (Action.NEXT,)
    code_q = bank.get("shape-answer")
    good = feedback(code_q, grade(code_q, "(None,5)", hinted=True), hinted=True)
    assert good.correct is True
    assert "+10 points (with a hint)" in good.text
    assert Action.RUN in good.actions


def test_hint_reply(bank: Bank):
    q = bank.get("easy-choice")
    first = hint(q, already=False)
    assert "Pick the right one." in first.text and "50%" in first.text
    assert first.ephemeral
    assert "50%" not in hint(q, already=True).text
