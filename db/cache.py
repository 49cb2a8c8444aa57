"""A bounded, least-recently-used map for the store's write-through caches.

The store keeps a few things per learner in memory (their id and display name, open question,
review cards) so that the answer path does not read them back from the database every time. Each
cache is bounded: it holds at most ``capacity`` units of ``weigh(value)`` (one per entry by
default) and forgets the least recently used entries beyond that, so memory follows the number
of *active* learners, not of every learner ever seen.

A capacity of 0 keeps nothing: every read goes to the database (a server's study settings on
PostgreSQL, db/study.py). Per-learner caches are ``LearnerCache``s (db/versions.py) over these.

A read that misses and then goes to the database can race with a write of the same key: the
write's result must win. ``reserve`` marks the key before the read; ``fill`` stores the read's
result only if nothing touched the key meanwhile (a ``put`` or ``forget`` replaces the mark).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from enum import Enum, auto
from typing import Final, Generic, Literal, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Reservation:
    """The mark a pending read leaves in the cache (see ``Lru.reserve``)."""

    __slots__ = ()


class _Missing(Enum):
    MISSING = auto()


MISSING: Final = _Missing.MISSING  # what get() returns for a key not cached


def _one(_value: object) -> int:
    return 1


class Lru(Generic[K, V]):
    def __init__(self, capacity: int, weigh: Callable[[V], int] = _one) -> None:
        if capacity < 0:
            raise ValueError("a cache's capacity is 0 (keep nothing) or more")
        self.capacity = capacity
        self._weigh = weigh
        # key -> (value or a pending read's mark, its weight); oldest first
        self._entries: OrderedDict[K, tuple[V | Reservation, int]] = OrderedDict()
        self.weight = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K) -> V | Literal[_Missing.MISSING]:
        """The value for ``key`` (now the most recently used), or MISSING."""
        entry = self._entries.get(key)
        if entry is None or isinstance(entry[0], Reservation):
            return MISSING
        self._entries.move_to_end(key)
        return entry[0]

    def put(self, key: K, value: V) -> None:
        self._store(key, value, self._weigh(value))

    def forget(self, key: K) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self.weight -= entry[1]

    def clear(self) -> None:
        self._entries.clear()
        self.weight = 0

    def reserve(self, key: K) -> Reservation:
        """Mark ``key`` as being read from the database; pass the mark to ``fill``."""
        mark = Reservation()
        self._store(key, mark, 0)
        return mark

    def fill(self, key: K, mark: Reservation, value: V) -> None:
        """Store a value read after ``reserve``, unless the key was written since."""
        entry = self._entries.get(key)
        if entry is not None and entry[0] is mark:
            self._store(key, value, self._weigh(value))

    def _store(self, key: K, value: V | Reservation, weight: int) -> None:
        self.forget(key)
        if self.capacity == 0:
            return
        self._entries[key] = (value, weight)
        self.weight += weight
        # Evict the least recently used (by weight, and by count for pending reads, which
        # weigh nothing), but never the entry just stored.
        while len(self._entries) > 1 and (
            self.weight > self.capacity or len(self._entries) > self.capacity
        ):
            _, (_, dropped) = self._entries.popitem(last=False)
            self.weight -= dropped
