"""Progress storage: SQLAlchemy 2 models, the async store, and Alembic migrations."""

from bot.store.errors import (
    DatabaseBusy,
    DatabaseCorrupt,
    DatabaseFull,
    DatabaseReadOnly,
    DatabaseTooNew,
    StoreError,
)
from bot.store.sql import SqlStore, open_store

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
