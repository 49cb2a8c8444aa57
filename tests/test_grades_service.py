"""The grading rules of issue 16 through the tutor and the real store (SQLite, and the async
engine): what is stored with an open question and an answer, across restarts."""

from __future__ import annotations

import csv
import io
import random
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from fsrs import Rating

from bot.console import render
from bot.tutor.content import Bank, load_bank
from bot.tutor.moderator import Actor, Authority, Moderator
from bot.tutor.replies import Kind, Reply
from bot.tutor.review import LEECH_LAPSES
from bot.tutor.service import Tutor, Window
from db import SqlStore, open_store
from tests.helpers import GRADES_BANK, Clock, learner, select

MOD = Actor("test", "g1", "mod-1", "Mo", Authority.MANAGER)
CODE = "shape = (None, 5)\nprint(shape)\n"


@pytest.fixture
def grades() -> Bank:
    return load_bank(GRADES_BANK)


def right_number(reply: Reply, text: str) -> str:
    return str(reply.choices.index(text) + 1)




async def test_choice_order_is_stored_with_the_question_and_survives_a_restart(
    grades: Bank, db_url: str, clock: Clock
):
    ada = learner()
    store = await open_store(db_url)
    orders = set()
    for seed in range(12):  # each asking draws its own order
        asked = await Tutor(grades, store, now=clock, rng=random.Random(seed)).quiz(ada, "basics")
        orders.add(asked.choices)
        assert asked.choices[3] == "All of the above"  # pinned
    assert len(orders) > 1
    await store.close()
    stored = await select(db_url, "select choice_order from open_questions")
    assert stored == [(",".join(map(str, asked.order)),)]

    store = await open_store(db_url)  # a restart: the number means what the learner saw
    tutor = Tutor(grades, store, now=clock, rng=random.Random(99))
    reply = await tutor.answer(ada, right_number(asked, "Alpha"))
    assert reply.correct and "+20 XP" in reply.text
    await store.close()
    assert await select(db_url, "select answer, correct from attempts") == [("Alpha", 1)]


async def test_a_click_is_graded_in_the_order_of_its_own_message(grades: Bank, store, clock):
    """An old message's button (another asking, another order) still grades the choice shown
    on it; one with an order that no longer fits the question is refused."""
    ada = learner()
    tutor = Tutor(grades, store, now=clock, rng=random.Random(1))
    old = await tutor.quiz(ada, "basics")
    await tutor.skip(ada, "basics")
    new = await tutor.quiz(ada, "basics")
    assert new.question_id == old.question_id == "pinned-choice"
    seed = 2
    while new.order == old.order:  # make sure the two messages differ
        new = await Tutor(grades, store, now=clock, rng=random.Random(seed)).quiz(ada, "basics")
        seed += 1
    wrong_by_new_order = right_number(old, "Alpha")
    clicked = await tutor.answer(ada, wrong_by_new_order, "pinned-choice", order=old.order)
    assert clicked.correct, "graded as the old message showed its choices"
    await tutor.quiz(ada, "basics")
    stale = await tutor.answer(ada, "1", "pinned-choice", order=(0, 1, 2))
    assert stale.kind is Kind.ERROR and "changed" in stale.text


async def test_running_the_open_questions_code_counts_as_a_hint_through_skip_and_restart(
    grades: Bank, db_url: str, clock: Clock
):
    ada = learner()
    store = await open_store(db_url)
    tutor = Tutor(grades, store, now=clock)
    await tutor.quiz(ada, "shapes")
    assert (await tutor.quiz(ada, "shapes")).question_id == "count"  # the other one, then back
    assert await tutor.reveal(ada, CODE) is None  # not the open question's code
    await tutor.skip(ada, "shapes")
    pasted = "# trying it\n" + CODE.replace("= ", "=  ") + "print(1)\n"
    note = await tutor.reveal(ada, pasted)
    assert note is not None and "count as hinted" in note.text
    lid = await store.learner_id(ada)
    opened = await store.open_question(lid)
    assert opened is not None and not opened.hinted  # said, not yet seen
    await tutor.ran(ada, pasted)  # the output was shown
    await tutor.skip(ada, "shapes")
    await store.close()

    store = await open_store(db_url)
    tutor = Tutor(grades, store, now=clock)
    back = await tutor.quiz(ada, "shapes")
    assert back.question_id == "printed-shape" and "You saw the hint" in back.text
    reply = await tutor.answer(ada, "None, 5")
    assert "+5 XP (ran its code first)" in reply.text
    assert (await store.cards(lid))["printed-shape"].last_rating == Rating.Hard
    await store.close()
    assert await select(db_url, "select hinted, revealed, points from attempts") == [(1, 1, 5)]
    assert await select(db_url, "select * from hints") == []  # spent


