"""content check --execute: the seed snippets verify, a wrong expect fails with file:line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.runner.cache import ResultCache
from bot.runner.result import ExceptionInfo, ModelInfo, RunResult, Status
from bot.runner.verify import Checked, compare
from bot.tutor.content import Bank, Expect

PROJECT = Path(__file__).resolve().parents[2]


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
    assert "ran without error" in compare(Expect(error={"type": "ValueError"}), result)[0]
    raised = RunResult(Status.ERROR, exception=ExceptionInfo("ValueError", "too small", 2))
    assert compare(Expect(error={"type": "ValueError", "message": "small"}), raised) == []
    assert "raised ValueError at line 2" in compare(Expect(output_shape="(None, 5)"), raised)[0]


@pytest.mark.slow
@pytest.mark.asyncio(loop_scope="session")
async def test_content_snippets_behave_as_their_questions_say(
    content_checked: tuple[list[Checked], ResultCache], bank: Bank
):
    # The session's one run of `content check --execute` (conftest), shared with the equality
    # test, so that each content snippet runs once in the sandbox.
    checked, cache = content_checked
    by_id = {c.question.id: c for c in checked}
    assert all(not c.problems for c in checked), [p for c in checked for p in c.problems]
    mobilenet = by_id["mobilenetv2-head-output-shape"].result
    assert mobilenet.model("model").output_shape == "(None, 5)"
    resnet = by_id["resnet50-minimum-input-size"].result
    assert resnet.exception is not None and resnet.exception.line == 2
    # Verified results are cached for "Run it".
    hit = cache.get(bank.get("mobilenetv2-head-output-shape").code)
    assert hit is not None and hit.cached


@pytest.mark.slow
def test_a_wrong_expectation_fails_with_file_and_line(tmp_path: Path):
    seed = (PROJECT / "content" / "seed.yaml").read_text(encoding="utf-8")
    (tmp_path / "seed.yaml").write_text(
        seed.replace("output_shape: (None, 5)", "output_shape: (None, 10)"), encoding="utf-8"
    )
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "content",
            "check",
            "--execute",
            "--no-cache",
            "--content-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert run.returncode == 1, run.stderr
    line = next(
        n for n, text in enumerate(seed.splitlines(), 1) if "mobilenetv2-head-output" in text
    )
    assert (
        f"{tmp_path / 'seed.yaml'}:{line}:5: mobilenetv2-head-output-shape: "
        "model: expected output_shape (None, 10), got (None, 5)"
    ) in run.stderr


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
