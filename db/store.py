"""The SQLAlchemy implementation of the tutor's ``Store``.

Each method is a small synchronous function of a ``Connection`` handed to the ``Database``
(db/database.py), which runs reads in parallel and batches writes into shared
transactions. Every write is committed before its method returns, which is what lets a frontend
promise "committed before the reply".
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import asdict, replace
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from bot.logs import redact, safe_url
from bot.tutor.progress import AttemptRow, LeaderRow
from bot.tutor.review import CardState
from bot.tutor.service import Decide, LearnerRef, NewAttempt
from bot.tutor.session import OpenQuestion
from db.database import Database, connect
from db.errors import StoreError
from db.models import Attempt, Hint, Learner, OpenQuestionRow, ReviewCard, ReviewLog
from db.moderation import ModerationQueries, counted_on_leaderboard

log = logging.getLogger(__name__)

OPEN_CACHE_SIZE = 10_000


def _sqlite_file(url: URL) -> Path | None:
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


# The statements on every answer's path are built once: constructing a statement costs far more
# than SQLite takes to run it (measured: ~400 µs against ~6 µs for an upsert transaction).
_open_t = OpenQuestionRow.__table__
_hints_t = Hint.__table__
_attempts_t = Attempt.__table__
_HINTED = (
    select(_hints_t.c.learner_id)
    .where(
        _hints_t.c.learner_id == bindparam("learner_id"),
        _hints_t.c.question_id == bindparam("question_id"),
    )
    .exists()
)
# The open question, and whether the learner saw a hint for it since they last answered it.
_SELECT_OPEN = (
    select(_open_t.c.question_id, _open_t.c.asked_at, _hints_t.c.learner_id.is_not(None))
    .outerjoin(
        _hints_t,
        (_hints_t.c.learner_id == _open_t.c.learner_id)
        & (_hints_t.c.question_id == _open_t.c.question_id),
    )
    .where(_open_t.c.learner_id == bindparam("learner_id"))
)
_DELETE_OPEN = delete(_open_t).where(_open_t.c.learner_id == bindparam("learner_id"))
_CLOSE_OPEN = delete(_open_t).where(
    _open_t.c.learner_id == bindparam("learner_id"),
    _open_t.c.question_id == bindparam("question_id"),
    _open_t.c.asked_at == bindparam("asked_at"),
)
_DELETE_HINT = delete(_hints_t).where(
    _hints_t.c.learner_id == bindparam("learner_id"),
    _hints_t.c.question_id == bindparam("question_id"),
)
_INSERT_ATTEMPT = insert(_attempts_t)
_cards_t = ReviewCard.__table__
_INSERT_LOG = insert(ReviewLog.__table__)
_CARD_FIELDS = ("state", "step", "stability", "difficulty", "due", "last_review", "last_rating")
_SELECT_CARDS = select(_cards_t.c.question_id, *(_cards_t.c[f] for f in _CARD_FIELDS)).where(
    _cards_t.c.learner_id == bindparam("learner_id")
)
_SELECT_CARD = _SELECT_CARDS.where(_cards_t.c.question_id == bindparam("question_id"))


@cache
def _upsert(dialect: str, table: str) -> Any:
    """Insert, or update the row with the same key. Both dialects spell it the same way."""
    target, keys, fields = {
        "open": (_open_t, ["learner_id"], ("question_id", "asked_at")),
        "card": (_cards_t, ["learner_id", "question_id"], _CARD_FIELDS),
        "hint": (_hints_t, ["learner_id", "question_id"], ()),
    }[table]
    upsert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(target)
    if not fields:
        return upsert.on_conflict_do_nothing(index_elements=keys)
    return upsert.on_conflict_do_update(
        index_elements=keys, set_={c: upsert.excluded[c] for c in fields}
    )


class SqlStore(ModerationQueries):
    def __init__(self, url: str | URL, database: Database | None = None) -> None:
        self.url = make_url(url)
        self._db = database or connect(self.url)
        # Write-through cache of open questions, the most read row. The database stays the
        # judge: record_answer only succeeds if the row still matches, and a miss evicts the
        # entry, so another process changing a learner's question costs one refused answer.
        self._open: OrderedDict[int, OpenQuestion | None] = OrderedDict()

    def _remember(self, learner_id: int, open_: OpenQuestion | None) -> None:
        self._open[learner_id] = open_
        self._open.move_to_end(learner_id)
        if len(self._open) > OPEN_CACHE_SIZE:
            self._open.popitem(last=False)

    async def close(self) -> None:
        await self._db.close()

    async def upgrade(self) -> None:
        """Create or migrate the schema to the newest revision (Alembic ``upgrade head``)."""
        from db.migrate import upgrade_connection

        await self._db.migrate(upgrade_connection)

    # --- Store protocol -------------------------------------------------------------------------

    async def learner_id(self, ref: LearnerRef) -> int:
        name = ref.display_name[:100]

        def op(conn: Connection) -> int:
            # Within the write transaction nobody can insert between this select and the insert.
            row = conn.execute(
                select(Learner.id, Learner.display_name).where(
                    Learner.platform == ref.platform,
                    Learner.user_id == ref.user_id,
                    Learner.guild_id == ref.guild_id,
                )
            ).first()
            if row is None:
                result = conn.execute(
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
                conn.execute(update(Learner).where(Learner.id == row.id).values(display_name=name))
            return int(row.id)

        return await self._db.write(op)

    async def open_question(self, learner_id: int) -> OpenQuestion | None:
        if learner_id in self._open:
            return self._open[learner_id]

        def op(conn: Connection) -> OpenQuestion | None:
            row = conn.execute(_SELECT_OPEN, {"learner_id": learner_id}).first()
            return OpenQuestion(*row) if row else None

        found = await self._db.read(op)
        self._remember(learner_id, found)
        return found

    async def set_open_question(self, learner_id: int, open_: OpenQuestion | None) -> None:
        """Open ``open_`` (or close the open question). ``open_.hinted`` records a hint for its
        question, kept until the learner answers that question; a hint given before is kept
        whatever ``open_.hinted`` says."""

        def op(conn: Connection) -> OpenQuestion | None:
            if open_ is None:
                conn.execute(_DELETE_OPEN, {"learner_id": learner_id})
                return None
            params = {"learner_id": learner_id, "question_id": open_.question_id}
            conn.execute(_upsert(conn.dialect.name, "open"), {**params, "asked_at": open_.asked_at})
            if open_.hinted:
                conn.execute(_upsert(conn.dialect.name, "hint"), params)
                return open_
            return replace(open_, hinted=bool(conn.execute(select(_HINTED), params).scalar()))

        self._open.pop(learner_id, None)  # unknown until committed
        self._remember(learner_id, await self._db.write(op))

    async def record_answer(
        self, learner_id: int, answering: OpenQuestion, decide: Decide
    ) -> tuple[NewAttempt, CardState] | None:
        def op(conn: Connection) -> tuple[NewAttempt, CardState] | None:
            params = {"learner_id": learner_id, "question_id": answering.question_id}
            # A hint given since the caller read ``answering`` (another frontend, a double
            # click) would be graded as no hint: refuse, as for a question no longer open.
            if bool(conn.execute(select(_HINTED), params).scalar()) != answering.hinted:
                return None
            # Closing the question and storing the answer in one transaction makes a double
            # click (or two frontends) record one attempt, not two.
            closed = conn.execute(_CLOSE_OPEN, {**params, "asked_at": answering.asked_at})
            if closed.rowcount != 1:
                return None
            conn.execute(_DELETE_HINT, params)  # graded: the hint has been paid for
            row = conn.execute(_SELECT_CARD, params).first()
            attempt, card = decide(CardState(*row) if row else None)
            conn.execute(_INSERT_ATTEMPT, {"learner_id": learner_id, **asdict(attempt)})
            conn.execute(
                _upsert(conn.dialect.name, "card"), {"learner_id": learner_id, **asdict(card)}
            )
            conn.execute(
                _INSERT_LOG,
                {
                    "learner_id": learner_id,
                    "question_id": card.question_id,
                    "rating": card.last_rating,
                    "reviewed_at": attempt.answered_at,
                    "duration_ms": attempt.time_to_answer_ms,
                },
            )
            return attempt, card

        recorded = await self._db.write(op)
        if recorded:
            self._remember(learner_id, None)
        else:
            self._open.pop(learner_id, None)  # it changed behind our back: read it again
        return recorded

    async def attempts(self, learner_id: int) -> Sequence[AttemptRow]:
        def op(conn: Connection) -> list[AttemptRow]:
            rows = conn.execute(
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
            return [AttemptRow(*row) for row in rows]

        return await self._db.read(op)

    async def cards(self, learner_id: int) -> dict[str, CardState]:
        def op(conn: Connection) -> dict[str, CardState]:
            rows = conn.execute(_SELECT_CARDS, {"learner_id": learner_id})
            return {row.question_id: CardState(*row) for row in rows}

        return await self._db.read(op)

    async def timezone(self, learner_id: int) -> str:
        def op(conn: Connection) -> str:
            query = select(Learner.timezone).where(Learner.id == learner_id)
            return conn.execute(query).scalar_one_or_none() or "UTC"

        return await self._db.read(op)

    async def set_timezone(self, learner_id: int, name: str) -> None:
        def op(conn: Connection) -> None:
            conn.execute(update(Learner).where(Learner.id == learner_id).values(timezone=name))

        await self._db.write(op)

    async def leaderboard(
        self,
        platform: str,
        guild_id: str,
        since: datetime | None,
        limit: int,
        offset: int,
        topic: str | None = None,
    ) -> Sequence[LeaderRow]:
        # XP already excludes early repeats (session.xp_for), so the score is a plain sum.
        score = func.sum(Attempt.points).label("score")
        right = func.sum(func.cast(Attempt.correct, type_=Attempt.points.type)).label("right")
        query = (
            select(Learner.display_name, score, func.count().label("n"), right)
            .join(Attempt, Attempt.learner_id == Learner.id)
            .where(*counted_on_leaderboard(platform, guild_id))
            .group_by(Learner.id, Learner.display_name)
            .order_by(score.desc(), right.desc(), Learner.display_name)
            .limit(limit)
            .offset(offset)
        )
        if since is not None:
            query = query.where(Attempt.answered_at >= since)
        if topic is not None:
            query = query.where(Attempt.topic == topic)

        def op(conn: Connection) -> list[LeaderRow]:
            return [
                LeaderRow(offset + i + 1, r.display_name, int(r.score), int(r.n), int(r.right))
                for i, r in enumerate(conn.execute(query))
            ]

        return await self._db.read(op)


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
