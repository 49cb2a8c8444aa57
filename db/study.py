"""The study part of the store: a server's study settings, each learner's mode, filters and set,
and their study threads (bot.tutor.study). Portable SQLAlchemy Core: a read then an insert or
update in one transaction, no dialect's upsert.

``SqlStore`` holds one as ``store.study``, sharing its ``Database``; its ``write`` is the store's,
so a write here is seen by the store's check for other writers too. Every question asked and
every answer reads the learner's state (and asking, the server's settings): they are kept in
bounded write-through caches. A learner's are among the store's learner caches (db/versions.py:
dropped when another process writes a SQLite file, checked against the learner's version on a
server); a server's settings are cached only on SQLite.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.sql.elements import ColumnElement

from bot.tutor.moderation import ActionKind
from bot.tutor.moderator import Actor
from bot.tutor.study import Filters, Mode, Names, ServerStudy, StudySet, StudyState, settings_json
from db.cache import MISSING, Lru
from db.database import Database
from db.models import Base, StudyLearner, StudyServer, StudyThread
from db.versions import LearnerCache, LearnerCaches, bump

T = TypeVar("T")
Write = Callable[[Callable[[Connection], T]], Awaitable[T]]


def _save(
    conn: Connection, table: type[Base], where: ColumnElement[bool], values: dict[str, Any]
) -> None:
    """Update the row ``where`` finds, or insert it (``values`` hold its key too)."""
    found = conn.execute(select(1).select_from(table).where(where)).first()
    if found is None:
        conn.execute(insert(table).values(**values))
    else:
        conn.execute(update(table).where(where).values(**values))


def _mode(stored: str | None) -> Mode | None:
    return Mode(stored) if stored in set(Mode) else None


def _server_key(platform: str, guild_id: str) -> ColumnElement[bool]:
    return (StudyServer.platform == platform) & (StudyServer.guild_id == guild_id)


def read_server(conn: Connection, platform: str, guild_id: str) -> ServerStudy:
    """A server's study settings (the defaults if it chose none)."""
    # A Connection returns rows of columns, not ORM objects: name the columns.
    query = select(*StudyServer.__table__.columns).where(_server_key(platform, guild_id))
    row = conn.execute(query).first()
    if row is None:
        return ServerStudy()
    channels = tuple(c for c in (row.channels or "").split(",") if c)
    return ServerStudy(_mode(row.default_mode), bool(row.learners_choose), channels)


def write_server(conn: Connection, platform: str, guild_id: str, server: ServerStudy) -> None:
    values = {
        "platform": platform,
        "guild_id": guild_id,
        "default_mode": server.default.value if server.default else None,
        "learners_choose": server.learners_choose,
        "channels": ",".join(server.channels) or None,
    }
    _save(conn, StudyServer, _server_key(platform, guild_id), values)


