"""Named SQL statements, and how they run.

The statements on every answer's path, and every upsert, are written here once, each bound to a
name that says what it does, in the SQL that SQLite and PostgreSQL share (``ON CONFLICT`` upserts,
``RETURNING``) with ``:name`` parameters. ``Sql`` runs them on a connection:

- on SQLite's own driver (the store's threads), straight on the ``sqlite3`` connection inside
  SQLAlchemy's transaction. SQLAlchemy's execution path (cache lookup, execution context, result
  object) costs ~30 µs a statement on these machines against ~5 µs for sqlite3 itself, and an
  answer runs five or six of them;
- on any other driver (database servers, aiosqlite), through SQLAlchemy as ``text()`` with the
  column types declared, so that values are converted as the models convert them.

Rows come back as mappings and become dataclasses by column name (``build``), never by position.
Other queries (leaderboards, moderation reports) are SQLAlchemy Core, built from the models.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import MISSING, fields
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Boolean, Connection, TextClause, bindparam, text

from bot.tutor.review import CardState
from db.database import driver_connection
from db.models import UtcDateTime

T = TypeVar("T")
Row = Mapping[Any, Any]  # a column name -> its value (also SQLAlchemy's RowMapping)


class Statement:
    """One SQL statement. ``times`` names the parameters and result columns holding aware UTC
    datetimes (``UtcDateTime`` columns); ``flags`` the result columns that are booleans."""

    __slots__ = ("clause", "flags", "sql", "times")

    def __init__(self, sql: str, *, times: Sequence[str] = (), flags: Sequence[str] = ()) -> None:
        self.sql = " ".join(sql.split())
        self.times = tuple(times)
        self.flags = tuple(flags)
        params = set(re.findall(r"(?<![:\w]):(\w+)", self.sql))
        clause: Any = text(self.sql).bindparams(
            *(bindparam(name, type_=UtcDateTime) for name in self.times if name in params)
        )
        if self.sql.startswith("SELECT") or " RETURNING " in self.sql:
            columns = {name: UtcDateTime for name in self.times if name not in params}
            clause = clause.columns(**columns, **dict.fromkeys(self.flags, Boolean))
        self.clause: TextClause = clause


# --- Learners ----------------------------------------------------------------------------------

# Insert a learner, or rename one already there; either way, its id.
SAVE_LEARNER = Statement(
    """
    INSERT INTO learners (platform, user_id, guild_id, display_name, created_at)
    VALUES (:platform, :user_id, :guild_id, :display_name, :created_at)
    ON CONFLICT (platform, user_id, guild_id) DO UPDATE SET display_name = excluded.display_name
    RETURNING id
    """,
    times=("created_at",),
)

# A learner's version stamp (db/versions.py): raised with every write that changes what a store
# caches about them, and read before a store on a database server uses its cache.
BUMP_VERSION = Statement(
    """
    UPDATE learners SET state_version = state_version + 1 WHERE id = :learner_id
    RETURNING state_version
    """
)
VERSION_OF = Statement("SELECT state_version FROM learners WHERE id = :learner_id")

# --- The open question and hints --------------------------------------------------------------

# The learner's open question, and whether they saw a hint for it (or ran its code: revealed)
# since they last answered it.
OPEN_QUESTION_OF = Statement(
    """
    SELECT o.question_id AS question_id, o.asked_at AS asked_at,
           o.choice_order AS choice_order,
           h.learner_id IS NOT NULL AS hinted,
           COALESCE(h.revealed, FALSE) AS revealed
    FROM open_questions o
    LEFT JOIN hints h ON h.learner_id = o.learner_id AND h.question_id = o.question_id
    WHERE o.learner_id = :learner_id
    """,
    times=("asked_at",),
    flags=("hinted", "revealed"),
)
# Open a question for the learner, replacing the one open before (a learner has at most one).
REPLACE_OPEN_QUESTION = Statement(
    """
    INSERT INTO open_questions (learner_id, question_id, asked_at, choice_order)
    VALUES (:learner_id, :question_id, :asked_at, :choice_order)
    ON CONFLICT (learner_id) DO UPDATE
    SET question_id = excluded.question_id, asked_at = excluded.asked_at,
        choice_order = excluded.choice_order
    """,
    times=("asked_at",),
)
DROP_OPEN_QUESTION = Statement("DELETE FROM open_questions WHERE learner_id = :learner_id")
# Close the question being answered, only if it is still open as the caller saw it: the same
# question, asked at the same time, with a hint (and a revealing run) on record exactly when the
# caller graded it so. One row closed means the answer may be stored; none, that something
# changed.
CLOSE_ANSWERED_QUESTION = Statement(
    """
    DELETE FROM open_questions
    WHERE learner_id = :learner_id AND question_id = :question_id AND asked_at = :asked_at
      AND EXISTS (SELECT 1 FROM hints WHERE learner_id = :learner_id
                  AND question_id = :question_id) = :hinted
      AND EXISTS (SELECT 1 FROM hints WHERE learner_id = :learner_id
                  AND question_id = :question_id AND revealed) = :revealed
    """,
    times=("asked_at",),
)
HINT_OF = Statement(
    """
    SELECT revealed FROM hints WHERE learner_id = :learner_id AND question_id = :question_id
    """,
    flags=("revealed",),
)
# Record that the learner saw a hint for the question, or ran its code (revealed); a second
# hint changes nothing, and a reveal is never forgotten until the question is answered.
KEEP_HINT = Statement(
    """
    INSERT INTO hints (learner_id, question_id, revealed)
    VALUES (:learner_id, :question_id, :revealed)
    ON CONFLICT (learner_id, question_id) DO UPDATE
    SET revealed = hints.revealed OR excluded.revealed
    """
)
SPEND_HINT = Statement(
    "DELETE FROM hints WHERE learner_id = :learner_id AND question_id = :question_id"
)

# --- Answers and review cards ------------------------------------------------------------------

ADD_ATTEMPT = Statement(
    """
    INSERT INTO attempts (learner_id, question_id, topic, answer, correct, hinted, points,
                          time_to_answer_ms, answered_at, revealed, retry)
    VALUES (:learner_id, :question_id, :topic, :answer, :correct, :hinted, :points,
            :time_to_answer_ms, :answered_at, :revealed, :retry)
    """,
    times=("answered_at",),
)
# Add an answer to the leaderboard's rollup (db/leaderboard.py), in its transaction.
ADD_TO_ROLLUP = Statement(
    """
    INSERT INTO leaderboard_days (learner_id, day, topic, platform, guild_id, xp, answers, correct)
    SELECT id, :day, :topic, platform, guild_id, :xp, 1, :correct FROM learners
    WHERE id = :learner_id
    ON CONFLICT (learner_id, day, topic) DO UPDATE
    SET xp = leaderboard_days.xp + excluded.xp, answers = leaderboard_days.answers + 1,
        correct = leaderboard_days.correct + excluded.correct
    """
)
ADD_REVIEW_LOG = Statement(
    """
    INSERT INTO review_logs (learner_id, question_id, rating, reviewed_at, duration_ms)
    VALUES (:learner_id, :question_id, :rating, :reviewed_at, :duration_ms)
    """,
    times=("reviewed_at",),
)

# A card's columns are CardState's fields, by name.
CARD_COLUMNS = tuple(f.name for f in fields(CardState))
CARD_DEFAULTS = {f.name: f.default for f in fields(CardState) if f.default is not MISSING}
_CARD_TIMES = ("due", "last_review", "parked_until")
_CARD_SELECT = f"SELECT {', '.join(CARD_COLUMNS)} FROM review_cards WHERE learner_id = :learner_id"
CARDS_OF = Statement(_CARD_SELECT, times=_CARD_TIMES)
CARD_OF = Statement(_CARD_SELECT + " AND question_id = :question_id", times=_CARD_TIMES)
_CARD_UPSERT = f"""
    INSERT INTO review_cards (learner_id, {", ".join(CARD_COLUMNS)})
    VALUES (:learner_id, {", ".join(":" + c for c in CARD_COLUMNS)})
    ON CONFLICT (learner_id, question_id) DO UPDATE
    SET {", ".join(f"{c} = excluded.{c}" for c in CARD_COLUMNS[1:])}
    """
DROP_CARDS = Statement("DELETE FROM review_cards WHERE learner_id = :learner_id")
# Store the learner's card for a question, replacing the one before.
SAVE_CARD = Statement(_CARD_UPSERT, times=_CARD_TIMES)
# Put back a card that a reset removed, unless the learner has reviewed the question since
# (the newer card wins).
RESTORE_CARD = Statement(
    _CARD_UPSERT
    + " WHERE excluded.last_review IS NOT NULL AND review_cards.last_review < excluded.last_review",
    times=_CARD_TIMES,
)

# --- Guild settings ----------------------------------------------------------------------------

# Choose the guild's moderator role (None: only Manage Server), replacing any chosen before.
SET_MODERATOR_ROLE = Statement(
    """
    INSERT INTO guild_settings (platform, guild_id, moderator_role_id)
    VALUES (:platform, :guild_id, :moderator_role_id)
    ON CONFLICT (platform, guild_id) DO UPDATE SET moderator_role_id = excluded.moderator_role_id
    """
)


# --- Running them ------------------------------------------------------------------------------


def to_sqlite_time(value: datetime) -> str:
    """An aware datetime as SQLAlchemy's SQLite dialect stores ``UtcDateTime``: UTC, no zone,
    always six fractional digits (so that the text sorts as the time does)."""
    if value.tzinfo is not UTC:
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use an aware UTC datetime")
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")


def from_sqlite_time(value: str) -> datetime:
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


# PostgreSQL text cannot hold NUL (SQLite can): every database stores U+FFFD in its place, so a
# name or answer with one is kept alike everywhere instead of failing on one of them.
NUL, REPLACEMENT = "\x00", "\ufffd"


def db_text(value: str) -> str:
    return value.replace(NUL, REPLACEMENT) if NUL in value else value


def _storable(params: Mapping[str, Any]) -> Mapping[str, Any]:
    if not any(isinstance(v, str) and NUL in v for v in params.values()):
        return params  # the common case: no copy
    return {k: db_text(v) if isinstance(v, str) else v for k, v in params.items()}


class Sql:
    """Runs named statements on ``conn``, in whatever transaction it is in."""

    __slots__ = ("_conn", "_raw")

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._raw: Any = driver_connection(conn) if conn.dialect.driver == "pysqlite" else None

    def run(self, statement: Statement, params: Mapping[str, Any]) -> int:
        """Run an INSERT, UPDATE or DELETE; the number of rows it changed."""
        params = _storable(params)
        if self._raw is None:
            return int(self._conn.execute(statement.clause, dict(params)).rowcount)
        return int(self._raw.execute(statement.sql, _to_sqlite(statement, params)).rowcount)

    def rows(self, statement: Statement, params: Mapping[str, Any]) -> list[Row]:
        params = _storable(params)
        if self._raw is None:
            return [row._mapping for row in self._conn.execute(statement.clause, dict(params))]
        cursor = self._raw.execute(statement.sql, _to_sqlite(statement, params))
        names = [column[0] for column in cursor.description]
        return [_from_sqlite(statement, dict(zip(names, row, strict=True))) for row in cursor]

    def first(self, statement: Statement, params: Mapping[str, Any]) -> Row | None:
        rows = self.rows(statement, params)
        return rows[0] if rows else None


def _to_sqlite(statement: Statement, params: Mapping[str, Any]) -> Mapping[str, Any]:
    if not statement.times:
        return params
    converted = dict(params)
    for name in statement.times:
        value = converted.get(name)
        if value is not None:
            converted[name] = to_sqlite_time(value)
    return converted


def _from_sqlite(statement: Statement, row: dict[str, Any]) -> Row:
    for name in statement.times:
        value = row.get(name)
        if value is not None:
            row[name] = from_sqlite_time(value)
    for name in statement.flags:
        if name in row:
            row[name] = bool(row[name])
    return row


_FIELDS: dict[type, tuple[str, ...]] = {}  # one entry per dataclass used: bounded by the code


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(f.name for f in fields(cls))
    return names


def columns_of(value: Any, **extra: Any) -> dict[str, Any]:
    """The fields of a dataclass as statement parameters, by name (``build`` the other way)."""
    return {**{name: getattr(value, name) for name in _field_names(type(value))}, **extra}


def build(cls: type[T], row: Row, **values: Any) -> T:
    """A ``cls`` dataclass from the columns of ``row`` named as its fields (``values`` given
    here win). A missing column is a KeyError naming it, never a value in the wrong field."""
    return cls(
        **{name: values[name] if name in values else row[name] for name in _field_names(cls)}
    )
