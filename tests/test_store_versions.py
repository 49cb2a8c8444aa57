"""Every write that changes what a store caches about a learner raises the learner's version
(db/versions.py), in its own transaction, wherever stores check it before using their caches
(PostgreSQL; SQLAlchemy's async engine, here on a SQLite file); SQLite's own store, which never
checks them, leaves them at 0. tests/test_cluster_store.py shows the caches across processes."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable

from bot.tutor.moderator import Actor, Authority
from bot.tutor.service import NewAttempt
from bot.tutor.session import OpenQuestion
from bot.tutor.study import Filters, StudyState
from db import SqlStore
from db.moderation import ModerationQueries
from db.study import StudyQueries
from tests.helpers import Clock, learner, select

# The store's methods that change nothing a store caches about a learner (or write nothing).
# A new method must be placed here or among the writes below, which are each checked.
UNCACHED = {
    SqlStore: {"close", "upgrade", "learner_id", "open_question", "cards", "attempts",
               "timezone", "learner_settings", "new_questions_since", "leaderboard",
               "standing"},
    # A server's study settings (change_server: /mod settings study) are no learner's state.
    StudyQueries: {"server", "save_server", "change_server", "state", "last_question",
                   "thread", "save_thread"},
    ModerationQueries: {"moderator_role", "set_moderator_role", "find_learner", "mod_log",
                        "action", "learner_actions", "reset_impact", "report_attempts",
                        "export_attempts", "leaderboard", "later_change"},
}  # fmt: skip


async def test_each_write_of_a_learners_cached_state_raises_their_version(
    store: SqlStore, clock: Clock
) -> None:
    # SQLite's own store sees other writers by data_version and never reads versions: it
    # leaves them at 0 (db/versions.py, ``bump``).
    versioned = not store.database.sees_foreign_writes
    lid = await store.learner_id(learner("Ada"))
    mod = Actor("test", "g1", "mod", "Mo", Authority.MANAGER)
    target = await store.moderation.find_learner("test", "g1", "ada")
    assert target is not None
    asked = OpenQuestion("easy-choice", clock())

    async def version() -> int:
        url = store.url.render_as_string(hide_password=False)
        [(found,)] = await select(url, "SELECT state_version FROM learners WHERE user_id = 'ada'")
        return int(found)
    actions: list[int] = []

    async def record() -> None:
        await store.set_open_question(lid, asked)
        before = await version()
        attempt = NewAttempt("easy-choice", "t", "1", True, False, 10, 1000, clock())
        assert await store.record_answer(lid, asked, lambda _card: (attempt, None))
        assert await version() > before if versioned else await version() == 0

    async def reset() -> None:
        actions.append(await store.moderation.reset(mod, target, "x", clock()))

    async def exclude() -> None:
        actions.append(await store.moderation.set_excluded(mod, target, True, "x", clock()))

    async def undo() -> None:
        await store.moderation.undo(mod, actions.pop(0), "y", clock(), lambda _kind: None)

    writes: dict[str, Callable[[], Awaitable[object]]] = {
        "set_open_question": lambda: store.set_open_question(lid, asked),
        "record_answer": record,
        "set_timezone": lambda: store.set_timezone(lid, "Europe/Paris"),
        "save_learning_settings": lambda: store.save_learning_settings(lid, 0.8, 3),
        "save_state": lambda: store.study.save_state(lid, StudyState(None, Filters("t"))),
        "save_last_question": lambda: store.study.save_last_question(lid, ("c", "m")),
        "reset": reset,
        "set_excluded": exclude,
        "undo": undo,  # of the reset
        "undo ": undo,  # of the exclusion
    }
    for owner, uncached in UNCACHED.items():
        public = {n for n, f in inspect.getmembers(owner, inspect.iscoroutinefunction)}
        public = {n for n in public if not n.startswith("_")}
        assert public - uncached == {n.strip() for n in writes} & public, owner
    for what, write in writes.items():
        before = await version()
        await write()
        clock.advance(seconds=5)
        assert await version() > before if versioned else await version() == 0, what
