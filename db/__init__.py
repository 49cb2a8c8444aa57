"""Persistence: the SQLAlchemy models, the store, how it reaches the database, its migrations.

``bot/`` holds the tutor and its frontends; this package implements the tutor's ``Store`` (and
the moderator's) on SQLAlchemy. The error classes import nothing heavy; the store is imported on
first use, so that ``from db import StoreError`` does not import SQLAlchemy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from db.errors import (
    DatabaseBusy,
    DatabaseCorrupt,
    DatabaseFull,
    DatabaseReadOnly,
    DatabaseTooNew,
    StoreError,
)

if TYPE_CHECKING:
    from db.store import SqlStore, open_store

__all__ = [
    "DatabaseBusy",
    "DatabaseCorrupt",
    "DatabaseFull",
    "DatabaseReadOnly",
    "DatabaseTooNew",
    "SqlStore",
    "StoreError",
    "open_store",
]


def __getattr__(name: str) -> Any:
    if name in ("SqlStore", "open_store"):
        from db import store

        return getattr(store, name)
    raise AttributeError(f"module 'db' has no attribute {name!r}")
