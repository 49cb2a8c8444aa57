"""A throwaway Redis server for tests and benchmarks: its own process on a free local port, no
persistence, a temporary directory; stopped (and the directory removed) afterwards. Nothing
here assumes a running service; clients talk only to 127.0.0.1.

``.ci/run`` and ``make`` install ``redis-server`` from the distribution's packages; without it
the tests that need it are skipped with that message (``make test`` on CI always has it).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator

REDIS_SERVER = "redis-server"
MISSING = "redis-server is not installed (apt-get install redis-server)"


def available() -> bool:
    return shutil.which(REDIS_SERVER) is not None


def require() -> None:
    """Skip the calling test where redis-server is not installed; fail it on CI, which
    installs it (.ci/run)."""
    import pytest

    if not available():
        if os.environ.get("CI"):
            pytest.fail(MISSING)
        pytest.skip(MISSING)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def redis_server(port: int | None = None, password: str | None = None) -> Iterator[str]:
    """Start a Redis server; yields its URL (``redis://127.0.0.1:PORT/0``, with
    ``:PASSWORD@`` when it asks for one). ``port``: to start one again where a stopped one was
    (an outage and its end)."""
    port = port or _free_port()
    workdir = tempfile.mkdtemp(prefix="tutor-redis-")
    process = subprocess.Popen(
        [
            REDIS_SERVER, "--bind", "127.0.0.1", "--port", str(port), "--dir", workdir,
            "--save", "", "--appendonly", "no", "--protected-mode", "yes", "--daemonize", "no",
            "--loglevel", "warning", *(["--requirepass", password] if password else []),
        ],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start (exit {process.poll()})")
            time.sleep(0.05)
        yield f"redis://{f':{password}@' if password else ''}127.0.0.1:{port}/0"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(workdir, ignore_errors=True)
