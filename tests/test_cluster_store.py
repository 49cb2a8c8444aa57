"""Several bot processes on one PostgreSQL database (a shard cluster): each has its own store,
and a learner served by one of them, then another, then the first again, is seen the same by
all, at once: nothing a process cached goes stale when another one writes (db/store.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import event

from bot.tutor.content import Bank
from bot.tutor.moderator import Actor, Authority, Moderator
from bot.tutor.service import Tutor
from db import SqlStore, open_store
from db.copy import copy_database
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


async def _seen(store: SqlStore, lid: int, since: datetime) -> tuple[object, ...]:
    """Everything a store caches about a learner, as it answers for it."""
    return (
        await store.open_question(lid),
        dict(await store.cards(lid)),
        await store.learner_settings(lid),
        await store.new_questions_since(lid, since),
        await store.study.state(lid),
        await store.study.last_question(lid),
    )


async def _truth(url: str, lid: int, since: datetime) -> tuple[object, ...]:
    """The same, read by a store that has cached nothing yet."""
    fresh = await open_store(url, migrate=False)
    try:
        return await _seen(fresh, lid, since)
    finally:
        await fresh.close()


async def test_every_kind_of_write_through_one_process_is_seen_by_another_at_once(
    stores: tuple[SqlStore, SqlStore], bank: Bank, clock: Clock, pg_url: str
) -> None:
    """A caches all it can about Ada (db/versions.py), then B writes: each kind of write that
    changes what A caches is seen by A's next read, without A writing anything."""
    store_a, store_b = stores
    b = Tutor(bank, store_b, now=clock, shuffle=False)
    ada = learner("Ada")
    lid = await store_a.learner_id(ada)
    assert await store_b.learner_id(ada) == lid
    since = clock() - timedelta(hours=1)
    mod = Actor("test", "g1", "mod", "Mo", Authority.MANAGER)
    target = await store_b.moderation.find_learner("test", "g1", "ada")
    assert target is not None
    actions: list[int] = []

    async def reset() -> None:
        actions.append(await store_b.moderation.reset(mod, target, "x", clock()))

    async def undo() -> None:
        await store_b.moderation.undo(mod, actions[-1], "y", clock(), lambda _kind: None)

    writes: list[tuple[str, Callable[[], Awaitable[object]]]] = [
        ("a question asked", lambda: b.quiz(ada)),
        ("a hint", lambda: b.hint(ada)),
        ("an answer", lambda: b.answer(ada, "1")),
        ("a set started (study state)", lambda: b.quiz(ada, count=3)),
        ("a skip", lambda: b.skip(ada)),
        ("the last public question", lambda: store_b.study.save_last_question(lid, ("c", "m"))),
        ("learning settings", lambda: store_b.save_learning_settings(lid, 0.8, 3)),
        ("a time zone", lambda: store_b.set_timezone(lid, "Europe/Paris")),
        ("a moderator's reset", reset),
        ("its undo", undo),
    ]
    for what, write in writes:
        before = await _seen(store_a, lid, since)  # cached from here on
        assert await _seen(store_a, lid, since) == before
        clock.advance(seconds=20)
        await write()
        truth = await _truth(pg_url, lid, since)
        assert truth != before, f"{what} changed nothing: not a test of it"
        assert await _seen(store_a, lid, since) == truth, what


async def test_a_database_copied_over_the_one_a_process_uses_is_seen_by_it(
    pg_url: str, sqlite_url: str, bank: Bank, clock: Clock
) -> None:
    """``db copy --replace`` into a database a process still uses (it should be stopped, but):
    the copied learner's state is not taken for what the process cached, even where the copy's
    history made as many writes (the same version numbers)."""
    running, source = await open_store(pg_url), await open_store(sqlite_url)
    try:
        ada = learner("Ada")
        for store, answer in ((running, "1"), (source, "2")):  # right here, wrong there
            tutor = Tutor(bank, store, now=clock, shuffle=False)
            assert (await tutor.quiz(ada)).question_id == "easy-choice"
            await tutor.answer(ada, answer)
        lid = await running.learner_id(ada)
        assert lid == await source.learner_id(ada)
        cached = dict(await running.cards(lid))
        copied = dict(await source.cards(lid))
        assert cached != copied
        await copy_database(sqlite_url, pg_url, replace=True)
        assert dict(await running.cards(lid)) == copied
    finally:
        await running.close()
        await source.close()


async def test_on_a_server_what_is_cached_is_not_read_again_while_it_holds(
    pg_url: str, bank: Bank, clock: Clock
) -> None:
    """What a learner's /quiz and answers need is read once, then checked by its version only:
    no statement reads the open question, cards, settings, new-question count or study state
    again while nobody else writes."""
    store = await open_store(pg_url)
    try:
        tutor = Tutor(bank, store, now=clock, shuffle=False)
        ada = learner("Ada")
        for _ in range(2):
            await tutor.quiz(ada)
            clock.advance(seconds=20)
            await tutor.answer(ada, "1")
        statements: list[str] = []

        def seen(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
            statements.append(" ".join(statement.split()))

        engine = store.database._engine.sync_engine  # type: ignore[attr-defined]
        event.listen(engine, "before_cursor_execute", seen)
        for _ in range(3):
            await tutor.quiz(ada)
            clock.advance(seconds=20)
            await tutor.answer(ada, "1")
        event.remove(engine, "before_cursor_execute", seen)
        versions = [s for s in statements if s.startswith("SELECT state_version FROM learners")]
        state_reads = [
            s
            for s in statements
            if s.startswith("SELECT")
            and any(
                part in s
                for part in (
                    "FROM open_questions o",  # the open question
                    "FROM review_cards WHERE learner_id = $1",  # every card (not just one)
                    "daily_new_limit",  # settings
                    "count(*)",  # the day's new questions
                    "study_learners",  # study state
                )
            )
            and not s.endswith("AND question_id = $2")
        ]
        assert versions and state_reads == []
    finally:
        await store.close()
