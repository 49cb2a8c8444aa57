"""What several test modules share: paths, a hand-moved clock, learners, sample content, and the
terminal chat run as a real subprocess. Fixtures stay in conftest.py; test modules import from
here, never from conftest.py or from each other."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from bot.runner.cache import ResultCache
from bot.runner.result import ExceptionInfo, ModelInfo, RunResult, Status
from bot.tutor.practice import Variant, load_templates, render
from bot.tutor.service import LearnerRef

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_BANK = Path(__file__).parent / "data" / "bank"
# Questions for the grading rules (issue 16): a pinned choice, a snippet, a count.
GRADES_BANK = Path(__file__).parent / "data" / "grades"

# Practice templates whose variants build in well under a second (tests/data/practice).
PRACTICE_TEMPLATES = Path(__file__).parent / "data" / "practice"
# What the real runner explains when a head built for 16 features gets 8 (feature-size-mismatch in
# bot/runner/explanations.yaml); the slow test checks that the sandbox says exactly this.
FEATURES_EXPLAINED = (
    "A layer receives features of a different size than it was built for: it expects (None, 16) "
    "and gets (None, 8). Each backbone produces its own number of features (1280 for "
    "MobileNetV2, 2048 for ResNet50 after pooling): build the head on the backbone's actual "
    "output (base.output_shape) instead of a fixed number, or rebuild it after changing the "
    "backbone."
)


def practice_result(variant: Variant) -> RunResult:
    """What running a variant of PRACTICE_TEMPLATES gives, as the sandbox reports it (the fields
    the answer is read from); the slow test (tests/runner/test_runner_practice.py) checks these
    against real runs."""
    units = int(str(variant.values["units"]))
    if variant.template.id == "dense-params":
        model = ModelInfo("model", "(None, 4)", f"(None, {units})", 5 * units, 5 * units)
        return RunResult(Status.OK, models=(model,), duration_s=0.1)
    if variant.values["built"] == 16:
        message = "Input 0 ... expected shape=(None, 16), found shape=(None, 8)"
        exception = ExceptionInfo("ValueError", message, 3)
        return RunResult(
            Status.ERROR, exception=exception, explanation=FEATURES_EXPLAINED, duration_s=0.1
        )
    params = 9 * units
    model = ModelInfo("model", "(None, 8)", f"(None, {units})", params, params)
    return RunResult(Status.OK, models=(model,), duration_s=0.1)


def practice_variants(directory: Path = PRACTICE_TEMPLATES) -> list[Variant]:
    """Every variant of the templates in ``directory``, in a fixed order."""
    templates = load_templates(directory).templates
    return [render(t, values) for t in templates for values in t.combinations()]


def fill_practice_cache(directory: Path, only: str | None = None) -> ResultCache:
    """A results cache holding every variant's result (``only``: that variant's), as `content
    check --execute` would have left it."""
    cache = ResultCache(directory)
    for variant in practice_variants():
        if only is None or variant.id == only:
            cache.put(variant.code, practice_result(variant))
    return cache


# One valid question file: tests derive broken ones from it.
VALID = """\
questions:
  - id: q1
    topic: basics
    difficulty: 1
    kind: multiple_choice
    prompt: Which?
    choices:
      - text: A
        correct: true
      - text: B
    hint: h
    explanation: e
