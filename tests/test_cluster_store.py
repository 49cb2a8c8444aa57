"""Several bot processes on one PostgreSQL database (a shard cluster): each has its own store,
and a learner served by one of them, then another, then the first again, is seen the same by
all, at once: nothing a process cached goes stale when another one writes (db/store.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bot.tutor.content import Bank
from bot.tutor.moderator import Actor, Authority, Moderator
from bot.tutor.service import Tutor
from db import SqlStore, open_store
from tests.helpers import Clock, learner

pytestmark = pytest.mark.postgres


@pytest.fixture
async def stores(pg_url: str) -> AsyncIterator[tuple[SqlStore, SqlStore]]:
    """The stores of two bot processes (each its own connection pool) on one database."""
    first = await open_store(pg_url)
    second = await open_store(pg_url)
    yield first, second
    await first.close()
    await second.close()


async def test_a_learner_answering_through_one_process_then_another_sees_one_state(
    stores: tuple[SqlStore, SqlStore], bank: Bank, clock: Clock
) -> None:
    store_a, store_b = stores
    a = Tutor(bank, store_a, now=clock, shuffle=False)
    b = Tutor(bank, store_b, now=clock, shuffle=False)
    ada = learner("Ada")

    asked = await a.quiz(ada)  # through A: A has read the (empty) cards and opened a question
    assert asked.question_id == "easy-choice"
    lid = await store_a.learner_id(ada)
    assert await store_a.cards(lid) == {}
    since = clock() - timedelta(hours=1)
    assert await store_a.new_questions_since(lid, since) == 0
    clock.advance(seconds=20)
    assert "Next review" in (await b.answer(ada, "1")).text  # graded, through B

    # A sees B's answer at once, before it writes anything itself.
    assert await store_a.open_question(lid) is None
    assert set(await store_a.cards(lid)) == {"easy-choice"}
    assert await store_a.new_questions_since(lid, since) == 1
    again = await a.answer(ada, "1")  # a second click on the same question, through A
    assert "Next review" not in again.text  # not graded twice
    nxt = await a.quiz(ada)  # the next question through A is a new one, not the answered one
    assert nxt.question_id not in (None, "easy-choice")

    # A moderator's reset through B (or the web dashboard's process) reaches A at once.
    mod = Actor("test", "g1", "mod", "Mo", Authority.MANAGER)
    assert "Reset" in (await Moderator(bank, store_b.moderation).reset(mod, "ada", "x")).text
    assert await store_a.cards(lid) == {}
    assert await store_a.open_question(lid) is None
    assert (await a.quiz(ada)).question_id == "easy-choice"  # from the start again


async def test_settings_changed_through_one_process_hold_in_the_other(
    stores: tuple[SqlStore, SqlStore],
) -> None:
    store_a, store_b = stores
    lid = await store_a.learner_id(learner("Ada"))
    assert (await store_a.learner_settings(lid)).daily_new_limit != 3
    await store_b.save_learning_settings(lid, 0.8, 3)
    await store_b.set_timezone(lid, "Europe/Paris")
    settings = await store_a.learner_settings(lid)
    assert (settings.daily_new_limit, settings.timezone) == (3, "Europe/Paris")
