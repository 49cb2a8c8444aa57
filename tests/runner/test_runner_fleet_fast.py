"""The fleet's edges that need no sandbox: a real Redis server (or none), no runner host.
The fleet with real hosts and TensorFlow: tests/runner/test_runner_fleet.py (slow)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from bot.runner.fleet import HOSTS, FleetRunner, NoRunners, user_key
from bot.settings import RunnerSettings, Settings
from tests.helpers import ROOT


async def test_with_no_runner_host_up_a_snippet_is_refused_and_nothing_is_held(redis_url):
    runner = FleetRunner(RunnerSettings(url=SecretStr(redis_url)))
    try:
        with pytest.raises(NoRunners):
            await runner.run("print(1)", "ada")
        assert await runner.redis.exists(user_key("ada")) == 0  # no lock left behind
        assert await runner.redis.xlen("tutor:runner:jobs") == 0
        assert await runner.redis.zcard(HOSTS) == 0
    finally:
        await runner.close()


def test_the_runner_url_must_be_redis_and_is_a_secret():
    with pytest.raises(ValidationError):
        RunnerSettings(url=SecretStr("http://example.invalid/"))
    settings = Settings(runner=RunnerSettings(url=SecretStr("redis://:hunter2@127.0.0.1:1/0")))
    assert "hunter2" not in repr(settings) and "hunter2" not in settings.model_dump_json()


def test_run_snippet_says_when_the_fleet_cannot_be_reached_without_its_password(tmp_path: Path):
    snippet = tmp_path / "s.py"
    snippet.write_text("print(1)\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUTOR_")}
    url = "redis://:hunter2-secret@127.0.0.1:1/0"  # nothing listens on port 1

    done = subprocess.run(
        [sys.executable, "-m", "bot", "run-snippet", str(snippet), "--json", "--runner-url", url],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=60,
    )  # fmt: skip

    assert done.returncode == 2
    assert "The runners cannot be reached" in done.stderr, done.stderr
    assert "hunter2" not in done.stderr + done.stdout
    assert done.stdout == ""
