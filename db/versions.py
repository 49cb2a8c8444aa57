"""Per-learner caches that stay true when other processes write: version stamps.

A store caches what every command reads about a learner (open question and hint, review cards,
settings, the day's new-question count, study state), so that an answer does not read them all
back. Where another process may write the same learner (several bot processes, the web
dashboard's process), a cache must not outlive their writes:

- SQLite: a store notices another connection's commits at its next write (``PRAGMA
  data_version``, db/sqlite.py) and drops every cache. The caches here are then plain
  (``versioned`` False): an entry is used as long as it is there, and versions are not raised
  (``bump``).
- A database server tells nothing, so each learner's row carries ``state_version``, raised by
  one in the same transaction as every write that changes what is cached about them (``bump``:
  the store's writes, moderators' resets, undos and exclusions, study state; ``db copy`` moves
  them all past any version a process can hold). An entry keeps the version it was read at.
  Every read first asks the server for the current version (one primary-key row) and reads the
  data too, on the same connection, only when the version moved: a write committed by any
  process before a read starts is seen by that read.
  Version first, then data: data read after the version is at least as new, so an entry never
  claims an older version's place with newer data it cannot vouch for, only the reverse (which
  costs one read more).

A store's own write learns the version it made (``RETURNING``). Entries of that learner read at
the version just before it are still true after it, unless the write changed them: the store
then puts what it wrote (write-through) or forgets the entry, *before* ``wrote`` moves the
others to the new version. An entry with any other version (two writes racing, another process
in between) is left as it is and read again when next used: a wrong version costs a read, never
a stale answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, Literal, TypeVar

from sqlalchemy import Connection

from db import statements as q
from db.cache import MISSING, Lru, _Missing
from db.database import Database
from db.statements import Sql

V = TypeVar("V")
NO_LEARNER = -1  # the version of a learner id with no row (nothing cached can match it)
Entry = tuple[int, V]  # (the learner's version when read or written, the value)


def bump(conn: Connection, learner_id: int) -> int:
    """Raise the learner's version, in ``conn``'s write transaction; the new version.

    Not on SQLite's own driver: that is db/sqlite.py's store, which sees other writers by
    ``data_version`` and never reads versions, and the UPDATE would cost it ~35 µs of CPU a
    write (an answer's ~490 µs became ~555: measured in NOTES-w5-pgcache). Its version stays
    0 (``db copy`` moves them past the target's anyway)."""
    if conn.dialect.driver == "pysqlite":
        return 0
    row = Sql(conn).first(q.BUMP_VERSION, {"learner_id": learner_id})
    return NO_LEARNER if row is None else int(row["state_version"])


def version_of(conn: Connection, learner_id: int) -> int:
    row = Sql(conn).first(q.VERSION_OF, {"learner_id": learner_id})
    return NO_LEARNER if row is None else int(row["state_version"])


def _one(_value: Any) -> int:
    return 1


class LearnerCache(Generic[V]):
    """One kind of value per learner id (bounded, least recently used first out)."""

    def __init__(self, capacity: int, versioned: bool, weigh: Callable[[V], int] = _one) -> None:
        self.versioned = versioned
        self._lru: Lru[int, Entry[V]] = Lru(capacity, weigh=lambda entry: weigh(entry[1]))

    def __len__(self) -> int:
        return len(self._lru)

    @property
    def weight(self) -> int:
        return self._lru.weight

    async def read(
        self,
        db: Database,
        learner_id: int,
        load: Callable[[Connection], V],
        usable: Callable[[V], bool] = lambda _value: True,
    ) -> V:
        """The learner's value: cached if still true (and ``usable``), else ``load``-ed."""
        entry = self._lru.get(learner_id)
        if entry is not MISSING and not usable(entry[1]):
            entry = MISSING
        if entry is not MISSING and not self.versioned:
            return entry[1]
        mark = self._lru.reserve(learner_id)  # a write meanwhile wins over this read (db/cache.py)

        def op(conn: Connection) -> Entry[V]:
            if not self.versioned:
                return 0, load(conn)
            version = version_of(conn, learner_id)  # first: see the module's docstring
            if entry is not MISSING and entry[0] == version:
                return entry
            return version, load(conn)

        found: Entry[V] = await db.read(op)
        self._lru.fill(learner_id, mark, found)
        return found[1]

    def at(self, learner_id: int, version: int) -> V | Literal[_Missing.MISSING]:
        """The cached value if it was true at ``version`` (any version, if not versioned)."""
        entry = self._lru.get(learner_id)
        if entry is MISSING or (self.versioned and entry[0] != version):
            return MISSING
        return entry[1]

    def put(self, learner_id: int, version: int, value: V) -> None:
        self._lru.put(learner_id, (version, value))

    def advance(self, learner_id: int, version: int) -> None:
        """A write that left this value as it was made ``version``: the entry holds there too
        if it held just before."""
        if not self.versioned:
            return
        entry = self._lru.get(learner_id)
        if entry is not MISSING and entry[0] == version - 1:
            self._lru.put(learner_id, (version, entry[1]))

    def forget(self, learner_id: int) -> None:
        self._lru.forget(learner_id)

    def clear(self) -> None:
        self._lru.clear()


class LearnerCaches:
    """Every per-learner cache of one store (its own and its study part's), so that a write
    can move them all, and a reset or another writer drop them all."""

    def __init__(self, versioned: bool) -> None:
        self.versioned = versioned
        self._all: list[LearnerCache[Any]] = []

    def new(self, capacity: int, weigh: Callable[[V], int] = _one) -> LearnerCache[V]:
        cache: LearnerCache[V] = LearnerCache(capacity, self.versioned, weigh)
        self._all.append(cache)
        return cache

    def wrote(self, learner_id: int, version: int) -> None:
        """After the caches this write changed were put or forgotten (module docstring)."""
        for cache in self._all:
            cache.advance(learner_id, version)

    def forget(self, learner_id: int) -> None:
        for cache in self._all:
            cache.forget(learner_id)

    def clear(self) -> None:
        for cache in self._all:
            cache.clear()