class StudyQueries:
    def __init__(
        self, database: Database, write: Write[Any], caches: LearnerCaches, cached: int = 10_000
    ) -> None:
        self._db = database
        self._write = write
        self._caches = caches
        # A server's settings have no version: kept only where other processes' writes are seen
        # (SQLite); on a database server every read of them goes to it.
        self._servers: Lru[tuple[str, str], ServerStudy] = Lru(
            cached if database.sees_foreign_writes else 0
        )
        self._states: LearnerCache[StudyState] = caches.new(cached)
        self._questions: LearnerCache[tuple[str, str] | None] = caches.new(cached)

    def forget_all(self) -> None:
        """Another process wrote to the database: trust nothing cached (the learners' caches
        are the store's to drop)."""
        self._servers.clear()

    async def _save_learner(
        self, cache: LearnerCache[T], learner_id: int, values: dict[str, Any], value: T
    ) -> None:
        """Save ``values`` in the learner's row of ``study_learners``, and ``value`` as what
        ``cache`` holds for them from now on."""
        where = StudyLearner.learner_id == learner_id

        def op(conn: Connection) -> int:
            _save(conn, StudyLearner, where, {"learner_id": learner_id, **values})
            return bump(conn, learner_id)

        cache.forget(learner_id)  # unknown until committed
        version: int = await self._write(op)
        cache.put(learner_id, version, value)
        self._caches.wrote(learner_id, version)

    def forget_server(self, platform: str, guild_id: str) -> None:
        """The server's settings changed outside this object (an undo of a change)."""
        self._servers.forget((platform, guild_id))

    async def server(self, platform: str, guild_id: str) -> ServerStudy:
        cached = self._servers.get((platform, guild_id))
        if cached is not MISSING:
            return cached
        mark = self._servers.reserve((platform, guild_id))
        found: ServerStudy = await self._db.read(lambda conn: read_server(conn, platform, guild_id))
        self._servers.fill((platform, guild_id), mark, found)
        return found

    async def save_server(self, platform: str, guild_id: str, server: ServerStudy) -> None:
        self._servers.forget((platform, guild_id))  # unknown until committed
        await self._write(lambda conn: write_server(conn, platform, guild_id, server))
        self._servers.put((platform, guild_id), server)

    async def change_server(
        self,
        actor: Actor,
        change: Callable[[ServerStudy], ServerStudy],
        names: Names,
        reason: str,
        now: datetime,
    ) -> tuple[ServerStudy, int | None]:
        # Imported here: db.moderation reads and writes these settings to undo a change.
        from db.moderation import _log_action

        key = (actor.platform, actor.guild_id)

        def op(conn: Connection) -> tuple[ServerStudy, int | None]:
            # Read in the transaction that writes: the logged "before" is what was replaced.
            before = read_server(conn, *key)
            after = change(before)
            if after == before:
                return after, None
            write_server(conn, *key, after)
            data = json.dumps(
                {"before": settings_json(before, names), "after": settings_json(after, names)}
            )
            return after, _log_action(conn, actor, ActionKind.STUDY, None, reason, now, data)

        self._servers.forget(key)  # unknown until committed
        settings, action = await self._write(op)
        self._servers.put(key, settings)
        return settings, action

    async def state(self, learner_id: int) -> StudyState:
        def load(conn: Connection) -> StudyState:
            query = select(*StudyLearner.__table__.columns).where(
                StudyLearner.learner_id == learner_id
            )
            row = conn.execute(query).first()
            if row is None:
                return StudyState()
            started = row.set_started_at
            study_set = StudySet(row.set_total, started) if row.set_total and started else None
            return StudyState(_mode(row.mode), Filters(row.topic, row.difficulty), study_set)

        return await self._states.read(self._db, learner_id, load)

    async def save_state(self, learner_id: int, state: StudyState) -> None:
        values = {
            "mode": state.mode.value if state.mode else None,
            "topic": state.filters.topic,
            "difficulty": state.filters.difficulty,
            "set_total": state.set.total if state.set else None,
            "set_started_at": state.set.started_at if state.set else None,
        }
        await self._save_learner(self._states, learner_id, values, state)

    async def last_question(self, learner_id: int) -> tuple[str, str] | None:
        """(channel id, message id) of the learner's last public question, if any."""

        def load(conn: Connection) -> tuple[str, str] | None:
            columns = (StudyLearner.question_channel, StudyLearner.question_message)
            query = select(*columns).where(StudyLearner.learner_id == learner_id)
            row = conn.execute(query).first()
            return (row[0], row[1]) if row is not None and row[0] and row[1] else None

        return await self._questions.read(self._db, learner_id, load)

    async def save_last_question(self, learner_id: int, where: tuple[str, str] | None) -> None:
        channel, message = where or (None, None)
        values = {"question_channel": channel, "question_message": message}
        await self._save_learner(self._questions, learner_id, values, where)

    async def thread(self, learner_id: int, channel_id: str) -> str | None:
        def op(conn: Connection) -> str | None:
            query = select(StudyThread.thread_id).where(
                StudyThread.learner_id == learner_id, StudyThread.channel_id == channel_id
            )
            return conn.execute(query).scalar_one_or_none()

        return await self._db.read(op)

    async def save_thread(self, learner_id: int, channel_id: str, thread_id: str | None) -> None:
        where = (StudyThread.learner_id == learner_id) & (StudyThread.channel_id == channel_id)

        def op(conn: Connection) -> None:
            if thread_id is None:
                conn.execute(delete(StudyThread).where(where))
                return
            values = {"learner_id": learner_id, "channel_id": channel_id, "thread_id": thread_id}
            _save(conn, StudyThread, where, values)

        await self._write(op)
