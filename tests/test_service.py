"""The tutor through its public API, over the real SQLite store."""

import pytest
from fsrs import Rating

from bot.console import render
from bot.tutor.replies import Kind
from bot.tutor.service import MAX_ANSWER_CHARS, Tutor, Window
from db import open_store
from tests.helpers import learner, select


async def test_quiz_answer_records_one_attempt(tutor, store, clock):
    ada = learner()
    question = await tutor.quiz(ada)
    assert (question.kind, question.question_id) == (Kind.QUESTION, "easy-choice")
    clock.advance(seconds=12)
    reply = await tutor.answer(ada, "2")
    assert (reply.kind, reply.correct) == (Kind.FEEDBACK, True)
    [row] = await store.attempts(await store.learner_id(ada))
    assert (row.question_id, row.correct, row.hinted, row.points) == (
        "easy-choice",
        True,
        False,
        10,
    )


async def test_time_to_answer_is_measured_from_the_question(tutor, store, clock, db_url):
    ada = learner()
    await tutor.quiz(ada)
    clock.advance(seconds=7.5)
    await tutor.answer(ada, "1")
    rows = await select(db_url, "select time_to_answer_ms, answer from attempts")
    assert rows == [(7500, "Wrong one")]


async def test_invalid_answers_record_nothing(tutor, store):
    ada = learner()
    assert (await tutor.answer(ada, "1")).text.startswith("No question is open")
    await tutor.quiz(ada)
    for bad in ("7", "zero", "", "x" * (MAX_ANSWER_CHARS + 1)):
        reply = await tutor.answer(ada, bad)
        assert reply.kind is Kind.ERROR and reply.ephemeral, bad
    assert await store.attempts(await store.learner_id(ada)) == []
    # The question is still open after the bad tries.
    assert (await tutor.answer(ada, "2")).correct is True


async def test_a_hinted_answer_earns_half(tutor, store):
    ada = learner()
    await tutor.quiz(ada)
    assert (await tutor.hint(ada)).kind is Kind.HINT
    await tutor.hint(ada)  # asking twice costs nothing more
    reply = await tutor.answer(ada, "2")
    assert "+5 XP (with a hint)" in reply.text
    [row] = await store.attempts(await store.learner_id(ada))
    assert (row.hinted, row.points) == (True, 5)
    assert (await tutor.hint(ada)).kind is Kind.ERROR  # nothing open any more


async def _skip(tutor, who):
    return await tutor.skip(who, "basics")


async def _next(tutor, who):
    return await tutor.quiz(who, "basics")  # "Next question", Enter in the terminal


async def _other_topic(tutor, who):
    return await tutor.quiz(who, "shapes")


@pytest.mark.parametrize("leave", [_skip, _next, _other_topic])
@pytest.mark.parametrize("restart", [False, True], ids=["", "restart"])
async def test_a_hint_stays_with_the_question_until_it_is_answered(
    bank, db_url, clock, leave, restart
):
    """Hint laundering: /hint, leave the question (/skip, Next, another topic, a restart),
    get it again: the answer is still graded as hinted (half XP, FSRS Hard, hints used)."""
    ada = learner()
    store = await open_store(db_url)
    tutor = Tutor(bank, store, now=clock, shuffle=False)
    asked = await tutor.quiz(ada, "basics")
    assert asked.question_id == "easy-choice" and "You saw the hint" not in asked.text
    await tutor.hint(ada)
    assert (await leave(tutor, ada)).question_id != "easy-choice"
    if restart:
        await store.close()
        store = await open_store(db_url)
        tutor = Tutor(bank, store, now=clock, shuffle=False)
    await tutor.skip(ada, "shapes")  # and away once more: nothing of basics is open
    again = await tutor.quiz(ada, "basics")
    assert again.question_id == "easy-choice"
    assert "You saw the hint for this question: a correct answer earns 50% of the XP." in again.text
    assert "50%" not in (await tutor.hint(ada)).text  # the same hint, no second warning
    assert "+5 XP (with a hint)" in (await tutor.answer(ada, "2")).text
    lid = await store.learner_id(ada)
    assert [(r.question_id, r.hinted, r.points) for r in await store.attempts(lid)] == [
        ("easy-choice", True, 5)
    ]
    assert (await store.cards(lid))["easy-choice"].last_rating == Rating.Hard
    assert "hints used: 1" in (await tutor.progress(ada, picture=False)).text.lower()
    await store.close()


