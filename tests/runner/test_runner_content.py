"""content check --execute: snippets are checked against their expect blocks, a wrong expect
fails with file:line, verified results are cached; and the run-snippet command's contract.

The shipped content's snippets are checked against their expect blocks in one place:
`make test` ends with `python -m bot content check --execute`, with the real limits, which fills
data/runner-cache. These tests prove the mechanism on small banks of their own. The equality
test (conftest's content_checked) runs the content snippets in the sandbox before that, with the
same call, and stores the verified results in that cache: the command then runs none again.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.runner.cache import ResultCache
from bot.runner.pool import Runner
from bot.runner.result import ExceptionInfo, ModelInfo, RunResult, Status
from bot.runner.verify import check_snippets, compare
from bot.tutor.content import Expect, ExpectedError, load_bank
from tests.runner.helpers import PLOT_SNIPPET

# Two questions with snippets: one says what its snippet does, one does not.
BANK = """\
questions:
  - id: dense-shape
    topic: t
    difficulty: 1
    kind: short_answer
    prompt: Output shape?
    accept: ["(None, 5)"]
    hint: h
    explanation: e
    code: |
      import tensorflow as tf
      model = tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(5)])
    expect:
      output_shape: (None, 5)
      params: 25
  - id: wrong-message
    topic: t
    difficulty: 1
    kind: short_answer
    prompt: What does it raise?
    accept: [ValueError]
    hint: h
    explanation: e
    code: |
      x = 1
      raise ValueError("too small")
    expect:
      error:
        type: ValueError
        message: too big
