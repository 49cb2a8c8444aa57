"""Alembic migrations: the schema they build equals the models, they never import the models,
and each data migration keeps what was there."""

import subprocess
import sys
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from db import open_store
from db.migrate import alembic_config, upgrade_connection
from db.models import Base
from tests.helpers import ROOT


async def test_migration_from_empty_creates_schema_matching_models(db_url):
    store = await open_store(db_url)
    await store.close()
    engine = create_engine(db_url.replace("+aiosqlite", ""))
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        version = conn.exec_driver_sql("select version_num from alembic_version").scalar()
    engine.dispose()
    assert diff == [], "models and migrations disagree: write a migration"
    assert version == "0005_web_dashboard"


def test_hinted_open_questions_become_hints_when_migrating(tmp_path: Path):
    """0004 moves the hint flag from open questions to hints, and back on downgrade."""

    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    with engine.begin() as conn:
        upgrade_connection(conn, "0003")
        for lid in (1, 2):
            conn.exec_driver_sql(
                f"insert into learners (id, platform, user_id, guild_id, display_name, "
                f"created_at) values ({lid}, 't', 'u{lid}', 'g', 'L', '2026-03-01 08:00:00')"
            )
        conn.exec_driver_sql(
            "insert into open_questions values (1, 'q1', '2026-03-01 09:00:00', 1),"
            " (2, 'q2', '2026-03-01 09:00:00', 0)"
        )
    with engine.begin() as conn:
        upgrade_connection(conn)
        assert conn.exec_driver_sql("select * from hints").fetchall() == [(1, "q1")]
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0003")
        rows = conn.exec_driver_sql("select learner_id, hinted from open_questions")
        assert sorted(rows) == [(1, 1), (2, 0)]
    engine.dispose()


def test_existing_attempts_are_folded_into_review_cards(tmp_path: Path):
    """Migrating a database made before review cards: history becomes cards and log rows, and
    XP earned by answering again before a review was due is taken back."""

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        upgrade_connection(conn, "0001")
        conn.exec_driver_sql(
            "insert into learners values (1, 'discord', 'u1', 'g1', 'Ada', '2026-03-01 08:00:00')"
        )
        rows = [
            (1, "q1", 0, 0, 0, "2026-03-01 09:00:00"),  # wrong
            (2, "q1", 1, 0, 10, "2026-03-01 09:00:30"),  # right 30 s later: not due yet
            (3, "q1", 1, 0, 10, "2026-03-05 09:00:00"),  # due again: counts
            (4, "q2", 1, 1, 5, "2026-03-01 09:05:00"),  # right with a hint
        ]
        for attempt_id, qid, correct, hinted, points, when in rows:
            conn.exec_driver_sql(
                "insert into attempts values (?, 1, ?, 't', 'a', ?, ?, ?, 1000, ?)",
                (attempt_id, qid, correct, hinted, points, when),
            )
    with engine.begin() as conn:
        upgrade_connection(conn)
        stored = conn.exec_driver_sql("select id, points from attempts order by id").fetchall()
        ratings = conn.exec_driver_sql(
            "select question_id, rating from review_logs order by reviewed_at"
        ).fetchall()
        cards = conn.exec_driver_sql(
            "select question_id, last_rating from review_cards order by question_id"
        ).fetchall()
        tz = conn.exec_driver_sql("select timezone from learners").scalar()
    engine.dispose()
    assert stored == [(1, 0), (2, 0), (3, 10), (4, 5)]
    assert ratings == [("q1", 1), ("q1", 3), ("q2", 2), ("q1", 3)]
    assert cards == [("q1", 3), ("q2", 2)]
    assert tz == "UTC"


def test_migrations_import_nothing_from_the_live_models(tmp_path: Path):
    """A migration must do forever what it did when written; the models keep changing. So a
    full upgrade, in a fresh interpreter, must not load db.models (or anything of the tutor)."""
    script = (
        "import sys\n"
        "from sqlalchemy import create_engine\n"
        "from db.migrate import upgrade_connection\n"
        "with create_engine(sys.argv[1]).begin() as conn:\n"
        "    upgrade_connection(conn)\n"
        "print(sorted(m for m in sys.modules if m == 'db.models' or m.startswith('bot.tutor')))\n"
    )
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    done = subprocess.run(
        [sys.executable, "-c", script, url], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"