async def test_a_hint_on_a_review_stays_until_the_review_is_answered(tutor, clock, store):
    ada = learner()
    await tutor.quiz(ada, "basics")
    await tutor.answer(ada, "1")  # wrong: due again in a minute
    clock.advance(minutes=2)
    assert (await tutor.review(ada)).question_id == "easy-choice"
    await tutor.hint(ada)
    await tutor.skip(ada)
    again = await tutor.review(ada)
    assert again.question_id == "easy-choice" and "You saw the hint" in again.text
    # Minutes after the answer was shown: a retry, hinted, and no XP either way.
    assert "no XP this time: you saw the answer" in (await tutor.answer(ada, "2")).text
    # Answered: the hint is spent, and the next asking of it is a plain one.
    clock.advance(days=30)
    later = await tutor.review(ada)
    assert later.question_id == "easy-choice" and "You saw the hint" not in later.text
    assert "+10 XP" in (await tutor.answer(ada, "2")).text
    lid = await store.learner_id(ada)
    assert [(r.hinted, r.points) for r in await store.attempts(lid)] == [
        (False, 0),
        (True, 0),
        (False, 10),
    ]


async def test_skip_records_nothing_and_moves_on(tutor, store):
    ada = learner()
    assert (await tutor.skip(ada)).kind is Kind.ERROR
    first = await tutor.quiz(ada)
    second = await tutor.skip(ada)
    assert second.question_id != first.question_id
    assert await store.attempts(await store.learner_id(ada)) == []


async def test_answer_to_a_question_that_is_not_open_is_refused(tutor):
    ada = learner()
    await tutor.quiz(ada)
    stale = await tutor.answer(ada, "1", question_id="hard-choice")
    assert "no longer open" in stale.text
    assert (await tutor.answer(ada, "2", question_id="easy-choice")).correct
    again = await tutor.answer(ada, "2", question_id="easy-choice")
    assert again.kind is Kind.ERROR


async def test_open_question_and_hint_survive_a_restart(bank, db_url, clock):
    ada = learner()
    first = await open_store(db_url)
    await Tutor(bank, first, now=clock, shuffle=False).quiz(ada)
    await Tutor(bank, first, now=clock, shuffle=False).hint(ada)
    await first.close()

    second = await open_store(db_url)
    reply = await Tutor(bank, second, now=clock, shuffle=False).answer(
        ada, "2", question_id="easy-choice"
    )
    assert "+5 XP (with a hint)" in reply.text
    await second.close()


async def test_progress_and_leaderboard(tutor):
    ada, bob = learner("Ada"), learner("Bob")
    assert "No answers yet" in (await tutor.progress(ada)).text
    await tutor.quiz(ada, "shapes")
    await tutor.answer(ada, "global average pooling")
    await tutor.quiz(ada, "shapes")
    await tutor.answer(ada, "(None, 4)")
    await tutor.quiz(bob)
    await tutor.answer(bob, "2")
    text = render(await tutor.progress(ada))
    assert "XP: 10" in text
    assert "correct: 1 (50%)" in text
    assert "shapes █████░░░░░ 1/2" in text
    mine, table = (await tutor.leaderboard(ada, Window.WEEK)).blocks
    assert [line.plain for line in mine.lines()] == ["You: rank 1 of 2 · 10 XP"]
    board = [line.plain for line in table.lines()]
    # Equal XP, equal rank (more right answers only orders the rows).
    assert board == ["1. Ada · 10 XP · 1/2 correct", "1. Bob · 10 XP · 1/1 correct"]


