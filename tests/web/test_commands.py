"""The web server as the commands start it, as real processes: `python -m bot web`, `python -m
bot run` in terminal mode with TUTOR_WEB__PORT set, and the terminal admin's /mod commands."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.helpers import ROOT, SAMPLE_BANK, chat
from tests.web.helpers import free_port


def get(port: int, path: str) -> tuple[int, str, dict[str, str]]:
    """One request, redirects not followed: (status, body, headers)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read().decode(), dict(response.getheaders())
    finally:
        conn.close()


def wait_for(proc: subprocess.Popen, text: str) -> str:
    assert proc.stdout is not None
    seen, deadline = "", time.monotonic() + 60
    while text not in seen and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
        seen += line
    assert text in seen, seen
    return seen


def common(db: Path) -> list[str]:
    return ["--content-dir", str(SAMPLE_BANK), "--database-url", f"sqlite+aiosqlite:///{db}"]


def test_local_admin_publishes_and_opens_the_dashboard_served_by_bot_web(tmp_path: Path):
    db = tmp_path / "t.db"
    port = free_port()
    out = chat(
        "/quiz\n2\n/mod settings web-leaderboard on\nyes\n/mod dashboard\n",
        db,
        "--admin",
        user="ada",
    ).stdout
    assert "Publish the terminal leaderboard on the web? Type yes to confirm." in out
    assert "leaderboard is public at http://127.0.0.1:8080/local (action #1)" in out
    token = out.split("/dashboard/login/")[1].split()[0]

    web = subprocess.Popen(
        [sys.executable, "-m", "bot", "web", "--port", str(port), *common(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        wait_for(web, f"on http://127.0.0.1:{port}")
        status, body, _ = get(port, "/local")
        assert status == 200 and "<td>ada</td>" in body
        status, _, headers = get(port, f"/dashboard/login/{token}")
        assert status == 303 and headers["location"] == "/dashboard"
        assert get(port, "/leaderboard/test/g1")[0] == 404
    finally:
        web.send_signal(signal.SIGINT)
        _, err = web.communicate(timeout=30)
    assert web.returncode == 0, err
    assert token not in err  # the log (stderr) never shows it


def test_bot_run_starts_the_web_pages_beside_the_terminal_chat(tmp_path: Path):
    db = tmp_path / "t.db"
    port = free_port()
    env = {**os.environ, "TUTOR_WEB__PORT": str(port)}
    env.pop("DISCORD_TOKEN", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", *common(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )
    try:
        wait_for(proc, f"Web leaderboard of this machine: http://127.0.0.1:{port}/local")
        status, body, _ = get(port, "/local")
        assert status == 404 and "not public" in body  # until the local admin publishes it
    finally:
        out, err = proc.communicate("/quit\n", timeout=30)
    assert proc.returncode == 0, err
    assert "Bye!" in out
