"""The store on SQLite and PostgreSQL: migrations, durability, attempts and the leaderboard."""

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fsrs import Rating

from bot.tutor.progress import AttemptRow
from bot.tutor.review import review
from bot.tutor.service import NewAttempt
from bot.tutor.session import OpenQuestion
from db import DatabaseCorrupt, StoreError, open_store
from tests.helpers import learner, select

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


async def test_upgrade_is_idempotent_and_keeps_data(db_url, store):
    lid = await store.learner_id(learner())
    second = await open_store(db_url)  # a restart runs the migrations again
    assert await second.learner_id(learner()) == lid
    await second.close()


async def test_sqlite_runs_in_wal_mode_with_foreign_keys(sqlite_url):
    store = await open_store(sqlite_url)

    def pragmas(conn):
        return tuple(conn.exec_driver_sql(f"PRAGMA {p}").scalar() for p in PRAGMAS)

    PRAGMAS = ("journal_mode", "foreign_keys", "synchronous")
    assert await store.database.read(pragmas) == ("wal", 1, 1)  # synchronous=1 is NORMAL
    assert await store.database.write(pragmas) == ("wal", 1, 1)
    await store.close()


async def test_unusable_database_path_is_a_clear_error(tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError, match="cannot create the database directory"):
        await open_store(f"sqlite+aiosqlite:///{blocker / 'sub' / 'tutor.db'}")
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database" * 100)
    with pytest.raises(DatabaseCorrupt, match="not an SQLite database"):
        await open_store(f"sqlite+aiosqlite:///{garbage}")


async def test_learners_are_scoped_by_platform_and_guild(store):
    a = await store.learner_id(learner("Ada", guild="g1"))
    assert await store.learner_id(learner("Ada", guild="g1")) == a
    assert await store.learner_id(learner("Ada", guild="g2")) != a
    assert await store.learner_id(learner("Ada", guild="g1", platform="other")) != a
    assert await store.learner_id(learner("Ada", guild="")) != a  # direct messages


def attempt(
    qid: str, correct: bool, points: int, when: datetime, topic: str = "t", hinted: bool = False
) -> NewAttempt:
    return NewAttempt(qid, topic, "ans", correct, hinted, points, 1500, when)


async def answer(store, lid: int, qid: str, correct: bool, points: int, when: datetime) -> bool:
    open_ = OpenQuestion(qid, when - timedelta(seconds=2))
    await store.set_open_question(lid, open_)
    return await record(store, lid, open_, attempt(qid, correct, points, when))


async def record(store, lid: int, open_: OpenQuestion, new: NewAttempt) -> bool:
    def decide(before):
        rating = Rating.Good if new.correct else Rating.Again
        return new, review(before, new.question_id, rating, new.answered_at)

    return await store.record_answer(lid, open_, decide) is not None


async def test_attempt_is_committed_when_record_returns(db_url, store):
    lid = await store.learner_id(learner())
    assert await answer(store, lid, "q1", True, 10, T0)
    # A separate connection sees it at once: it is committed, not waiting in a session.
    columns = "question_id, correct, points, time_to_answer_ms"
    rows = await select(db_url, f"select {columns} from attempts")
    assert rows == [("q1", True, 10, 1500)]
    assert await select(db_url, "select count(*) from open_questions") == [(0,)]


async def test_an_open_question_is_answered_once(store):
    lid = await store.learner_id(learner())
    open_ = OpenQuestion("q1", T0)
    await store.set_open_question(lid, open_)
    results = await asyncio.gather(
        *(record(store, lid, open_, attempt("q1", True, 10, T0)) for _ in range(5))
    )
    assert sorted(results) == [False, False, False, False, True]
    assert len(await store.attempts(lid)) == 1


async def test_open_question_round_trip_keeps_time_zone_and_hint(store):
    lid = await store.learner_id(learner())
    assert await store.open_question(lid) is None
    await store.set_open_question(lid, OpenQuestion("q1", T0, hinted=True))
    assert await store.open_question(lid) == OpenQuestion("q1", T0, hinted=True)
    await store.set_open_question(lid, None)
    assert await store.open_question(lid) is None


async def test_a_hint_is_kept_per_question_until_that_question_is_answered(store):
    lid = await store.learner_id(learner())
    await store.set_open_question(lid, OpenQuestion("q1", T0, hinted=True))
    await store.set_open_question(lid, OpenQuestion("q2", T0))  # skipped to another
    assert await store.open_question(lid) == OpenQuestion("q2", T0, hinted=False)
    await store.set_open_question(lid, None)
    asked_again = OpenQuestion("q1", T0 + timedelta(days=1))
    await store.set_open_question(lid, asked_again)
    assert await store.open_question(lid) == OpenQuestion("q1", asked_again.asked_at, True)
    # An answer graded without the hint it had is refused, as a stale question is.
    assert not await record(store, lid, asked_again, attempt("q1", True, 10, T0))
    hinted = await store.open_question(lid)
    assert await record(store, lid, hinted, attempt("q1", True, 5, T0, hinted=True))
    await store.set_open_question(lid, asked_again)  # answered: the hint is spent
    assert await store.open_question(lid) == asked_again