async def test_unknown_topic_and_direct_messages(tutor):
    reply = await tutor.quiz(learner(), "cooking")
    assert reply.kind is Kind.ERROR and "basics" in reply.text
    dm = await tutor.leaderboard(learner(guild=""))
    assert dm.kind is Kind.ERROR and "server" in dm.text


async def test_question_removed_from_content_is_closed(bank, store, clock):
    from bot.tutor.content import Bank

    ada = learner()
    await Tutor(bank, store, now=clock, shuffle=False).quiz(ada)
    smaller = Bank(tuple(q for q in bank.questions if q.id != "easy-choice"))
    reply = await Tutor(smaller, store, now=clock, shuffle=False).answer(ada, "2")
    assert "removed" in reply.text
    assert await store.open_question(await store.learner_id(ada)) is None


async def test_reviews_come_back_when_due_and_early_repeats_earn_nothing(tutor, clock, store):
    ada = learner()
    await tutor.quiz(ada)
    assert (await tutor.answer(ada, "1")).correct is False  # wrong: due again in a minute
    nothing = await tutor.review(ada)
    assert nothing.text.startswith("Nothing to review right now. The next one is due in 1 minute")
    clock.advance(minutes=2)
    due = await tutor.review(ada)
    assert (due.question_id, due.title.split(" ·")[0]) == ("easy-choice", "Another try")
    reply = await tutor.answer(ada, "2")
    assert "no XP this time: you saw the answer less than a day ago" in reply.text
    # New questions come from the least mastered topic (ties: file order of topics).
    for qid, answer in (
        ("text-answer", "global average pooling"),
        ("hard-choice", "1"),
        ("shape-answer", "(None,5)"),
    ):
        asked = await tutor.quiz(ada)
        assert asked.question_id == qid
        await tutor.answer(ada, answer)
    # Everything seen, nothing due: an early repeat is practice, right but worth no XP.
    practice = await tutor.quiz(ada)
    assert practice.title.startswith("Practice")
    question = tutor.bank.get(practice.question_id)
    right = str(question.correct_index + 1) if question.choices else question.accept[0]
    assert "no XP this time" in (await tutor.answer(ada, right)).text
    rows = await store.attempts(await store.learner_id(ada))
    assert sum(r.points for r in rows) == 10 + 20 + 30


async def test_daily_streak_counts_days_in_the_learners_time_zone(tutor, clock):
    ada = learner()
    assert (await tutor.set_timezone(ada, "Mars/Olympus")).kind is Kind.ERROR
    assert "America/New_York" in (await tutor.set_timezone(ada, "America/New_York")).text
    # 23:30 and 00:30 in New York are two days there, but one day in UTC.
    clock.now = clock.now.replace(day=10, hour=4, minute=30)  # 23:30 EST on 9 November
    await tutor.quiz(ada)
    await tutor.answer(ada, "2")
    clock.advance(hours=1)
    await tutor.quiz(ada)
    await tutor.answer(ada, "global average pooling")
    assert "Daily streak: 2 days" in (await tutor.progress(ada, picture=False)).text
    await tutor.set_timezone(ada, "UTC")
    assert "Daily streak: 1 day " in (await tutor.progress(ada, picture=False)).text


async def test_progress_picture_is_a_png(tutor):
    ada = learner()
    assert (await tutor.progress(ada)).image is None  # nothing to draw yet
    await tutor.quiz(ada)
    await tutor.answer(ada, "2")
    image = (await tutor.progress(ada)).image
    assert image is not None and image.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = int.from_bytes(image[16:20], "big"), int.from_bytes(image[20:24], "big")
    # Drawn for Discord's embed width: 600 px, a row of bars per topic (bot/tutor/chart.py).
    assert width == 600 and height == round((1.3 + 0.5 * len(tutor.bank.topics)) * 100)
    assert 10_000 < len(image) < 500_000
