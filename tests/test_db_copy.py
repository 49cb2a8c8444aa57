"""`python -m bot db copy --to URL`: a SQLite database into PostgreSQL, every table and row, ids
kept and sequences moved past them; a target holding data is refused unless --replace."""

import subprocess
import sys

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from bot.services import build_web_access
from bot.settings import Settings
from bot.tutor.moderator import Actor, Authority, Moderator
from bot.tutor.reports import Reports
from bot.tutor.service import Tutor
from bot.tutor.study import Filters, Mode, ServerStudy, StudyState
from db import open_store
from db.models import Base
from db.reports import ReportQueries
from tests.helpers import ROOT, learner
from tests.helpers import select as rows

pytestmark = pytest.mark.postgres
MOD = Actor("test", "g1", "mod-1", "Mo", Authority.MANAGER)


async def _history(url, bank, clock):
    """Something in every table: answers, a hint, an open question, every kind of action, a
    report on a question, a dashboard link."""
    store = await open_store(url)
    tutor = Tutor(bank, store, now=clock, shuffle=False)
    mods = Moderator(bank, store.moderation, now=clock)
    for name in ("Ada", "Bob", "Cy"):
        for text in ("2", "global average pooling"):
            await tutor.quiz(learner(name))
            clock.advance(seconds=20)
            await tutor.answer(learner(name), text)
    await tutor.quiz(learner("Ada"))
    await tutor.hint(learner("Ada"))
    await tutor.set_timezone(learner("Bob"), "Asia/Tokyo")
    await mods.reset(MOD, "bob", "shared account")
    await mods.undo(MOD, 1, "mistake")
    await mods.reset(MOD, "cy", "spam")
    await mods.exclude(MOD, "ada", "test account")
    await mods.set_role(MOD, "role-7", "leads")
    await build_web_access(Settings(), store).dashboard_link(MOD)  # a web_links row
    ada = await store.learner_id(learner("Ada"))  # study settings, filters, a thread
    await store.study.save_server("test", "g1", ServerStudy(Mode.THREAD, False, ("7",)))
    await store.study.save_state(ada, StudyState(Mode.EPHEMERAL, Filters("shapes", 2)))
    await store.study.save_thread(ada, "7", "8")
    reports = Reports(bank, ReportQueries(store.database, store.learner_id), store.moderation)
    await reports.report(learner("Ada"), "easy-choice", "Two choices look right.")
    await store.close()


async def _everything(url):
    """Every row, but the learners' version stamps, which a copy moves on purpose (db/copy.py)."""
    engine = create_async_engine(url)
    found = {}
    async with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            columns = [c for c in table.columns if c.name != "state_version"]
            query = select(*columns).order_by(*table.primary_key.columns)
            found[table.name] = [tuple(row) for row in await conn.execute(query)]
    await engine.dispose()
    return found


def _copy(source, target, *extra):
    command = [sys.executable, "-m", "bot", "db", "copy", "--database-url", source]
    return subprocess.run(
        [*command, "--to", target, *extra],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


async def test_a_sqlite_database_is_copied_to_postgresql_whole(sqlite_url, pg_url, bank, clock):
    await _history(sqlite_url, bank, clock)
    # The test server trusts local connections: the password is there to be kept secret.
    target = pg_url.replace("://tutor@", "://tutor:S3cretPass@")
    done = _copy(sqlite_url, target)
    assert done.returncode == 0, done.stderr
    assert "Copied" in done.stdout and "S3cretPass" not in done.stdout + done.stderr
    source, copied = await _everything(sqlite_url), await _everything(pg_url)
    assert copied == source
    assert all(source.values()), "the history leaves rows in every table"

    # The copy is a working store: new rows get new ids (sequences moved past the copied ones).
    store = await open_store(pg_url)
    tutor = Tutor(bank, store, now=clock, shuffle=False)
    mods = Moderator(bank, store.moderation, now=clock)
    await tutor.quiz(learner("Dee"))
    await tutor.answer(learner("Dee"), "2")
    assert "action #6" in (await mods.exclude(MOD, "dee", "again")).text
    assert await store.learner_id(learner("Dee")) == len(source["learners"]) + 1
    await store.close()


async def test_a_target_holding_data_is_refused_unless_replaced(sqlite_url, pg_url, bank, clock):
    await _history(sqlite_url, bank, clock)
    assert _copy(sqlite_url, pg_url).returncode == 0
    store = await open_store(pg_url)
    await store.learner_id(learner("Only-in-target"))
    await store.close()
    before = await _everything(pg_url)

    refused = _copy(sqlite_url, pg_url)
    assert refused.returncode == 1
    assert f"database {pg_url} already holds data (" in refused.stderr
    assert "4 learners" in refused.stderr and "--replace" in refused.stderr
    assert await _everything(pg_url) == before  # nothing changed
    [(old_top,)] = await rows(pg_url, "select max(state_version) from learners")

    replaced = _copy(sqlite_url, pg_url, "--replace")
    assert replaced.returncode == 0, replaced.stderr
    assert await _everything(pg_url) == await _everything(sqlite_url)
    # Every copied learner's version is past any the target had: a process still running on it
    # reads them again rather than take them for what it cached (tests/test_cluster_store.py).
    [(new_bottom,)] = await rows(pg_url, "select min(state_version) from learners")
    assert old_top > 0 and new_bottom > old_top


def test_a_bad_target_is_one_safe_line(sqlite_url):
    for target, message in [
        ("::not a url S3cretPass", "the database URL is not a valid SQLAlchemy URL"),
        (sqlite_url, "the source and the target are the same database"),
    ]:
        done = _copy(sqlite_url, target)
        assert done.returncode == 1
        assert done.stderr == f"error: {message}\n"


def test_an_unreachable_target_is_one_safe_line(sqlite_url):
    done = _copy(sqlite_url, "postgresql+asyncpg://u:S3cretPass@127.0.0.1:1/nowhere")
    assert done.returncode == 1
    assert done.stderr.startswith("error: cannot reach the database server (postgresql+")
    assert done.stderr.count("\n") == 1
    assert "S3cretPass" not in done.stderr and "Traceback" not in done.stderr
