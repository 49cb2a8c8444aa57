from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from bot.tutor.content import Bank, load_bank
from bot.tutor.service import LearnerRef, Tutor
from db import SqlStore, open_store
from db.database import AsyncServer

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_BANK = Path(__file__).parent / "data" / "bank"


@pytest.fixture
def bank() -> Bank:
    return load_bank(SAMPLE_BANK)


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'tutor.db'}"


@pytest.fixture(params=["threaded-sqlite", "async-engine"])
async def store(request: pytest.FixtureRequest, db_url: str) -> AsyncIterator[SqlStore]:
    """The store as it runs on SQLite, and through SQLAlchemy's async engine (aiosqlite here),
    the path a database server such as PostgreSQL takes."""
    if request.param == "threaded-sqlite":
        store = await open_store(db_url)
    else:
        store = SqlStore(db_url, AsyncServer(make_url(db_url)))
        await store.upgrade()
    yield store
    await store.close()


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def tutor(bank: Bank, store: SqlStore, clock: Clock) -> Tutor:
    return Tutor(bank, store, now=clock)


def learner(name: str = "ada", guild: str = "g1", platform: str = "test") -> LearnerRef:
    return LearnerRef(platform, name.lower(), guild, name)
