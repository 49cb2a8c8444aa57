"""Progress storage: SQLAlchemy 2 models, the async store, and Alembic migrations."""

from bot.store.sql import SqlStore, StoreError, open_store

__all__ = ["SqlStore", "StoreError", "open_store"]
