"""The SQLAlchemy implementation of the tutor's ``Store``.

SQLite allows one writer at a time, so writes go through their own engine with a single pooled
connection and ``BEGIN IMMEDIATE`` (another process waits on the busy timeout instead of failing),
batched by ``GroupCommit``; reads use a second engine and proceed in parallel thanks to WAL. Every
write is committed before its method returns, which is what lets a frontend promise "committed
before the reply".
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import delete, event, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from bot.store.group_commit import GroupCommit
from bot.store.models import Attempt, Learner, OpenQuestionRow
from bot.tutor.progress import AttemptRow, LeaderRow
from bot.tutor.service import LearnerRef, NewAttempt
from bot.tutor.session import OpenQuestion

log = logging.getLogger(__name__)

OPEN_CACHE_SIZE = 10_000


class StoreError(Exception):
    """The database cannot be used (bad path, permissions, corrupt file). Safe to show."""


def safe_url(url: str | URL) -> str:
    """The URL without its password, for messages and logs."""
    return make_url(url).render_as_string(hide_password=True)


def _sqlite_file(url: URL) -> Path | None:
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


def _sqlite_engine(url: URL, role: Literal["read", "write", "migrate"]) -> AsyncEngine:
    """An engine for one role. Every aiosqlite call is a hop to the driver's thread and back,
    so each role is set up to spend as few calls per operation as it safely can."""
    if role == "read":
        # Each SELECT runs in autocommit, a consistent snapshot on its own in WAL mode: no
        # BEGIN to send and nothing to roll back when the connection goes back to the pool.
        engine = create_async_engine(
            url,
            isolation_level="AUTOCOMMIT",
            skip_autocommit_rollback=True,
            pool_reset_on_return=None,
            pool_size=4,
            max_overflow=0,
            pool_timeout=60,
        )
    else:
        # One connection: writers queue for it (see GroupCommit) instead of meeting
        # "database is locked".
        engine = create_async_engine(
            url, pool_size=1, max_overflow=0, pool_timeout=60, pool_reset_on_return=None
        )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # For writes, the sqlite3 module itself opens "BEGIN IMMEDIATE" before the first
        # INSERT/UPDATE/DELETE, in the same call as that statement (one hop less); IMMEDIATE
        # takes the write lock at once, so another process waits (busy_timeout) rather than
        # failing half-way. Migrations run DDL, which that implicit mode leaves outside any
        # transaction, so they send BEGIN themselves (below).
        dbapi_connection.isolation_level = "IMMEDIATE" if role == "write" else None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # NORMAL in WAL mode: a killed process loses nothing committed; only a power cut can
        # lose the last transactions. FULL would fsync every answer for little gain here.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()

    if role == "migrate":

        @event.listens_for(engine.sync_engine, "begin")
        def _on_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _dialect_insert(dialect: str) -> Callable[..., Any]:
    if dialect == "postgresql":
        return postgresql.insert
    return sqlite.insert


class SqlStore:
    def __init__(self, url: str | URL) -> None:
        self.url = make_url(url)
        self._sqlite = self.url.get_backend_name() == "sqlite"
        if self._sqlite:
            self._writer = _sqlite_engine(self.url, "write")
            self._reader = _sqlite_engine(self.url, "read")
        else:
            # Servers (PostgreSQL) handle concurrent writers themselves.
            self._writer = self._reader = create_async_engine(self.url, pool_pre_ping=True)
        self._commits = GroupCommit(self._writer)
        # Write-through cache of open questions, the most read row. The database stays the
        # judge: record_attempt only succeeds if the row still matches, and a miss evicts the
        # entry, so another process changing a learner's question costs one refused answer.
        self._open: OrderedDict[int, OpenQuestion | None] = OrderedDict()

    def _remember(self, learner_id: int, open_: OpenQuestion | None) -> None:
        self._open[learner_id] = open_
        self._open.move_to_end(learner_id)
        if len(self._open) > OPEN_CACHE_SIZE:
            self._open.popitem(last=False)

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncConnection]:
        async with self._reader.connect() as conn:
            yield conn

    async def close(self) -> None:
        await self._commits.close()
        await self._writer.dispose()
        if self._reader is not self._writer:
            await self._reader.dispose()

    # --- migrations -----------------------------------------------------------------------------

    async def upgrade(self) -> None:
        """Create or migrate the schema to the newest revision (Alembic ``upgrade head``)."""
        from bot.store.migrate import upgrade_connection

        engine = _sqlite_engine(self.url, "migrate") if self._sqlite else self._writer
        try:
            async with engine.begin() as conn:
                await conn.run_sync(upgrade_connection)
        finally:
            if engine is not self._writer:
                await engine.dispose()

    # --- Store protocol -------------------------------------------------------------------------

    async def learner_id(self, ref: LearnerRef) -> int:
        name = ref.display_name[:100]

        async def op(conn: AsyncConnection) -> int:
            # Inside BEGIN IMMEDIATE nobody else can insert between the select and the insert.
            row = (
                await conn.execute(
                    select(Learner.id, Learner.display_name).where(
                        Learner.platform == ref.platform,
                        Learner.user_id == ref.user_id,
                        Learner.guild_id == ref.guild_id,
                    )
                )
            ).first()
            if row is None:
                result = await conn.execute(
                    insert(Learner).values(
                        platform=ref.platform,
                        user_id=ref.user_id,
                        guild_id=ref.guild_id,
                        display_name=name,
                        created_at=datetime.now(UTC),
                    )
                )
                return int(result.inserted_primary_key[0])
            if row.display_name != name:
                await conn.execute(
                    update(Learner).where(Learner.id == row.id).values(display_name=name)
                )
            return int(row.id)

        return await self._commits.run(op)

    async def open_question(self, learner_id: int) -> OpenQuestion | None:
        if learner_id in self._open:
            return self._open[learner_id]
        async with self._read() as conn:
            row = (
                await conn.execute(
                    select(
                        OpenQuestionRow.question_id,
                        OpenQuestionRow.asked_at,
                        OpenQuestionRow.hinted,
                    ).where(OpenQuestionRow.learner_id == learner_id)
                )
            ).first()
        found = OpenQuestion(row.question_id, row.asked_at, row.hinted) if row else None
        self._remember(learner_id, found)
        return found

    async def set_open_question(self, learner_id: int, open_: OpenQuestion | None) -> None:
        async def op(conn: AsyncConnection) -> None:
            if open_ is None:
                await conn.execute(
                    delete(OpenQuestionRow).where(OpenQuestionRow.learner_id == learner_id)
                )
                return
            values = {
                "question_id": open_.question_id,
                "asked_at": open_.asked_at,
                "hinted": open_.hinted,
            }
            # One upsert statement instead of delete + insert (SQLite and PostgreSQL share it).
            upsert = _dialect_insert(conn.dialect.name)(OpenQuestionRow).values(
                learner_id=learner_id, **values
            )
            await conn.execute(
                upsert.on_conflict_do_update(index_elements=["learner_id"], set_=values)
            )

        self._open.pop(learner_id, None)  # unknown until committed
        await self._commits.run(op)
        self._remember(learner_id, open_)

    async def record_attempt(
        self, learner_id: int, attempt: NewAttempt, answering: OpenQuestion
    ) -> bool:
        async def op(conn: AsyncConnection) -> bool:
            # Closing the question and storing the answer in one transaction makes a double
            # click (or two frontends) record one attempt, not two.
            closed = await conn.execute(
                delete(OpenQuestionRow).where(
                    OpenQuestionRow.learner_id == learner_id,
                    OpenQuestionRow.question_id == answering.question_id,
                    OpenQuestionRow.asked_at == answering.asked_at,
                    OpenQuestionRow.hinted == answering.hinted,
                )
            )
            if closed.rowcount != 1:
                return False
            await conn.execute(
                insert(Attempt).values(
                    learner_id=learner_id,
                    question_id=attempt.question_id,
                    topic=attempt.topic,
                    answer=attempt.answer,
                    correct=attempt.correct,
                    hinted=attempt.hinted,
                    points=attempt.points,
                    time_to_answer_ms=attempt.time_to_answer_ms,
                    answered_at=attempt.answered_at,
                )
            )
            return True

        recorded = await self._commits.run(op)
        if recorded:
            self._remember(learner_id, None)
        else:
            self._open.pop(learner_id, None)  # it changed behind our back: read it again
        return recorded

    async def attempts(self, learner_id: int) -> Sequence[AttemptRow]:
        async with self._read() as conn:
            rows = await conn.execute(
                select(
                    Attempt.question_id,
                    Attempt.topic,
                    Attempt.correct,
                    Attempt.hinted,
                    Attempt.points,
                    Attempt.answered_at,
                )
                .where(Attempt.learner_id == learner_id)
                .order_by(Attempt.answered_at, Attempt.id)
            )
            return [AttemptRow(*row) for row in rows]

    async def leaderboard(
        self, platform: str, guild_id: str, since: datetime | None, limit: int, offset: int
    ) -> Sequence[LeaderRow]:
        # Each question counts once, at its best points (the rule in bot.tutor.progress).
        per_question = (
            select(
                Attempt.learner_id,
                func.max(Attempt.points).label("best"),
                func.count().label("n"),
                func.sum(func.cast(Attempt.correct, type_=Attempt.points.type)).label("right"),
            )
            .join(Learner, Learner.id == Attempt.learner_id)
            .where(Learner.platform == platform, Learner.guild_id == guild_id)
            .group_by(Attempt.learner_id, Attempt.question_id)
        )
        if since is not None:
            per_question = per_question.where(Attempt.answered_at >= since)
        pq = per_question.subquery()
        score = func.sum(pq.c.best).label("score")
        right = func.sum(pq.c.right).label("right")
        query = (
            select(Learner.display_name, score, func.sum(pq.c.n).label("n"), right)
            .join(pq, pq.c.learner_id == Learner.id)
            .group_by(Learner.id, Learner.display_name)
            .order_by(score.desc(), right.desc(), Learner.display_name)
            .limit(limit)
            .offset(offset)
        )
        async with self._read() as conn:
            rows = (await conn.execute(query)).all()
        return [
            LeaderRow(offset + i + 1, r.display_name, int(r.score), int(r.n), int(r.right))
            for i, r in enumerate(rows)
        ]


async def open_store(url: str, *, migrate: bool = True) -> SqlStore:
    """Open (creating its directory if needed) and migrate the database, or raise StoreError."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError("the database URL is not a valid SQLAlchemy URL") from None
    path = _sqlite_file(parsed)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create the database directory {path.parent}: {exc.strerror}"
            ) from None
    try:
        store = SqlStore(parsed)
    except (NoSuchModuleError, ImportError) as exc:
        raise StoreError(
            f"no database driver for {parsed.drivername!r} ({exc}); install it, e.g. "
            "pip install asyncpg for postgresql+asyncpg"
        ) from None
    except ArgumentError as exc:
        raise StoreError(f"invalid database URL {safe_url(parsed)}: {exc}") from None
    if migrate:
        try:
            await store.upgrade()
        except (DBAPIError, OSError) as exc:
            await store.close()
            reason = getattr(exc, "orig", None) or exc
            raise StoreError(f"cannot open the database {safe_url(parsed)}: {reason}") from None
    return store
