"""Fixtures shared by the whole suite, and the guard that keeps `make test-fast` honest.

Helpers that tests import live in tests/helpers.py (tests import nothing from a conftest)."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from bot.tutor.content import Bank, load_bank
from bot.tutor.service import Tutor
from db import SqlStore, open_store
from db.database import AsyncServer
from tests.helpers import SAMPLE_BANK, Clock
from tests.postgres import INSTALL, PostgresServer, find_bin_dir, require_postgres
from tests.runner import redis_server

# A runner started by a test (the bot's child service, a fleet host) verifies no content in the
# background unless that test asks for it (tests/runner/test_runner_prefill.py): it would
# compete with the test's own snippets for the machine's two cores.
os.environ.setdefault("TUTOR_RUNNER__PREFILL_CACHE", "false")


@pytest.fixture
def bank() -> Bank:
    return load_bank(SAMPLE_BANK)


# --- The databases the store's tests run on ------------------------------------------------------
#
# A test that takes ``db_url`` (or ``store``, or anything built on it) runs on SQLite and on a
# real PostgreSQL server; a test that takes ``store`` also runs through SQLAlchemy's async engine
# on aiosqlite. Tests of SQLite's own behaviour take ``sqlite_url``.


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        if "store" in metafunc.fixturenames:
            params = ["threaded-sqlite", "async-engine", "postgresql"]
        else:
            params = ["sqlite", "postgresql"]
        metafunc.parametrize("backend", params, indirect=True)


# The longest files run first (seconds on a quiet 2-core machine, run alone). `make test` runs
# the suite in two processes (pytest-xdist, a whole file to one of them at a time, in this
# order: --no-loadscope-reorder), so a long file left for the end would run there alone.
LONGEST_FIRST = (
    "tests/runner/test_runner_equality.py",  # 77
    "tests/runner/test_runner_fleet.py",  # 69
    "tests/runner/test_runner_hostile.py",  # 37
    "tests/runner/test_runner_pool.py",  # 31
    "tests/test_console.py",  # 24
    "tests/runner/test_runner_service.py",  # 23
    "tests/web/test_app.py",  # 22
    "tests/test_moderation.py",  # 22
    "tests/runner/test_runner_isolation.py",  # 21
    "tests/test_odd_input.py",  # 18
    "tests/test_cluster.py",  # 16
    "tests/test_console_failures.py",  # 15
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.nodeid.split("::", 1)[0]
        return LONGEST_FIRST.index(path) if path in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: every other test keeps its place
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("backend") == "postgresql":
            item.add_marker(pytest.mark.postgres)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the session, started here and stopped at the end."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        message = (
            "PostgreSQL server binaries not found (initdb, pg_ctl): run "
            f"'{INSTALL}' (or set TUTOR_TEST_PG_BIN to their directory)"
        )
        if require_postgres():
            pytest.fail(message, pytrace=False)
        pytest.skip(f"{message}; skipped outside CI and `make test`")
    server = PostgresServer(bin_dir)
    try:
        server.start()
    except RuntimeError as exc:
        server.stop()
        pytest.fail(str(exc), pytrace=False)
    yield server
    server.stop()


@pytest.fixture
def pg_url(postgres: PostgresServer) -> Iterator[str]:
    """A new, empty database on the session's PostgreSQL server, dropped after the test."""
    name = postgres.create_database()
    yield postgres.url(name)
    postgres.drop_database(name)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'tutor.db'}"


@pytest.fixture
def db_url(backend: str, request: pytest.FixtureRequest, sqlite_url: str) -> str:
    if backend == "postgresql":
        return str(request.getfixturevalue("pg_url"))
    return sqlite_url


@pytest.fixture
async def store(backend: str, db_url: str) -> AsyncIterator[SqlStore]:
    """The store as it runs on SQLite; through SQLAlchemy's async engine on aiosqlite (the path
    a database server takes, on a file); and on PostgreSQL."""
    if backend == "async-engine":
        store = SqlStore(db_url, AsyncServer(make_url(db_url)))
        await store.upgrade()
    else:
        store = await open_store(db_url)
    yield store
    await store.close()


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A Redis server of the test's own (tests/runner/redis_server.py). Skipped where
    redis-server is not installed, but never on CI, which installs it (.ci/run)."""
    redis_server.require()
    with redis_server.redis_server() as url:
        yield url


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def tutor(bank: Bank, store: SqlStore, clock: Clock) -> Tutor:
    # File order: these tests name choices by their number in the file; tests of the shuffle
    # build their own Tutor.
    return Tutor(bank, store, now=clock, shuffle=False)


# --- make test-fast: no test outside the `slow` mark may start a sandbox or import TensorFlow ----
#
# When a run selects no `slow` test (`make test-fast`, or a few fast files), every sandbox this
# process starts is counted through the interpreter's audit hook on subprocess.Popen, so a test
# that needs the sandbox but lacks the mark fails instead of quietly making the edit loop slow
# (or failing on a machine without bubblewrap). In a full run the slow tests' shared pool refills
# in the background, so the guard is off there. Sandboxes started by a subprocess the test runs
# (`python -m bot ...`) are out of its sight; see README, "Development".

_sandboxes_started = 0


def _count_sandboxes(event: str, args: tuple[Any, ...]) -> None:
    global _sandboxes_started
    if event != "subprocess.Popen":
        return
    try:  # an audit hook must never raise into the code it watches
        argv = args[1]
        words = [argv] if isinstance(argv, str | bytes) else list(argv)
        # bwrap may come after a wrapper (`nice -n 10 bwrap ...`).
        if any(os.path.basename(os.fsdecode(word)) == "bwrap" for word in words):
            _sandboxes_started += 1
    except Exception:
        pass  # arguments it cannot read are not a sandbox start


_GUARD = pytest.StashKey[bool]()
_HEAVY = {"tensorflow", "keras"}


def pytest_collection_finish(session: pytest.Session) -> None:
    if not any(item.get_closest_marker("slow") for item in session.items):
        session.config.stash[_GUARD] = True
        sys.addaudithook(_count_sandboxes)


@pytest.fixture(autouse=True)
def _fast_tests_start_no_sandbox(request: pytest.FixtureRequest) -> Iterator[None]:
    if not request.config.stash.get(_GUARD, False):
        yield
        return
    started, imported = _sandboxes_started, _HEAVY & sys.modules.keys()
    yield
    assert _sandboxes_started == started, (
        f"{request.node.nodeid} started a sandbox: mark it @pytest.mark.slow"
    )
    heavy = sorted(_HEAVY & sys.modules.keys() - imported)
    assert not heavy, f"{request.node.nodeid} imported {heavy}: mark it @pytest.mark.slow"
