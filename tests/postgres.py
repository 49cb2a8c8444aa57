"""A throwaway PostgreSQL server for the tests: initdb into a temporary directory, started on a
free local port with pg_ctl, stopped and removed at the end of the session. Nothing assumes a
server is already running, and nothing outside the temporary directory is touched.

PostgreSQL refuses to run as root (CI runs as root), so as root the server runs as the
``postgres`` system user that Debian's package creates (``setpriv``), owning its directory.

Whether a missing PostgreSQL fails or skips the tests that need it: ``require_postgres()``.

pg_ctl detaches the server (its own session), so a test run that is killed (SIGKILL, a CI
timeout killing the process group) would leave it running: a watchdog process of its own
session waits on a pipe from this process and stops the server when the pipe closes, which the
kernel does when this process dies, however it dies (``_WATCHDOG``). A normal exit that skips
the fixture's teardown is covered by ``atexit`` too.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

INSTALL = "apt-get install postgresql"
# Where Debian and Ubuntu put the server binaries (not on PATH); newest first.
DEBIAN_BIN = "/usr/lib/postgresql/*/bin"
USER = "tutor"  # the superuser initdb creates; trust authentication on the local port only


def require_postgres() -> bool:
    """True when a missing PostgreSQL must fail the tests rather than skip them: in CI (CI=true),
    and in `make test` (TUTOR_TEST_POSTGRES=require), which is the whole suite. A developer
    without PostgreSQL can still run `make test-fast` or plain pytest: those tests are skipped,
    with the reason in the summary."""
    return os.environ.get("CI") == "true" or os.environ.get("TUTOR_TEST_POSTGRES") == "require"


def find_bin_dir() -> Path | None:
    """The directory holding initdb and pg_ctl: TUTOR_TEST_PG_BIN (then only there), PATH, or
    Debian's place."""
    given = os.environ.get("TUTOR_TEST_PG_BIN")
    if given:
        return Path(given) if (Path(given) / "initdb").exists() else None
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).resolve().parent  # Debian links them from /usr/lib/postgresql
    found = sorted(Path("/").glob(DEBIAN_BIN.lstrip("/")), key=_version, reverse=True)
    return next((d for d in found if (d / "initdb").exists() and (d / "pg_ctl").exists()), None)


# Run as `python -c _WATCHDOG ROOT ARGV...`: blocks until standard input closes (the test
# process ended), then stops the server with ARGV (pg_ctl stop) and removes ROOT.
_WATCHDOG = """\
import shutil, subprocess, sys
sys.stdin.read()
subprocess.run(sys.argv[2:], capture_output=True, timeout=60)
shutil.rmtree(sys.argv[1], ignore_errors=True)
"""


def _version(path: Path) -> tuple[int, ...]:
    part = path.parent.name
    return tuple(int(x) for x in part.split(".") if x.isdigit())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="tutor-pg-"))
        self.data = self.root / "data"
        self.port = 0
        self._names = itertools.count(1)
        self._as: list[str] = []
        self._watchdog: subprocess.Popen[bytes] | None = None
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError(
                    "PostgreSQL cannot run as root and there is no 'postgres' user to run it as "
                    f"({INSTALL} creates it)"
                ) from None
            shutil.chown(self.root, "postgres", "postgres")
            self._as = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"]

    def _run(self, argv: Sequence[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [*self._as, *argv],
            capture_output=True,
            text=True,
            cwd=self.root,
            timeout=120,
            **kwargs,  # type: ignore[call-overload]
        )
        if done.returncode != 0:
            raise RuntimeError(f"{Path(argv[0]).name} failed: {done.stderr.strip()[-2000:]}")
        return done

    def start(self) -> None:
        self._run(
            [
                str(self.bin_dir / "initdb"),
                "-D",
                str(self.data),
                "-U",
                USER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ]
        )
        # A port taken between choosing it and the server binding it: try another.
        for attempt in range(3):
            self.port = _free_port()
            options = (
                f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                # A test server: durability is not what is tested, speed is welcome.
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                "-c max_connections=200"
            )
            try:
                self._run(
                    [
                        str(self.bin_dir / "pg_ctl"),
                        "-D",
                        str(self.data),
                        "-l",
                        str(self.root / "server.log"),
                        "-o",
                        options,
                        "-w",
                        "start",
                    ]
                )
                self._guard()
                return
            except RuntimeError:
                if attempt == 2:
                    log = self.root / "server.log"
                    tail = log.read_text()[-2000:] if log.exists() else ""
                    message = f"the PostgreSQL test server did not start:\n{tail}"
                    raise RuntimeError(message) from None

    def _guard(self) -> None:
        """Stop the server when this process ends, even by SIGKILL (the module's docstring)."""
        stop = [*self._as, str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", "immediate"]
        self._watchdog = subprocess.Popen(
            [sys.executable, "-c", _WATCHDOG, str(self.root), *stop, "stop"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # outlives a kill of our process group, to clean up after it
        )
        atexit.register(self.stop)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://{USER}@127.0.0.1:{self.port}/{database}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        argv = [str(self.bin_dir / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"]
        argv += ["-h", "127.0.0.1", "-p", str(self.port), "-U", USER, "-d", database, "-c", sql]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"psql failed: {done.stderr.strip()}")
        return done.stdout

    def create_database(self) -> str:
        """A new, empty database; its name."""
        name = f"test_{os.getpid()}_{next(self._names)}"
        self.psql(f"CREATE DATABASE {name}")
        return name

    def drop_database(self, name: str) -> None:
        self.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def stop(self) -> None:
        with contextlib.suppress(RuntimeError, OSError, subprocess.TimeoutExpired):
            if self.data.exists():
                pg_ctl = str(self.bin_dir / "pg_ctl")
                self._run([pg_ctl, "-D", str(self.data), "-m", "fast", "stop"])
        watchdog, self._watchdog = self._watchdog, None
        if watchdog is not None:  # nothing left for it to stop: let it go
            with contextlib.suppress(OSError, subprocess.TimeoutExpired):
                assert watchdog.stdin is not None
                watchdog.stdin.close()
                watchdog.wait(60)
        shutil.rmtree(self.root, ignore_errors=True)
