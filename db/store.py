"""The SQLAlchemy implementation of the tutor's ``Store`` (and, in ``store.moderation``, of the
moderator's ``ModerationStore``).

Each method is a small synchronous function of a ``Connection`` handed to the ``Database``
(db/database.py), which runs reads in parallel and batches writes into shared transactions.
Every write is committed before its method returns, which is what lets a frontend promise
"committed before the reply".

What every command reads about a learner (their id and name, open question, review cards) is
kept in bounded write-through caches, so that an answer costs one transaction and no read. The
database stays the judge: ``record_answer`` stores an answer only if the question is still open
as the caller saw it, and grades against the card as stored. Another process (or store) writing
the same SQLite file is noticed at our next write, which then drops every cache; until then it
can cost one refused answer or one question chosen from a stale schedule, never a wrong grade.

On a database server (PostgreSQL: several bot processes, a shard cluster) nothing tells a store
that another process wrote, so what a learner does elsewhere (an answer through another shard's
process, a moderator's reset on the web dashboard) is read from the database every time: only
the learner's id is cached there (ids never change; a display name is written again when it
differs from the one this store last wrote).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import TypeVar

from sqlalchemy import Connection, func, select, update
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from bot.logs import redact, safe_url
from bot.tutor.content import PRACTICE_PREFIX
from bot.tutor.progress import AttemptRow, LeaderRow, Standing
from bot.tutor.review import CardState
from bot.tutor.service import Decide, LearnerRef, LearnerSettings, NewAttempt
from bot.tutor.session import OpenQuestion
from db import statements as q
from db.cache import MISSING, Lru
from db.database import Database, connect
from db.errors import StoreError
from db.leaderboard import day_number, leaderboard, standing
from db.models import Attempt, Learner
from db.moderation import ModerationQueries
from db.statements import Sql, build, columns_of
from db.study import StudyQueries

log = logging.getLogger(__name__)
T = TypeVar("T")

# Bounds of the caches. Learners: an id and a name, or an open question, ~200 bytes each. Cards
# are counted one by one (~550 bytes each): 50,000 is ~600 learners with 80 cards each.
LEARNERS_CACHED = 10_000
CARDS_CACHED = 50_000

# Integer columns are 32-bit on PostgreSQL: a question answered weeks after it was asked is
# recorded with this time instead of failing there (SQLite would store any size).
MAX_MS = 2**31 - 1
# Ids are kept whole or refused: cutting one short could make two users one.
ID_COLUMNS = {
    "platform": Learner.platform,
    "user id": Learner.user_id,
    "guild id": Learner.guild_id,
}

Cards = Mapping[str, CardState]
LearnerKey = tuple[str, str, str]


def _order(stored: str | None) -> tuple[int, ...]:
    """A choice order as ``open_questions.choice_order`` keeps it ("2,0,1"; NULL: file order)."""
    return tuple(int(i) for i in stored.split(",")) if stored else ()


def _card_count(cards: Cards) -> int:
    return max(1, len(cards))


def _sqlite_file(url: URL) -> Path | None:
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


class SqlStore:
    def __init__(
        self,
        url: str | URL,
        database: Database | None = None,
        *,
        learners_cached: int = LEARNERS_CACHED,
        cards_cached: int = CARDS_CACHED,
    ) -> None:
        self.url = make_url(url)
        self._db = database or connect(self.url)
        # (platform, user id, guild id) -> (learner id, display name as stored)
        self._learners: Lru[LearnerKey, tuple[int, str]] = Lru(learners_cached)
        # What other processes change is cached only where their writes are seen (SQLite);
        # a capacity of 0 keeps nothing (the module's docstring).
        sees_others = self._db.sees_foreign_writes
        state_cached = learners_cached if sees_others else 0
        self._open: Lru[int, OpenQuestion | None] = Lru(state_cached)
        self._settings: Lru[int, LearnerSettings] = Lru(state_cached)
        # learner id -> (since, questions first answered since then): /quiz asks it whenever a
        # new question would come next, so it is counted once a day and kept up to date here
        self._new_since: Lru[int, tuple[datetime, int]] = Lru(state_cached)
        # learner id -> their cards, updated in place as answers are recorded; callers get
        # read-only views of it
        self._cards: Lru[int, dict[str, CardState]] = Lru(
            cards_cached if sees_others else 0, weigh=_card_count
        )
        self._foreign_writes = self._db.foreign_writes
        self.study = StudyQueries(self._db, self._write)
        self.moderation = ModerationQueries(
            self._db, changed=self._forget_learner, guild_changed=self.study.forget_server
        )

    @property
    def database(self) -> Database:
        return self._db

    def _forget_learner(self, learner_id: int) -> None:
        """The learner's progress changed outside the answer path (a moderator's reset, undo)."""
        self._open.forget(learner_id)
        self._cards.forget(learner_id)
        self._new_since.forget(learner_id)

    async def _write(self, op: Callable[[Connection], T]) -> T:
        result = await self._db.write(op)
        if self._db.foreign_writes != self._foreign_writes:
            # Someone else wrote to the database since our last write: trust nothing cached.
            # (The result of this write is fresh: it was read in a transaction holding the lock.)
            self._foreign_writes = self._db.foreign_writes
            self._learners.clear()
            self._open.clear()
            self._settings.clear()
            self._new_since.clear()
            self._cards.clear()
            self.study.forget_all()
        return result

    async def close(self) -> None:
        await self._db.close()

    async def upgrade(self) -> None:
        """Create or migrate the schema to the newest revision (Alembic ``upgrade head``)."""
        from db.migrate import upgrade_connection

        await self._db.migrate(upgrade_connection)

    # --- Store protocol -------------------------------------------------------------------------

    async def learner_id(self, ref: LearnerRef) -> int:
        """The learner's id, created on first use. A new display name is stored at the next
        call that brings it; an unchanged one costs nothing."""
        key = (ref.platform, ref.user_id, ref.guild_id)
        for what, value in zip(ID_COLUMNS, key, strict=True):
            length = ID_COLUMNS[what].type.length
            if length is not None and len(value) > length:
                raise ValueError(f"the {what} is longer than {length} characters")
        name = ref.display_name[:100]
        known = self._learners.get(key)
        if known is not MISSING and known[1] == name:
            return known[0]
        params = {
            "platform": ref.platform,
            "user_id": ref.user_id,
            "guild_id": ref.guild_id,
            "display_name": name,
            "created_at": datetime.now(UTC),
        }

        def op(conn: Connection) -> int:
            row = Sql(conn).first(q.SAVE_LEARNER, params)
            assert row is not None  # RETURNING gives the row inserted or updated
            return int(row["id"])

        learner_id: int = await self._write(op)
        self._learners.put(key, (learner_id, name))
        return learner_id

    async def open_question(self, learner_id: int) -> OpenQuestion | None:
        cached = self._open.get(learner_id)
        if cached is not MISSING:
            return cached
        mark = self._open.reserve(learner_id)

        def op(conn: Connection) -> OpenQuestion | None:
            row = Sql(conn).first(q.OPEN_QUESTION_OF, {"learner_id": learner_id})
            return build(OpenQuestion, row, order=_order(row["choice_order"])) if row else None

        found: OpenQuestion | None = await self._db.read(op)
        self._open.fill(learner_id, mark, found)
        return found

    async def set_open_question(self, learner_id: int, open_: OpenQuestion | None) -> None:
        """Open ``open_`` (or close the open question). ``open_.hinted`` records a hint for its
        question, kept until the learner answers that question; a hint given before is kept
        whatever ``open_.hinted`` says."""

        def op(conn: Connection) -> OpenQuestion | None:
            sql = Sql(conn)
            if open_ is None:
                sql.run(q.DROP_OPEN_QUESTION, {"learner_id": learner_id})
                return None
            params = {"learner_id": learner_id, "question_id": open_.question_id}
            order = ",".join(map(str, open_.order)) or None
            opening = {**params, "asked_at": open_.asked_at, "choice_order": order}
            sql.run(q.REPLACE_OPEN_QUESTION, opening)
            if open_.hinted or open_.revealed:
                sql.run(q.KEEP_HINT, {**params, "revealed": open_.revealed})
            hint = sql.first(q.HINT_OF, params)
            revealed = hint is not None and bool(hint["revealed"])
            return replace(open_, hinted=hint is not None, revealed=revealed)

        self._open.forget(learner_id)  # unknown until committed
        self._open.put(learner_id, await self._write(op))

    async def record_answer(
        self, learner_id: int, answering: OpenQuestion, decide: Decide
    ) -> tuple[NewAttempt, CardState | None] | None:
        params = {"learner_id": learner_id, "question_id": answering.question_id}
        first_answer = False

        def op(conn: Connection) -> tuple[NewAttempt, CardState | None] | None:
            nonlocal first_answer
            sql = Sql(conn)
            # Closing the question and storing the answer in one transaction makes a double
            # click (or two frontends) record one attempt, not two. A hint given since the
            # caller read ``answering`` would be graded as no hint: refused the same way.
            closing = {
                **params,
                "asked_at": answering.asked_at,
                "hinted": answering.hinted,
                "revealed": answering.revealed,
            }
            if sql.run(q.CLOSE_ANSWERED_QUESTION, closing) != 1:
                return None
            if answering.hinted or answering.revealed:
                sql.run(q.SPEND_HINT, params)  # graded: the hint has been paid for
            row = sql.first(q.CARD_OF, params)
            attempt, card = decide(build(CardState, row) if row else None)
            duration_ms = min(attempt.time_to_answer_ms, MAX_MS)
            stored = columns_of(attempt, learner_id=learner_id, time_to_answer_ms=duration_ms)
            sql.run(q.ADD_ATTEMPT, stored)
            rollup = {
                "learner_id": learner_id,
                "day": day_number(attempt.answered_at),
                "topic": attempt.topic,
                "xp": attempt.points,
                "correct": int(attempt.correct),
            }
            sql.run(q.ADD_TO_ROLLUP, rollup)
            if card is None:  # not scheduled (a practice variant): no card, no review log
                return attempt, None
            first_answer = row is None
            sql.run(q.SAVE_CARD, columns_of(card, learner_id=learner_id))
            log_row = {
                "learner_id": learner_id,
                "question_id": card.question_id,
                "rating": card.last_rating,
                "reviewed_at": attempt.answered_at,
                "duration_ms": duration_ms,
            }
            sql.run(q.ADD_REVIEW_LOG, log_row)
            return attempt, card

        self._open.forget(learner_id)
        counted = self._new_since.get(learner_id)
        recorded: tuple[NewAttempt, CardState | None] | None = await self._write(op)
        if recorded:
            self._open.put(learner_id, None)
            if first_answer:  # one more new question: counted, or counted again when asked
                if counted is not MISSING and counted[0] <= recorded[0].answered_at:
                    self._new_since.put(learner_id, (counted[0], counted[1] + 1))
                else:
                    self._new_since.forget(learner_id)  # also refuses a count being read
            card = recorded[1]
            cards = self._cards.get(learner_id)
            if cards is not MISSING and card is not None:
                cards[card.question_id] = card
                self._cards.put(learner_id, cards)  # weighs it again
        return recorded

    async def cards(self, learner_id: int) -> Cards:
        """The learner's review cards by question id: a read-only view, which shows the cards
        this store records from now on too."""
        cached = self._cards.get(learner_id)
        if cached is not MISSING:
            return MappingProxyType(cached)
        mark = self._cards.reserve(learner_id)

        def op(conn: Connection) -> dict[str, CardState]:
            rows = Sql(conn).rows(q.CARDS_OF, {"learner_id": learner_id})
            return {row["question_id"]: build(CardState, row) for row in rows}

        cards: dict[str, CardState] = await self._db.read(op)
        self._cards.fill(learner_id, mark, cards)
        return MappingProxyType(cards)

    async def attempts(self, learner_id: int) -> Sequence[AttemptRow]:
        query = (
            select(
                Attempt.question_id,
                Attempt.topic,
                Attempt.correct,
                Attempt.hinted,
                Attempt.points,
                Attempt.answered_at,
            )
            .where(Attempt.learner_id == learner_id, Attempt.reset_by.is_(None))
            .order_by(Attempt.answered_at, Attempt.id)
        )

        def op(conn: Connection) -> list[AttemptRow]:
            return [build(AttemptRow, row._mapping) for row in conn.execute(query)]

        return await self._db.read(op)

    async def timezone(self, learner_id: int) -> str:
        def op(conn: Connection) -> str:
            query = select(Learner.timezone).where(Learner.id == learner_id)
            return conn.execute(query).scalar_one_or_none() or "UTC"

        return await self._db.read(op)

    async def set_timezone(self, learner_id: int, name: str) -> None:
        def op(conn: Connection) -> None:
            conn.execute(update(Learner).where(Learner.id == learner_id).values(timezone=name))

        self._settings.forget(learner_id)
        await self._write(op)

    async def learner_settings(self, learner_id: int) -> LearnerSettings:
        cached = self._settings.get(learner_id)
        if cached is not MISSING:
            return cached
        mark = self._settings.reserve(learner_id)

        def op(conn: Connection) -> LearnerSettings:
            columns = (Learner.timezone, Learner.desired_retention, Learner.daily_new_limit)
            row = conn.execute(select(*columns).where(Learner.id == learner_id)).first()
            return LearnerSettings() if row is None else build(LearnerSettings, row._mapping)

        found: LearnerSettings = await self._db.read(op)
        self._settings.fill(learner_id, mark, found)
        return found

    async def save_learning_settings(
        self, learner_id: int, desired_retention: float, daily_new_limit: int
    ) -> None:
        values = {"desired_retention": desired_retention, "daily_new_limit": daily_new_limit}

        def op(conn: Connection) -> None:
            conn.execute(update(Learner).where(Learner.id == learner_id).values(**values))

        self._settings.forget(learner_id)
        await self._write(op)

    async def new_questions_since(self, learner_id: int, since: datetime) -> int:
        cached = self._new_since.get(learner_id)
        if cached is not MISSING and cached[0] == since:
            return cached[1]
        mark = self._new_since.reserve(learner_id)
        first_answers = (
            select(Attempt.question_id)
            .where(
                Attempt.learner_id == learner_id,
                Attempt.reset_by.is_(None),
                # Practice variants are not new questions of the curriculum (tutor/practice.py).
                Attempt.question_id.not_like(f"{PRACTICE_PREFIX}%"),
            )
            .group_by(Attempt.question_id)
            .having(func.min(Attempt.answered_at) >= since)
            .subquery()
        )
        query = select(func.count()).select_from(first_answers)

        def op(conn: Connection) -> int:
            return int(conn.execute(query).scalar_one())

        count: int = await self._db.read(op)
        self._new_since.fill(learner_id, mark, (since, count))
        return count

    async def leaderboard(
        self,
        platform: str,
        guild_id: str,
        since: datetime | None,
        limit: int,
        offset: int,
        topic: str | None = None,
    ) -> Sequence[LeaderRow]:
        return await self._db.read(leaderboard(platform, guild_id, since, limit, offset, topic))

    async def standing(
        self,
        platform: str,
        guild_id: str,
        since: datetime | None,
        topic: str | None,
        user_id: str,
    ) -> Standing:
        return await self._db.read(standing(platform, guild_id, since, topic, user_id))


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
            f"no database driver for {parsed.drivername!r} ({_first_line(exc)}); install it, "
            "e.g. pip install asyncpg for postgresql+asyncpg"
        ) from None
    except ArgumentError as exc:
        # SQLAlchemy's message repeats the URL (password hidden, query shown) over many lines.
        raise StoreError(
            f"invalid database URL {safe_url(parsed)}: {redact(_first_line(exc))}"
        ) from None
    if migrate:
        try:
            await store.upgrade()  # errors arrive as StoreError subclasses
        except BaseException:
            await store.close()
            raise
    return store


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
