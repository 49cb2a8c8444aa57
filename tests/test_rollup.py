"""The leaderboard's rollup (leaderboard_days) equals the leaderboard summed from the attempts,
on random histories of answers, resets, exclusions and undos, on every database; and migration
0005 fills it from the attempts already there."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from fsrs import Rating
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.tutor.moderator import Actor, Authority, ModerationError
from bot.tutor.review import review
from bot.tutor.service import LearnerRef, NewAttempt
from bot.tutor.session import OpenQuestion
from db.leaderboard import leaderboard, leaderboard_from_attempts
from db.migrate import upgrade_connection

T0 = datetime(2026, 3, 1, tzinfo=UTC)  # a midnight: windows start on and around day bounds
DAY = 24 * 60
USERS = [("u1", "Ada"), ("u2", "Bob"), ("u3", "Ada"), ("u4", "Cy")]  # two learners named Ada
TOPICS = ["t1", "t2"]
_guilds = itertools.count()


@dataclass(frozen=True)
class Answer:
    who: int
    guild: int
    topic: str
    correct: bool
    points: int
    minute: int


@dataclass(frozen=True)
class Moderate:
    kind: str  # reset | exclude | include | undo
    who: int
    guild: int
    action: int  # for undo: which earlier action, modulo their number


answers = st.builds(
    Answer,
    who=st.integers(0, len(USERS) - 1),
    guild=st.integers(0, 1),
    topic=st.sampled_from(TOPICS),
    correct=st.booleans(),
    points=st.integers(0, 20),
    minute=st.integers(0, 6 * DAY),
)
moderations = st.builds(
    Moderate,
    kind=st.sampled_from(["reset", "exclude", "include", "undo"]),
    who=st.integers(0, len(USERS) - 1),
    guild=st.integers(0, 1),
    action=st.integers(0, 20),
)
histories = st.lists(st.one_of(answers, answers, moderations), max_size=30)
# Windows: none, on a midnight, within a day, on an answer's minute, in another time zone.
windows = st.one_of(
    st.none(),
    st.integers(0, 6).map(lambda d: T0 + timedelta(days=d)),
    st.integers(0, 6 * DAY).map(lambda m: T0 + timedelta(minutes=m)),
    st.integers(0, 6 * DAY).map(
        lambda m: (T0 + timedelta(minutes=m, seconds=30)).astimezone(timezone(timedelta(hours=5)))
    ),
)
queries = st.lists(
    st.tuples(
        st.integers(0, 1), windows, st.sampled_from([None, *TOPICS, "none"]), st.integers(0, 3)
    ),
    min_size=1,
    max_size=6,
)


async def _play(store, namespace: str, history: list[Answer | Moderate]) -> None:
    actions: list[int] = []
    for step in history:
        user, name = USERS[step.who]
        guild = f"{namespace}-{step.guild}"
        lid = await store.learner_id(LearnerRef("test", user, guild, name))
        if isinstance(step, Answer):
            when = T0 + timedelta(minutes=step.minute)
            asked = OpenQuestion(f"q-{step.topic}", when - timedelta(seconds=5))
            await store.set_open_question(lid, asked)
            new = NewAttempt(
                asked.question_id, step.topic, "a", step.correct, False, step.points, 5000, when
            )
            rating = Rating.Good if step.correct else Rating.Again

            def decide(before, new=new, rating=rating):
                return new, review(before, new.question_id, rating, new.answered_at)

            assert await store.record_answer(lid, asked, decide) is not None
            continue
        mod = Actor("test", guild, "mod", "Mo", Authority.MANAGER)
        target = await store.moderation.find_learner("test", guild, user)
        now = T0 + timedelta(days=7)
        try:
            if step.kind == "reset":
                actions.append(await store.moderation.reset(mod, target, "r", now))
            elif step.kind in ("exclude", "include"):
                excluded = step.kind == "exclude"
                actions.append(
                    await store.moderation.set_excluded(mod, target, excluded, "r", now)
                )
            elif actions:
                undone = actions[step.action % len(actions)]
                action_guild = guild  # an action of another guild is "not found": also fine
                await store.moderation.undo(
                    Actor("test", action_guild, "mod", "Mo", Authority.MANAGER),
                    undone,
                    "r",
                    now,
                    lambda _kind: None,
                )
        except ModerationError:
            pass  # undone already, an undo, or another guild's: nothing changes


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=histories, asked=queries)
async def test_the_rollup_equals_the_sum_of_the_attempts(store, history, asked):
    # Each example has guilds of its own in the one database: earlier examples stay around it.
    namespace = f"h{next(_guilds)}"
    await _play(store, namespace, history)
    for guild, since, topic, page in asked:
        args = ("test", f"{namespace}-{guild}", since, 3, page * 3, topic)
        expected = await store.database.read(leaderboard_from_attempts(*args))
        assert await store.database.read(leaderboard(*args)) == expected
        whole = ("test", f"{namespace}-{guild}", since, 100, 0, topic)
        expected = await store.database.read(leaderboard_from_attempts(*whole))
        assert await store.database.read(leaderboard(*whole)) == expected


async def test_migration_fills_the_rollup_from_the_attempts_there(db_url):
    """Attempts made before 0005 (one hidden by a reset) are in the rollup after it. Times are
    written as the store writes them on SQLite (six fractional digits: the text sorts as the
    time does)."""
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(db_url)
    learners = "insert into learners (id, platform, user_id, guild_id, display_name, created_at) "
    attempts = (
        "insert into attempts (id, learner_id, question_id, topic, answer, correct, hinted, "
        "points, time_to_answer_ms, answered_at, reset_by) values "
    )

    def old_history(conn):
        upgrade_connection(conn, "0004")
        conn.exec_driver_sql(
            learners + "values (1, 'test', 'u1', 'g1', 'Ada', '2026-03-01 08:00:00.000000'),"
            " (2, 'test', 'u2', 'g1', 'Bob', '2026-03-01 08:00:00.000000')"
        )
        conn.exec_driver_sql(
            "insert into mod_actions (id, platform, guild_id, moderator_id, moderator_name, "
            "action, learner_id, reason, created_at) values "
            "(1, 'test', 'g1', 'm', 'Mo', 'reset', 2, 'r', '2026-03-02 08:00:00.000000')"
        )
        conn.exec_driver_sql(
            attempts
            + "(1, 1, 'q1', 't1', 'a', true, false, 10, 1, '2026-03-01 23:59:59.000000', null),"
            " (2, 1, 'q2', 't1', 'a', false, false, 0, 1, '2026-03-02 00:00:00.000000', null),"
            " (3, 1, 'q3', 't2', 'a', true, false, 5, 1, '2026-03-02 10:00:00.000000', null),"
            " (4, 2, 'q1', 't1', 'a', true, false, 10, 1, '2026-03-02 10:00:00.000000', 1),"
            " (5, 2, 'q2', 't1', 'a', true, false, 7, 1, '2026-03-03 10:00:00.000000', null)"
        )
        upgrade_connection(conn)
        rows = conn.exec_driver_sql(
            "select learner_id, day, topic, xp, answers, correct from leaderboard_days"
            " order by learner_id, day, topic"
        ).fetchall()
        windows = (None, T0 + timedelta(hours=12), T0 + timedelta(days=1, hours=11))
        boards = [
            (
                leaderboard("test", "g1", since, 10, 0, topic)(conn),
                leaderboard_from_attempts("test", "g1", since, 10, 0, topic)(conn),
            )
            for since in windows
            for topic in (None, "t1")
        ]
        return [tuple(r) for r in rows], boards

    async with engine.begin() as conn:
        rows, boards = await conn.run_sync(old_history)
    await engine.dispose()
    assert rows == [
        (1, 20260301, "t1", 10, 1, 1),
        (1, 20260302, "t1", 0, 1, 0),
        (1, 20260302, "t2", 5, 1, 1),
        (2, 20260303, "t1", 7, 1, 1),
    ]
    for rolled, summed in boards:
        assert rolled == summed
