"""The rules that make a grade measure knowledge (issue 16), in the pure core: choice order,
revealing runs, retries, leeches, the daily limit of new questions, desired retention."""

import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from fsrs import Rating

from bot.tutor import review, session
from bot.tutor.content import Bank, Question, parse_text
from bot.tutor.review import LEECH_LAPSES, PARK, CardState
from bot.tutor.service import parse_retention

T0 = datetime(2026, 1, 1, tzinfo=UTC)

BANK_YAML = """\
questions:
  - id: pinned
    topic: t
    difficulty: 2
    kind: multiple_choice
    prompt: Which?
    choices:
      - text: Alpha
        correct: true
        feedback: Alpha is it.
      - text: Beta
      - text: Gamma
      - text: All of the above
        pinned: true
    hint: The first letter.
    explanation: Alpha comes first.
  - id: coded
    topic: t
    difficulty: 1
    kind: short_answer
    prompt: Output shape?
    code: |
      import keras
      model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(5)])  # five units
      model.summary()
    accept: ["(None, 5)"]
    hint: Count the units.
    explanation: Five units.
  - id: other
    topic: u
    difficulty: 1
    kind: short_answer
    prompt: A word?
    accept: ["word"]
    hint: It is a word.
    explanation: Word.
"""


def get(bank: Bank, qid: str) -> Question:
    question = bank.get(qid)
    assert question is not None
    return question


@pytest.fixture
def bank() -> Bank:
    questions, problems, locations = parse_text(BANK_YAML, "bank.yaml")
    assert problems == []
    return Bank(tuple(questions), locations)


# --- choices shuffled per asking, pinned ones in place ------------------------------------------


def test_shuffle_keeps_pinned_choices_in_place_and_varies_the_rest(bank: Bank):
    q = get(bank, "pinned")
    rng = random.Random(7)
    orders = [session.shuffle(q, rng) for _ in range(300)]
    assert all(sorted(o) == [0, 1, 2, 3] and o[3] == 3 for o in orders)
    # Every order of the three free choices turns up, and the right one is not always first.
    assert len(set(orders)) == 6
    first = Counter(o[0] for o in orders)
    assert min(first.values()) > 60  # about 100 each
    assert session.shuffle(get(bank, "coded"), rng) == ()


def test_a_number_is_graded_in_the_order_shown(bank: Bank):
    q = get(bank, "pinned")
    order = (2, 0, 1, 3)  # Gamma, Alpha, Beta, All of the above
    assert session.shown_choices(q, order) == ("Gamma", "Alpha", "Beta", "All of the above")
    right = session.grade(q, "2", order)
    assert (right.correct, right.answer, right.choice_index) == (True, "Alpha", 0)
    assert session.grade(q, "1", order).answer == "Gamma"
    assert not session.grade(q, "1", order).correct
    assert session.grade(q, "1").correct  # file order
    assert session.valid_order(q, order) and session.valid_order(q, ())
    assert not session.valid_order(q, (0, 1, 2))  # the question has four choices now


def test_feedback_names_choices_by_text_never_by_number(bank: Bank):
    q = get(bank, "pinned")
    order = (1, 2, 0, 3)
    wrong = session.grade(q, "1", order)  # Beta
    card = review.review(None, q.id, Rating.Again, T0)
    reply = session.feedback(q, session.Outcome(wrong, False, False, False, 0, card, False))
    assert "The answer is: Alpha\n(You answered: Beta)" in reply.text
    assert not any(ch.isdigit() for ch in reply.text.split("Next review")[0])


def test_question_reply_carries_its_order(bank: Bank):
    pick = session.Pick(get(bank, "pinned"), session.Reason.NEW)
    reply = session.ask(pick, order=(2, 1, 0, 3))
    assert reply.choices == ("Gamma", "Beta", "Alpha", "All of the above")
    assert reply.order == (2, 1, 0, 3)


# --- running the question's own code shows the answer ------------------------------------------


QUESTION_RUN = (
    "import keras\n"
    "model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(5)])  # five units\n"
    "model.summary()\n"
)


@pytest.mark.parametrize(
    ("code", "reveals"),
    [
        (QUESTION_RUN, True),
        # spacing, blank lines, comments and extra lines do not hide it
        (
            "import   keras\n\n# mine\n"
            "model = keras.Sequential([keras.Input((3,)),  keras.layers.Dense(5)])\n"
            "print(1)\n  model.summary()  # see\nprint(model.output_shape)\n",
            True,
        ),
        # other code: a changed line, or a part only
        (QUESTION_RUN.replace("Dense(5)", "Dense(6)"), False),
        ("import keras\nmodel.summary()\n", False),
        ("print('hello')\n", False),
        ("def broken(:\n", False),
    ],
)
def test_which_runs_reveal_the_answer(bank: Bank, code: str, reveals: bool):
    question_code = get(bank, "coded").code or ""
    assert session.runs_question_code(code, question_code) is reveals


