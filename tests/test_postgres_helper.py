"""The tests' own PostgreSQL server (tests/postgres.py) never outlives the test run that started
it, even one killed with SIGKILL (no teardown, no atexit)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import ROOT
from tests.postgres import INSTALL, find_bin_dir, require_postgres

# A test session in miniature: starts a server as the `postgres` fixture does, says which
# process is the server and where its files are, and waits to be killed.
SESSION = """\
import sys, time
from pathlib import Path
from tests.postgres import PostgresServer
server = PostgresServer(Path(sys.argv[1]))
server.start()
pid = int((server.data / "postmaster.pid").read_text().split()[0])
print(pid, server.root, flush=True)
time.sleep(600)
"""


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


@pytest.mark.postgres
def test_a_killed_test_session_takes_its_postgresql_server_along() -> None:
    bin_dir = find_bin_dir()
    if bin_dir is None:
        if require_postgres():
            pytest.fail(f"PostgreSQL server binaries not found: {INSTALL}", pytrace=False)
        pytest.skip(f"PostgreSQL server binaries not found ({INSTALL})")
    session = subprocess.Popen(
        [sys.executable, "-c", SESSION, str(bin_dir)], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    assert session.stdout is not None
    pid_text, root_text = session.stdout.readline().split()
    server, root = int(pid_text), Path(root_text)
    try:
        assert alive(server) and root.is_dir()
        session.send_signal(signal.SIGKILL)
        session.wait(30)
        deadline = time.monotonic() + 60
        while (alive(server) or root.exists()) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not alive(server), "the PostgreSQL server outlived the killed test session"
        assert not root.exists()
    finally:
        if session.poll() is None:
            session.kill()
        if alive(server):  # what the guard failed to stop: not left to the next run
            os.kill(server, signal.SIGKILL)
        shutil.rmtree(root, ignore_errors=True)