"""


def test_compare_shapes_params_errors_and_stdout():
    result = RunResult(
        Status.OK,
        stdout="done\n",
        models=(
            ModelInfo("base", None, "(None, 4, 4, 8)", 10, 0),
            ModelInfo("model", None, "(None, 5)", 15, 5),
        ),
    )
    assert compare(Expect(output_shape="(None, 5)", params=15, stdout="done"), result) == []
    assert compare(Expect(output_shape="(None, 4, 4, 8)", model="base"), result) == []
    assert compare(Expect(output_shape="(None, 3)"), result) == [
        "model: expected output_shape (None, 3), got (None, 5)"
    ]
    assert "ran without error" in compare(Expect(error=ExpectedError(type="ValueError")), result)[0]
    raised = RunResult(Status.ERROR, exception=ExceptionInfo("ValueError", "too small", 2))
    small = ExpectedError(type="ValueError", message="small")
    assert compare(Expect(error=small), raised) == []
    assert "raised ValueError at line 2" in compare(Expect(output_shape="(None, 5)"), raised)[0]


@pytest.mark.slow
@pytest.mark.asyncio(loop_scope="session")
async def test_snippets_are_checked_and_only_verified_results_cached(runner: Runner, tmp_path):
    (tmp_path / "content").mkdir()
    (tmp_path / "content" / "bank.yaml").write_text(BANK, encoding="utf-8")
    bank = load_bank(tmp_path / "content")
    cache = ResultCache(tmp_path / "cache")

    checked = {c.question.id: c for c in await check_snippets(bank, runner, cache)}

    dense = checked["dense-shape"]
    assert dense.problems == () and not dense.result.cached
    raised = checked["wrong-message"]
    assert raised.result.exception is not None and raised.result.exception.line == 2
    assert [str(p) for p in raised.problems] == [
        f"{tmp_path / 'content' / 'bank.yaml'}:16:5: wrong-message: the ValueError message does "
        "not contain 'too big': 'too small'"
    ]
    # The verified result answers "Run it" from now on; the mismatch is not kept.
    hit = cache.get(bank.questions[0].code or "")
    assert hit is not None and hit.cached and hit.models == dense.result.models
    assert cache.get(bank.questions[1].code or "") is None
    again = {c.question.id: c for c in await check_snippets(bank, runner, cache)}
    assert again["dense-shape"].result.cached and again["dense-shape"].problems == ()


def test_a_check_with_every_snippet_verified_before_needs_no_sandbox(tmp_path: Path):
    (tmp_path / "content").mkdir()
    dense_only = BANK.split("  - id: wrong-message")[0]
    (tmp_path / "content" / "bank.yaml").write_text(dense_only, encoding="utf-8")
    [question] = load_bank(tmp_path / "content").questions
    model = ModelInfo("model", "(None, 4)", "(None, 5)", 25, 25)
    ResultCache(tmp_path / "cache").put(question.code or "", RunResult(Status.OK, models=(model,)))
    run = subprocess.run(
        [sys.executable, "-m", "bot", "content", "check", "--execute"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        # No bubblewrap on this PATH: nothing is left to run, so nothing needs it.
        env={
            "PATH": str(tmp_path),
            "TUTOR_CONTENT_DIR": str(tmp_path / "content"),
            "TUTOR_RUNNER__CACHE_DIR": str(tmp_path / "cache"),
        },
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert "dense-shape: ok (cached) ok" in run.stderr
    assert "1 snippets ran as their questions expect" in run.stdout


@pytest.mark.slow
def test_a_wrong_expectation_fails_the_command_with_file_and_line(tmp_path: Path):
    (tmp_path / "bank.yaml").write_text(
        BANK.replace("output_shape: (None, 5)", "output_shape: (None, 10)"), encoding="utf-8"
    )
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "content",
            "check",
            "--execute",
            "--content-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,  # its cache goes to tmp_path/data, not the project's
        timeout=300,
    )
    assert run.returncode == 1, run.stderr
    assert (
        f"{tmp_path / 'bank.yaml'}:2:5: dense-shape: "
        "model: expected output_shape (None, 10), got (None, 5)"
    ) in run.stderr.splitlines()
    assert "2 snippet problem(s)." in run.stderr


@pytest.mark.slow
def test_run_snippet_command_json_contract(tmp_path: Path):
    snippet = tmp_path / "snippet.py"
    snippet.write_text(
        "import tensorflow as tf\nprint(tf.keras.layers.Dense(3)(tf.zeros((2, 4))).shape)\n"
    )
    run = subprocess.run(
        [sys.executable, "-m", "bot", "run-snippet", str(snippet), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert set(data) == {
        "status",
        "stdout",
        "stderr",
        "exception",
        "models",
        "limit",
        "explanation",
        "notes",
        "duration_s",
        "peak_memory_mb",
        # added since, compatibly
        "baseline_memory_mb",
        "snippet_memory_mb",
        "files",
    }
    assert data["status"] == "ok" and data["stdout"] == "(2, 3)\n"
    assert data["exception"] is None and data["limit"] is None
    assert data["peak_memory_mb"] > 100


@pytest.mark.slow
def test_run_snippet_from_stdin_prints_for_people():
    run = subprocess.run(
        [sys.executable, "-m", "bot", "run-snippet", "-"],
        input="x = 1\nraise ValueError('Input size must be at least 32x32; "
        "Received: input_shape=(28, 28, 3)')\n",
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 1
    assert "ValueError (line 2): Input size must be at least 32x32" in run.stdout
    assert "What it means: Your images are too small" in run.stdout


@pytest.mark.slow
def test_run_snippet_saves_the_files_next_to_the_database_and_shows_layers(tmp_path: Path):
    snippet = tmp_path / "snippet.py"
    snippet.write_text(PLOT_SNIPPET)
    db = tmp_path / "db" / "tutor.db"
    run = subprocess.run(
        [sys.executable, "-m", "bot", "run-snippet", str(snippet), "--layers",
         "--database-url", f"sqlite+aiosqlite:///{db}"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "Ran successfully" in out and "MiB over the warm worker's" in out
    assert "▶ dense" in out and "Dense layer on a 4-D feature map" in out
    paths = [Path(line.strip()) for line in out.splitlines() if "run-files" in line]
    assert sorted(p.name for p in paths) == ["history.csv", "loss.png"]
    for path in paths:
        assert path.parent.parent == db.parent / "run-files"
    png = next(p for p in paths if p.name == "loss.png")
    assert png.read_bytes().startswith(b"\x89PNG")