async def test_leaderboard_sums_xp_within_the_guild_and_window(store):
    ada = await store.learner_id(learner("Ada"))
    bob = await store.learner_id(learner("Bob"))
    eve = await store.learner_id(learner("Eve", guild="elsewhere"))
    await answer(store, ada, "q1", False, 0, T0)
    await answer(store, ada, "q1", True, 10, T0 + timedelta(minutes=1))
    await answer(store, ada, "q2", True, 15, T0 + timedelta(minutes=3))
    await answer(store, bob, "q3", True, 30, T0 + timedelta(days=20))
    await answer(store, eve, "q3", True, 30, T0)

    board = await store.leaderboard("test", "g1", None, 10, 0)
    assert [(r.rank, r.display_name, r.score, r.attempts, r.correct) for r in board] == [
        (1, "Bob", 30, 1, 1),
        (2, "Ada", 25, 3, 2),
    ]
    rows = await store.attempts(ada)
    assert sum(r.points for r in rows) == 25  # the SQL sum equals the Python one
    assert all(isinstance(r, AttemptRow) and r.answered_at.tzinfo for r in rows)

    week = await store.leaderboard("test", "g1", T0 + timedelta(days=14), 10, 0)
    assert [r.display_name for r in week] == ["Bob"]
    page2 = await store.leaderboard("test", "g1", None, 1, 1)
    assert [(r.rank, r.display_name) for r in page2] == [(2, "Ada")]
    assert await store.leaderboard("test", "empty", None, 10, 0) == []


async def test_a_question_changed_by_another_process_is_not_answered_from_a_stale_cache(db_url):
    first, second = await open_store(db_url), await open_store(db_url)
    try:
        lid = await first.learner_id(learner())
        asked = OpenQuestion("q1", T0)
        await first.set_open_question(lid, asked)
        # Another process (say, a second terminal) hints the same question.
        fresh_open = OpenQuestion("q1", T0, hinted=True)
        await second.set_open_question(lid, fresh_open)
        seen = await first.open_question(lid)
        # SQLite: cached, stale until the next write; a server: read again each time.
        assert seen == (asked if first.database.sees_foreign_writes else fresh_open)
        # Whatever a caller saw, the database judges: an answer to the stale one is refused.
        assert not await record(first, lid, asked, attempt("q1", True, 10, T0))
        fresh = await first.open_question(lid)
        assert fresh == OpenQuestion("q1", T0, hinted=True)  # read again after the refusal
        assert await record(first, lid, fresh, attempt("q1", True, 5, T0))
        assert [r.points for r in await second.attempts(lid)] == [5]
    finally:
        await first.close()
        await second.close()


async def test_group_commit_batches_and_isolates_a_failing_write(store):
    from sqlalchemy import text

    lids = [await store.learner_id(learner(f"L{i}")) for i in range(3)]

    def bad(conn):
        conn.execute(text("insert into no_such_table values (1)"))

    results = await asyncio.gather(
        *(answer(store, lid, "q1", True, 10, T0) for lid in lids),
        store.database.write(bad),
        return_exceptions=True,
    )
    assert results[:3] == [True, True, True]
    assert "no_such_table" in str(results[3])
    for lid in lids:
        assert len(await store.attempts(lid)) == 1


async def test_review_cards_and_log_are_stored_with_the_attempt(store, db_url):
    lid = await store.learner_id(learner())
    await answer(store, lid, "q1", True, 10, T0)
    await answer(store, lid, "q2", True, 10, T0 + timedelta(minutes=1))
    await answer(store, lid, "q1", False, 0, T0 + timedelta(minutes=20))
    cards = await store.cards(lid)
    assert sorted(cards) == ["q1", "q2"]
    assert cards["q1"].last_rating == Rating.Again
    assert cards["q1"].due.tzinfo is not None
    logs = await select(db_url, "select question_id, rating from review_logs order by id")
    assert logs == [("q1", 3), ("q2", 3), ("q1", 1)]


async def test_time_zone_defaults_to_utc_and_can_be_set(store):
    lid = await store.learner_id(learner())
    assert await store.timezone(lid) == "UTC"
    await store.set_timezone(lid, "Asia/Tokyo")
    assert await store.timezone(lid) == "Asia/Tokyo"


def test_driver_errors_become_one_safe_line_of_the_right_kind(tmp_path: Path):
    from db.errors import DatabaseFull, DatabaseReadOnly, classify

    db = tmp_path / "t.db"
    sqlite3.connect(db).execute("create table t (x)").connection.close()
    read_only = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    with pytest.raises(sqlite3.OperationalError) as caught:
        read_only.execute("insert into t values (1)")
    read_only.close()
    error = classify(caught.value, str(db))
    assert isinstance(error, DatabaseReadOnly)
    assert str(error).startswith(f"the database is read-only ({db}: attempt to write")

    class ServerError(Exception):  # what asyncpg raises: the SQLSTATE as an attribute
        sqlstate = "53100"

    wrapped = ServerError("could not extend file\nDETAIL: postgresql://u:S3cret@db/t")
    error = classify(wrapped, "postgresql://u:***@db/t", ["S3cret"])
    assert isinstance(error, DatabaseFull) and "\n" not in str(error)
    assert "S3cret" not in str(error)
