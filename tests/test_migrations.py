"""Alembic migrations: the schema they build equals the models, they never import the models,
and each data migration keeps what was there."""

import subprocess
import sys
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect
from sqlalchemy.ext.asyncio import create_async_engine

from db import open_store
from db.migrate import alembic_config, upgrade_connection
from db.models import Base
from tests.helpers import ROOT, learner, migrations_head


async def test_migration_from_empty_creates_schema_matching_models(db_url):
    store = await open_store(db_url)
    await store.close()
    engine = create_async_engine(db_url)

    def compare(conn):
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        version = conn.exec_driver_sql("select version_num from alembic_version").scalar()
        return diff, version

    async with engine.connect() as conn:
        diff, version = await conn.run_sync(compare)
    await engine.dispose()
    assert diff == [], "models and migrations disagree: write a migration"
    assert version == migrations_head()


async def test_every_migration_goes_down_and_up_again(db_url):
    """Each revision's downgrade undoes its upgrade, on SQLite and PostgreSQL alike."""
    store = await open_store(db_url)
    await store.close()
    engine = create_async_engine(db_url)

    def down_and_up(conn):
        command.downgrade(alembic_config(conn), "base")
        tables = set(inspect(conn).get_table_names()) - {"alembic_version"}
        upgrade_connection(conn)
        return tables

    async with engine.begin() as conn:
        assert await conn.run_sync(down_and_up) == set()
    await engine.dispose()
    store = await open_store(db_url)  # usable again
    await store.learner_id(learner())
    await store.close()


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
        hints = conn.exec_driver_sql("select learner_id, question_id from hints").fetchall()
        assert hints == [(1, "q1")]
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


def test_grades_migration_counts_past_wrong_answers_and_goes_back(tmp_path: Path):
    """0005_grades_rules: a card's lapses are its wrong answers in the review log (not those a
    reset hid); every open question was shown in file order; downgrade drops the columns."""
    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    with engine.begin() as conn:
        upgrade_connection(conn, "0004")
        conn.exec_driver_sql(
            "insert into learners (id, platform, user_id, guild_id, display_name, created_at) "
            "values (1, 't', 'u1', 'g', 'L', '2026-03-01 08:00:00')"
        )
        conn.exec_driver_sql("insert into open_questions values (1, 'q1', '2026-03-01 09:00:00')")
        conn.exec_driver_sql(
            "insert into mod_actions (id, platform, guild_id, moderator_id, moderator_name, "
            "action, reason, created_at) values (7, 't', 'g', 'm', 'M', 'reset', 'r', "
            "'2026-03-02 08:00:00')"
        )
        for qid in ("q1", "q2"):
            conn.exec_driver_sql(
                "insert into review_cards values (1, ?, 1, 0, 1.0, 5.0, "
                "'2026-03-03 09:00:00', '2026-03-03 08:59:00', 1)",
                (qid,),
            )
        logs = [("q1", 1, None), ("q1", 3, None), ("q1", 1, None), ("q1", 1, 7), ("q2", 3, None)]
        for qid, rating, reset in logs:
            conn.exec_driver_sql(
                "insert into review_logs (learner_id, question_id, rating, reviewed_at, "
                "duration_ms, reset_by) values (1, ?, ?, '2026-03-01 09:00:00', 1000, ?)",
                (qid, rating, reset),
            )
    with engine.begin() as conn:
        upgrade_connection(conn)
        lapses = conn.exec_driver_sql(
            "select question_id, lapses, parked_until from review_cards order by question_id"
        ).fetchall()
        order = conn.exec_driver_sql("select choice_order from open_questions").scalar()
        settings = conn.exec_driver_sql(
            "select desired_retention, daily_new_limit from learners"
        ).fetchall()
    assert lapses == [("q1", 2, None), ("q2", 0, None)]
    assert order is None and settings == [(0.9, 20)]
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0004")
        columns = {r[1] for r in conn.exec_driver_sql("pragma table_info(review_cards)")}
        assert "lapses" not in columns and "parked_until" not in columns
        assert conn.exec_driver_sql("select count(*) from review_logs").scalar() == 5
    engine.dispose()


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


def test_study_tables_come_and_go_with_0008(tmp_path: Path):
    """0008 only adds tables: a database at 0007 keeps its rows, and downgrading drops them."""
    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    with engine.begin() as conn:
        upgrade_connection(conn, "0007_web_dashboard")
        conn.exec_driver_sql(
            "insert into learners (id, platform, user_id, guild_id, display_name, created_at) "
            "values (1, 't', 'u1', 'g', 'L', '2026-03-01 08:00:00')"
        )
    with engine.begin() as conn:
        upgrade_connection(conn)
        conn.exec_driver_sql("insert into study_learners (learner_id, topic) values (1, 'shapes')")
        conn.exec_driver_sql("insert into study_threads values (1, '10', '11')")
        conn.exec_driver_sql("insert into study_servers (platform, guild_id) values ('t', 'g')")
        assert conn.exec_driver_sql("select count(*) from learners").scalar() == 1
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0007_web_dashboard")
        tables = {r[0] for r in conn.exec_driver_sql("select name from sqlite_master")}
        assert not {"study_learners", "study_threads", "study_servers"} & tables
        assert conn.exec_driver_sql("select count(*) from learners").scalar() == 1
    engine.dispose()