async def test_retries_count_for_the_schedule_but_not_the_leaderboard(
    grades: Bank, store: SqlStore, clock: Clock
):
    ada = learner()
    tutor = Tutor(grades, store, now=clock)
    await tutor.quiz(ada, "shapes")
    await tutor.answer(ada, "(None, 6)")  # wrong: the feedback shows the answer
    clock.advance(minutes=2)
    again = await tutor.review(ada)
    assert again.question_id == "printed-shape"
    retry = await tutor.answer(ada, "(None, 5)")
    assert retry.correct and "no XP this time: you saw the answer" in retry.text
    clock.advance(days=3)
    later = await tutor.review(ada)
    assert later.question_id == "printed-shape"
    assert "+10 XP" in (await tutor.answer(ada, "(None, 5)")).text
    lid = await store.learner_id(ada)
    assert [(r.correct, r.points) for r in await store.attempts(lid)] == [
        (False, 0),
        (True, 0),
        (True, 10),
    ]
    board = await tutor.leaderboard(ada)
    assert "10 XP" in render(board)
    report = render(await Moderator(grades, store.moderation, now=clock).learner(MOD, "ada"))
    assert "retries (the answer seen less than a day before, no XP): 1" in report


async def test_almost_right_shapes_and_unreadable_counts(grades: Bank, store, clock):
    ada = learner()
    tutor = Tutor(grades, store, now=clock)
    await tutor.quiz(ada, "shapes")
    almost = await tutor.answer(ada, "5 x 1")
    assert almost.correct is False
    assert "Almost: that is one example's shape" not in almost.text  # 5x1 is not close
    assert (await tutor.quiz(ada, "shapes")).question_id == "count"
    refused = await tutor.answer(ada, "½")
    assert refused.kind is Kind.ERROR and "whole number" in refused.text
    assert (await tutor.answer(ada, "3,843")).correct  # the refusal recorded nothing


async def test_a_leech_is_parked_listed_and_explained(grades: Bank, store: SqlStore, clock):
    ada = learner()
    tutor = Tutor(grades, store, now=clock)
    for _ in range(LEECH_LAPSES):
        asked = await tutor.quiz(ada, "shapes")
        while asked.question_id != "printed-shape":
            asked = await tutor.skip(ada, "shapes")
        reply = await tutor.answer(ada, "(5,)")
        clock.advance(days=1)
    assert "keeps tripping you up" in reply.text and "The hint again: Read the tuple." in reply.text
    assert reply.code == CODE and reply.run_id == "printed-shape"
    assert "Next review of this question: in 3 days." in reply.text  # the park, not FSRS
    progress = render(await tutor.progress(ada, picture=False))
    assert "Questions you keep missing" in progress and "printed-shape (shapes)" in progress
    # Parked: /quiz asks everything else (here only "count") until the park ends.
    for _ in range(3):
        assert (await tutor.quiz(ada, "shapes")).question_id == "count"
    clock.advance(days=3)
    assert (await tutor.review(ada, "shapes")).question_id == "printed-shape"
    await tutor.answer(ada, "(None, 5)")
    assert "keep missing" not in render(await tutor.progress(ada, picture=False))


async def test_settings_desired_retention_and_daily_new_limit(
    grades: Bank, store: SqlStore, clock: Clock
):
    ada = learner()
    tutor = Tutor(grades, store, now=clock)
    shown = await tutor.settings(ada)
    assert "Desired retention: 90%" in shown.text and "at most 20" in shown.text
    assert (await tutor.set_learning(ada, retention="0.5")).kind is Kind.ERROR
    assert (await tutor.set_learning(ada, new_per_day="-1")).kind is Kind.ERROR
    saved = await tutor.set_learning(ada, retention="95%")
    assert "Desired retention: 95%" in saved.text
    saved = await tutor.set_learning(ada, new_per_day="1")
    assert "at most 1" in saved.text and "95%" in saved.text
    first = await tutor.quiz(ada)
    await tutor.answer(ada, "1" if first.choices else "x")
    clock.advance(seconds=30)  # nothing due yet: a new question would come next
    held = await tutor.quiz(ada)
    assert held.question_id == first.question_id
    assert "You have had your 1 new questions for today" in held.text
    clock.advance(days=1)  # a new day: new questions again
    fresh = await tutor.quiz(ada, "shapes")
    assert fresh.question_id == "printed-shape" and "for today" not in fresh.text


