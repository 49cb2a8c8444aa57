"""The SQLAlchemy implementation of the tutor's ``Store`` (and, in ``store.moderation``, of the
moderator's ``ModerationStore``).

Each method is a small synchronous function of a ``Connection`` handed to the ``Database``
(db/database.py), which runs reads in parallel and batches writes into shared transactions.
Every write is committed before its method returns, which is what lets a frontend promise
"committed before the reply".

What every command reads about a learner (their id and name, open question, review cards,
settings, the day's new-question count) is kept in bounded write-through caches, so that an
answer costs one transaction and few reads. The database stays the judge: ``record_answer``
stores an answer only if the question is still open as the caller saw it, and grades against the
card as stored.

Other processes writing the same learners (db/versions.py):

- SQLite: another process (or store) writing the same file is noticed at our next write, which
  then drops every cache; until then it can cost one refused answer or one question chosen from
  a stale schedule, never a wrong grade.
- A database server (PostgreSQL: several bot processes, a shard cluster, the web dashboard's
  process): every write that changes a learner's cached state raises their ``state_version`` in
  its transaction, and every read checks the version before using the cache, in its one round
  trip: what a learner does elsewhere is seen at once. The learner's id is cached without a
  check (ids never change; a display name is written again when it differs from the one this
  store last wrote).
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
from db.versions import LearnerCache, LearnerCaches, bump

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
        # What other processes may change: checked against the learner's version where their
        # writes are not seen (a server), dropped when they are (SQLite; the module's docstring).
        self._caches = LearnerCaches(versioned=not self._db.sees_foreign_writes)
        self._open: LearnerCache[OpenQuestion | None] = self._caches.new(learners_cached)
        self._settings: LearnerCache[LearnerSettings] = self._caches.new(learners_cached)
        # learner id -> (since, questions first answered since then): /quiz asks it whenever a
        # new question would come next, so it is counted once a day and kept up to date here
        self._new_since: LearnerCache[tuple[datetime, int]] = self._caches.new(learners_cached)
        # learner id -> their cards, updated in place as answers are recorded; callers get
        # read-only views of it
        self._cards: LearnerCache[dict[str, CardState]] = self._caches.new(
            cards_cached, weigh=_card_count
        )
        self._foreign_writes = self._db.foreign_writes
        self.study = StudyQueries(self._db, self._write, self._caches)
        self.moderation = ModerationQueries(
            self._db, changed=self._forget_learner, guild_changed=self.study.forget_server
        )

    @property
    def database(self) -> Database:
        return self._db

    def _forget_learner(self, learner_id: int) -> None:
        """The learner's progress changed outside the answer path (a moderator's reset, undo)."""
        self._caches.forget(learner_id)

    async def _write(self, op: Callable[[Connection], T]) -> T:
        result = await self._db.write(op)
        if self._db.foreign_writes != self._foreign_writes:
            # Someone else wrote to the database since our last write: trust nothing cached.
            # (The result of this write is fresh: it was read in a transaction holding the lock.)
            self._foreign_writes = self._db.foreign_writes
            self._learners.clear()
            self._caches.clear()
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
        def load(conn: Connection) -> OpenQuestion | None:
            row = Sql(conn).first(q.OPEN_QUESTION_OF, {"learner_id": learner_id})
            return build(OpenQuestion, row, order=_order(row["choice_order"])) if row else None

        return await self._open.read(self._db, learner_id, load)

    async def set_open_question(self, learner_id: int, open_: OpenQuestion | None) -> None:
        """Open ``open_`` (or close the open question). ``open_.hinted`` records a hint for its
        question, kept until the learner answers that question; a hint given before is kept
        whatever ``open_.hinted`` says."""

        def op(conn: Connection) -> tuple[int, OpenQuestion | None]:
            sql = Sql(conn)
            version = bump(conn, learner_id)
            if open_ is None:
                sql.run(q.DROP_OPEN_QUESTION, {"learner_id": learner_id})
                return version, None
            params = {"learner_id": learner_id, "question_id": open_.question_id}
            order = ",".join(map(str, open_.order)) or None
            opening = {**params, "asked_at": open_.asked_at, "choice_order": order}
            sql.run(q.REPLACE_OPEN_QUESTION, opening)
            if open_.hinted or open_.revealed:
                sql.run(q.KEEP_HINT, {**params, "revealed": open_.revealed})
            hint = sql.first(q.HINT_OF, params)
            revealed = hint is not None and bool(hint["revealed"])
            return version, replace(open_, hinted=hint is not None, revealed=revealed)

        self._open.forget(learner_id)  # unknown until committed
        version, opened = await self._write(op)
        self._open.put(learner_id, version, opened)
        self._caches.wrote(learner_id, version)

    async def record_answer(
        self, learner_id: int, answering: OpenQuestion, decide: Decide
    ) -> tuple[NewAttempt, CardState | None] | None:
        params = {"learner_id": learner_id, "question_id": answering.question_id}
        first_answer = False
        version = 0

        def op(conn: Connection) -> tuple[NewAttempt, CardState | None] | None:
            nonlocal first_answer, version
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
            version = bump(conn, learner_id)
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
        recorded: tuple[NewAttempt, CardState | None] | None = await self._write(op)
        if recorded:
            # What was cached at the version before this write, and changed by it, is
            # updated; the rest is moved to this version (db/versions.py).
            before = version - 1
            self._open.put(learner_id, version, None)
            if first_answer:  # one more new question: counted, or counted again when asked
                counted = self._new_since.at(learner_id, before)
                if counted is not MISSING and counted[0] <= recorded[0].answered_at:
                    self._new_since.put(learner_id, version, (counted[0], counted[1] + 1))
                else:
                    self._new_since.forget(learner_id)  # also refuses a count being read
            card = recorded[1]
            if card is not None:
                cards = self._cards.at(learner_id, before)
                if cards is MISSING:
                    self._cards.forget(learner_id)
                else:
                    cards[card.question_id] = card
                    self._cards.put(learner_id, version, cards)  # weighs it again
            self._caches.wrote(learner_id, version)
        return recorded

    async def cards(self, learner_id: int) -> Cards:
        """The learner's review cards by question id: a read-only view, which shows the cards
        this store records from now on too."""

        def load(conn: Connection) -> dict[str, CardState]:
            rows = Sql(conn).rows(q.CARDS_OF, {"learner_id": learner_id})
            return {row["question_id"]: build(CardState, row) for row in rows}

        return MappingProxyType(await self._cards.read(self._db, learner_id, load))

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
        await self._save_settings(learner_id, timezone=name)

    async def _save_settings(self, learner_id: int, **values: object) -> None:
        def op(conn: Connection) -> int:
            conn.execute(update(Learner).where(Learner.id == learner_id).values(**values))
            return bump(conn, learner_id)

        self._settings.forget(learner_id)  # read again when next asked
        self._caches.wrote(learner_id, await self._write(op))

    async def learner_settings(self, learner_id: int) -> LearnerSettings:
        def load(conn: Connection) -> LearnerSettings:
            columns = (Learner.timezone, Learner.desired_retention, Learner.daily_new_limit)
            row = conn.execute(select(*columns).where(Learner.id == learner_id)).first()
            return LearnerSettings() if row is None else build(LearnerSettings, row._mapping)

        return await self._settings.read(self._db, learner_id, load)

    async def save_learning_settings(
        self, learner_id: int, desired_retention: float, daily_new_limit: int
    ) -> None:
        await self._save_settings(
            learner_id, desired_retention=desired_retention, daily_new_limit=daily_new_limit
        )

    async def new_questions_since(self, learner_id: int, since: datetime) -> int:
        def load(conn: Connection) -> tuple[datetime, int]:
            # Built here, on a miss only: building it costs more than a cached answer.
            first_answers = (
                select(Attempt.question_id)
                .where(
                    Attempt.learner_id == learner_id,
                    Attempt.reset_by.is_(None),
                    # Practice variants are not new questions of the curriculum (practice.py).
                    Attempt.question_id.not_like(f"{PRACTICE_PREFIX}%"),
                )
                .group_by(Attempt.question_id)
                .having(func.min(Attempt.answered_at) >= since)
                .subquery()
            )
            query = select(func.count()).select_from(first_answers)
            return since, int(conn.execute(query).scalar_one())

        def same_day(counted: tuple[datetime, int]) -> bool:
            return counted[0] == since

        return (await self._new_since.read(self._db, learner_id, load, same_day))[1]

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
