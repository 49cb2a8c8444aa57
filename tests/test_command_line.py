"""The command line as README describes it: each command imports only what it needs, the
package never reaches for the benchmarks, and README's command list and scripted session are
true of the code."""

from __future__ import annotations

import argparse
import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.__main__ import _parser
from tests.helpers import ROOT, SAMPLE_BANK, VALID

# Runs `python -m bot ARGS...` and, at exit, writes the name of every module it imported.
PROBE = """\
import atexit, runpy, sys
out, args = sys.argv[1], sys.argv[2:]
atexit.register(lambda: open(out, "w").write("\\n".join(sys.modules)))
sys.argv = ["bot", *args]
runpy.run_module("bot", run_name="__main__", alter_sys=True)
"""

# What no command may load unless it needs it: the database layer, Discord, the chart library,
# and TensorFlow (which the bot process never imports at all).
DATABASE = {"sqlalchemy", "alembic", "aiosqlite"}
DISCORD = {"discord", "aiohttp"}
CHART = {"matplotlib"}
TENSORFLOW = {"tensorflow", "keras"}


def clean_env(tmp_path: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("TUTOR_") and k not in ("DISCORD_TOKEN", "PYTHONPATH")
    }
    env["TUTOR_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'tutor.db'}"
    env["TUTOR_RUNNER__CACHE_DIR"] = str(tmp_path / "cache")
    return env


def imported_by(tmp_path: Path, *args: str, stdin: str = "") -> tuple[int, set[str]]:
    """Exit status of ``python -m bot ARGS`` and the top-level packages it imported."""
    out = tmp_path / "modules.txt"
    run = subprocess.run(
        [sys.executable, "-c", PROBE, str(out), *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=clean_env(tmp_path),
        timeout=120,
    )
    modules = out.read_text().split()
    return run.returncode, {m.split(".")[0] for m in modules} | set(modules)


def no_snippets(tmp_path: Path) -> str:
    (tmp_path / "content").mkdir()
    (tmp_path / "content" / "a.yaml").write_text(VALID, encoding="utf-8")
    return str(tmp_path / "content")


@pytest.mark.parametrize(
    ("args", "stdin", "status", "needs", "never"),
    [
        (
            ["content", "check", "--content-dir", "{no_snippets}"],
            "",
            0,
            {"yaml", "bot.tutor.content"},
            DATABASE | DISCORD | CHART | TENSORFLOW | {"bot.runner", "fsrs"},
        ),
        (["content", "schema"], "", 0, {"pydantic"}, DATABASE | DISCORD | CHART | TENSORFLOW),
        (
            ["content", "check", "--execute", "--content-dir", "{no_snippets}"],
            "",
            0,
            {"bot.runner.pool"},
            DATABASE | DISCORD | CHART | TENSORFLOW,
        ),
        (
            ["run-snippet", "{tmp}/missing.py"],
            "",
            2,
            {"bot.runner.pool"},
            DATABASE | DISCORD | CHART | TENSORFLOW,
        ),
        (
            ["chat", "--user", "ada", "--content-dir", str(SAMPLE_BANK)],
            "/quiz\n/quit\n",
            0,
            {"sqlalchemy", "bot.console"},
            DISCORD | CHART | TENSORFLOW,
        ),
        (["db", "upgrade"], "", 0, {"alembic"}, DISCORD | CHART | TENSORFLOW | {"bot.runner"}),
    ],
    ids=["content-check", "content-schema", "check-execute", "run-snippet", "chat", "db-upgrade"],
)
def test_each_command_imports_only_what_it_needs(tmp_path, args, stdin, status, needs, never):
    args = [
        a.format(tmp=tmp_path, no_snippets=no_snippets(tmp_path) if "{no_" in a else "")
        for a in args
    ]
    returncode, modules = imported_by(tmp_path, *args, stdin=stdin)
    assert returncode == status
    assert needs <= modules  # the probe saw the command do its work
    assert not modules & never, sorted(modules & never)


def test_the_package_never_imports_the_benchmarks():
    # bench/ is not installed with the package (pyproject: packages bot*); `python -m bench`
    # runs the benchmarks from a checkout.
    offenders = []
    for path in sorted((ROOT / "bot").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            if any(n == "bench" or n.startswith("bench.") for n in names):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders


def test_the_benchmarks_run_from_the_checkout():
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert "{answers,runner,discord}" in run.stdout


def test_bot_bench_hands_over_to_the_checkouts_benchmarks(tmp_path: Path):
    # From any directory: the child runs in the checkout the package came from.
    run = subprocess.run(
        [sys.executable, "-m", "bot", "bench", "no-such-benchmark"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )
    assert run.returncode == 2
    assert "python -m bench: error: argument name: invalid choice: 'no-such-" in run.stderr


def readme_section(title: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def test_readme_lists_exactly_the_commands_there_are():
    section = readme_section("Command line")
    listed = set(re.findall(r"^python -m bot ([a-z-]+(?: [a-z]+)?)", section, re.MULTILINE))
    commands = set()
    for name, parser in _subcommands(_parser()).items():
        nested = _subcommands(parser)
        commands |= {f"{name} {n}" for n in nested} if nested else {name}
    assert listed == commands


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def test_readme_scripted_session_works_on_the_shipped_content(tmp_path: Path):
    # The example from Quick start, run as written (through a pipe) on the shipped content.
    block = readme_section("Quick start")
    line = next(s for s in block.splitlines() if s.startswith("printf "))
    script = line.replace(".venv/bin/python", sys.executable)
    run = subprocess.run(
        ["bash", "-c", script],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=clean_env(tmp_path),
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    out = run.stdout
    # Both answers are taken as answers, and right: a choice by number, then a shape.
    assert out.count("✅ Correct! +10 XP") == 2, out
    assert "Answer with the number of a choice" not in out, out
    assert "XP: 20" in out  # /progress