async def test_desired_retention_changes_the_schedule(grades: Bank, db_url: str, clock: Clock):
    dues = []
    for retention in ("0.8", "0.95"):
        store = await open_store(db_url)
        tutor = Tutor(grades, store, now=Clock(), shuffle=False)
        ada = learner(f"ada-{retention}")  # one learner per retention, on their own clock
        await tutor.set_learning(ada, retention=retention)
        for _ in range(3):
            await tutor.quiz(ada, "basics")
            await tutor.answer(ada, "1")
            card = (await store.cards(await store.learner_id(ada)))["pinned-choice"]
            tutor.now.advance(seconds=(card.due - tutor.now.now).total_seconds())  # type: ignore[attr-defined]
        dues.append(card.due)
        await store.close()
    assert dues[1] < dues[0]


async def test_moderators_see_revealed_answers_flagged(grades: Bank, store: SqlStore, clock):
    ada = learner()
    tutor = Tutor(grades, store, now=clock)
    await tutor.quiz(ada, "shapes")
    if (await tutor.reveal(ada, CODE)) is None:  # "count" was asked: take the other
        await tutor.skip(ada, "shapes")
        assert await tutor.reveal(ada, CODE) is not None
    await tutor.ran(ada, CODE)
    await tutor.answer(ada, "(None, 5)")
    report = render(await Moderator(grades, store.moderation, now=clock).learner(MOD, "ada"))
    assert "Ran the question's code before answering: 1" in report
    assert "Hints used: 0" in report
    assert "1 right answer followed running the question's own code" in report
    export = await Moderator(grades, store.moderation, now=clock).export(MOD, Window.ALL)
    assert export.attachment is not None
    with zipfile.ZipFile(io.BytesIO(export.attachment.data)) as archive:
        (name,) = [n for n in archive.namelist() if n.startswith("attempts-")]
        text = archive.read(name).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["question_id"], r["hinted"], r["revealed"], r["retry"]) for r in rows] == [
        ("printed-shape", "1", "1", "0")
    ]


def test_the_grades_bank_is_valid(tmp_path: Path):
    assert len(load_bank(GRADES_BANK)) == 3


async def test_the_daily_count_of_new_questions_is_kept_without_recounting(
    grades: Bank, store: SqlStore, clock: Clock
):
    """Counted once, then kept up to date by each first answer (the same as a recount)."""
    ada = learner()
    tutor = Tutor(grades, store, now=clock, shuffle=False)
    lid = await store.learner_id(ada)
    since = clock() - timedelta(hours=1)
    assert await store.new_questions_since(lid, since) == 0
    for expected, answer in ((1, "1"), (2, "(None, 5)"), (3, "3843")):
        await tutor.quiz(ada)
        await tutor.answer(ada, answer)
        assert await store.new_questions_since(lid, since) == expected
    clock.advance(days=30)
    assert (await tutor.review(ada)).kind is Kind.QUESTION
    assert (await tutor.answer(ada, "1")).kind is Kind.FEEDBACK  # seen before: not new
    assert await store.new_questions_since(lid, since) == 3
    recount = SqlStore(store.url, store.database)
    assert await recount.new_questions_since(lid, since) == 3
    assert await recount.new_questions_since(lid, clock()) == 0


async def test_when_all_that_is_left_is_parked_the_learner_is_told_why(
    grades: Bank, store: SqlStore, clock: Clock
):
    ada = learner()
    tutor = Tutor(grades, store, now=clock, shuffle=False)
    for _ in range(LEECH_LAPSES):
        await tutor.quiz(ada, "basics")
        await tutor.answer(ada, "2")  # Beta: wrong
        clock.advance(days=1)
    refused = await tutor.quiz(ada, "basics")
    assert refused.kind is Kind.ERROR and "set aside until" in refused.text
    await tutor.set_learning(ada, new_per_day="0")
    none_new = await tutor.quiz(ada, clear=True)  # any topic ("basics" stays in force)
    assert none_new.kind is Kind.ERROR and "Come back tomorrow" in none_new.text