def test_revealed_answers_grade_as_hinted(bank: Bank):
    q = get(bank, "coded")
    note = session.reveal_note(q)
    assert "running it shows the answer" in note.text.lower()
    assert "count as hinted" in note.text
    # Graded as a hint: half the XP and FSRS Hard.
    assert session.xp_for(q, True, True, None, T0) == 5
    assert review.rating_for(True, True, 1.0, 100.0) == Rating.Hard


# --- retries after seeing the answer ------------------------------------------------------------


def test_retries_earn_no_xp_until_a_real_interval(bank: Bank):
    q = get(bank, "pinned")
    wrong = review.review(None, q.id, Rating.Again, T0)  # feedback showed the answer
    for minutes in (1, 10, 60, 23 * 60):
        now = T0 + timedelta(minutes=minutes)
        assert review.is_retry(wrong, now)
        assert session.xp_for(q, True, False, wrong, now) == 0
    day = T0 + timedelta(days=1)
    assert not review.is_retry(wrong, day)
    assert session.xp_for(q, True, False, wrong, day) == 20
    assert not review.is_retry(None, T0)  # the first answer is never a retry


# --- leeches ------------------------------------------------------------------------------------


def fail(card: CardState | None, times: int, start: datetime) -> tuple[CardState, datetime]:
    now = start
    for _ in range(times):
        card = review.review(card, "pinned", Rating.Again, now)
        now += timedelta(minutes=2)
    assert card is not None
    return card, now


def test_a_question_failed_leech_lapses_times_is_parked_then_comes_back(bank: Bank):
    card, now = fail(None, LEECH_LAPSES - 1, T0)
    assert card.parked_until is None and card.lapses == LEECH_LAPSES - 1
    card, after = fail(card, 1, now)
    assert review.became_leech(card) and review.is_leech(card)
    assert card.parked_until == now + PARK and card.lapses == 0
    # Parked: never chosen, even when due and nothing else is left.
    solo = Bank((get(bank, "pinned"),))
    assert session.choose_next(solo, {"pinned": card}, after) is None
    assert session.choose_next(solo, {"pinned": card}, now + PARK) is not None
    # A wrong answer after the park keeps it listed, but does not park it again at once.
    again = review.review(card, "pinned", Rating.Again, now + PARK)
    assert review.is_leech(again) and not review.became_leech(again)
    # A right answer ends the leech.
    right = review.review(again, "pinned", Rating.Good, now + PARK + timedelta(minutes=5))
    assert not review.is_leech(right)


def test_leech_feedback_gives_hint_explanation_and_a_runnable_example(bank: Bank):
    q = get(bank, "pinned")
    card, _ = fail(None, LEECH_LAPSES, T0)
    wrong = session.grade(q, "2")
    outcome = session.Outcome(wrong, False, False, False, 0, card, True)
    example = session.related_example(bank, q)
    assert example is not None and example.id == "coded"  # the topic's snippet
    reply = session.feedback(q, outcome, example)
    assert "The hint again: The first letter." in reply.text
    assert "Alpha comes first." in reply.text
    assert reply.code == example.code and reply.run_id == "coded"
    assert session.Action.RUN in reply.actions
    assert session.related_example(bank, get(bank, "other")) is None


# --- the daily limit of new questions -----------------------------------------------------------


def test_no_new_questions_past_the_daily_limit(bank: Bank):
    seen = {"pinned": review.review(None, "pinned", Rating.Good, T0)}
    later = T0 + timedelta(minutes=1)
    first = session.choose_next(bank, seen, later)
    assert first is not None and first.reason is session.Reason.NEW
    held = session.choose_next(bank, seen, later, new_allowed=False)
    assert held is not None
    assert (held.question.id, held.reason) == ("pinned", session.Reason.PRACTICE)
    assert session.choose_next(bank, {}, later, new_allowed=False) is None


# --- desired retention --------------------------------------------------------------------------


def test_higher_desired_retention_brings_reviews_sooner():
    card = review.review(None, "q", Rating.Good, T0)
    card = review.review(card, "q", Rating.Good, card.due)
    low = review.review(card, "q", Rating.Good, card.due, retention=0.8)
    high = review.review(card, "q", Rating.Good, card.due, retention=0.95)
    assert high.due < low.due


@pytest.mark.parametrize(
    ("typed", "value"),
    [
        ("0.9", 0.9),
        ("85%", 0.85),
        ("85", 0.85),
        (" 0,95 ", 0.95),
        ("0.97", 0.97),
        ("0.5", None),
        ("99", None),
        ("nan", None),
        ("inf", None),
        ("much", None),
    ],
)
def test_retention_as_typed(typed: str, value: float | None):
    assert parse_retention(typed) == value