"""

# Zone names that are not zones (folders of tzdata, paths, nothing, NUL, far too long), each
# with the zones the tutor suggests instead.
NOT_ZONES = {
    "America": ["America/Adak", "America/Anchorage", "America/Anguilla"],
    "America/Argentina": [
        "America/Argentina/Buenos_Aires",
        "America/Argentina/Catamarca",
        "America/Argentina/ComodRivadavia",
    ],
    "Europe/Pari": ["Europe/Paris", "Europe/Madrid", "Europe/Riga"],
    "": [],
    "   ": [],
    "..": [],
    "/etc/passwd": [],
    "../../etc/passwd": [],
    "Europe/../Europe/Paris": ["Europe/Paris", "Europe/Rome"],
    "posix/Europe/Paris": ["Europe/Paris", "Europe/Warsaw", "Europe/Madrid"],
    "localtime": ["Africa/Lome"],  # the host's own zone is not offered
    "zone.tab": [],
    "Europe\x00Paris": ["Europe/Paris", "Europe/Warsaw", "Europe/Madrid"],
    "\ud800": [],
    "A" * 300: [],
    "Europe/Paris" * 30: [],
}


def migrations_head() -> str:
    """The newest migration revision (the lead re-chains revisions when merging branches)."""
    from alembic.script import ScriptDirectory

    from db.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


def learner(name: str = "ada", guild: str = "g1", platform: str = "test") -> LearnerRef:
    return LearnerRef(platform, name.lower(), guild, name)


# --- the terminal chat, as a real process -------------------------------------------------------


def chat_argv(db: Path, *extra: str, user: str = "ada") -> list[str]:
    """The command line of a terminal chat on the sample bank and the SQLite file ``db``."""
    return [
        sys.executable,
        "-m",
        "bot",
        "chat",
        "--user",
        user,
        "--content-dir",
        str(SAMPLE_BANK),
        "--database-url",
        f"sqlite+aiosqlite:///{db}",
        *extra,
    ]


def chat_env(**more: str) -> dict[str, str]:
    """The environment of a test's chat: choices in file order, so that a script can answer by
    number (tests/test_console_grades.py checks the shuffle itself)."""
    return {**os.environ, "TUTOR_QUIZ__SHUFFLE_CHOICES": "false", **more}


def chat(
    script: str,
    db: Path,
    *extra: str,
    user: str = "ada",
    shuffle: bool = False,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess:
    return subprocess.run(
        chat_argv(db, *extra, user=user),
        input=script,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        env=chat_env(TUTOR_QUIZ__SHUFFLE_CHOICES=str(shuffle).lower(), **(env or {})),
    )


def answered_once(db: Path) -> tuple[subprocess.Popen, str]:
    """A chat left running with pipes, after "/quiz" and a right answer; and what it printed
    up to that answer's feedback."""
    proc = subprocess.Popen(
        chat_argv(db),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=chat_env(),
    )
    assert proc.stdin and proc.stdout
    proc.stdin.write("/quiz\n2\n")
    proc.stdin.flush()
    seen, deadline = "", time.monotonic() + 60
    while "Correct!" not in seen and time.monotonic() < deadline:
        seen += proc.stdout.readline()
    return proc, seen


async def select(url: str, sql: str) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` read through a connection of its own (not the store's), on SQLite or
    PostgreSQL: what another process would see. Booleans come back as 0/1 on SQLite."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlalchemy.pool import NullPool

    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            return [tuple(row) for row in await conn.execute(text(sql))]
    finally:
        await engine.dispose()


def attempts(db: Path) -> list[tuple[Any, ...]]:
    """(question_id, answer, correct, hinted, points) of every attempt in the SQLite file."""
    with sqlite3.connect(db) as raw:
        return raw.execute(
            "select question_id, answer, correct, hinted, points from attempts order by id"
        ).fetchall()


# --- another bot process of a shard cluster (tests/cluster_child.py) -----------------------------


@contextmanager
def child(mode: str, **config: Any) -> Iterator[subprocess.Popen[str]]:
    """``python -m tests.cluster_child MODE CONFIG``, killed at the end if still running."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.cluster_child", mode, json.dumps(config)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(30)


def said(process: subprocess.Popen[str], timeout_s: float = 180.0) -> dict[str, Any]:
    """The child's next line. A child that dies, or says nothing for ``timeout_s`` (then it is
    killed, which ends the read), fails the test instead of hanging it."""
    assert process.stdout is not None
    watchdog = threading.Timer(timeout_s, process.kill)
    watchdog.start()
    try:
        text = process.stdout.readline()
    finally:
        watchdog.cancel()
    assert text, f"the child exited ({process.wait(30)}) or was silent for {timeout_s:.0f} s"
    return dict(json.loads(text))


def tell(process: subprocess.Popen[str]) -> None:
    stdin: IO[str] | None = process.stdin
    assert stdin is not None
    stdin.write("go\n")
    stdin.flush()
