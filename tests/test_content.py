"""The content schema: every kind of problem is reported, with its file, line and column."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bot.tutor.content import ContentError, load_bank, parse_text
from tests.helpers import ROOT, VALID


def problems_of(text: str) -> list[str]:
    _, problems, _ = parse_text(textwrap.dedent(text), "f.yaml")
    return [str(p) for p in problems]


def test_valid_file_has_no_problems():
    questions, problems, locations = parse_text(VALID, "f.yaml")
    assert problems == []
    assert [q.id for q in questions] == ["q1"]
    assert str(locations["q1"]) == "f.yaml:2:5"


def test_yaml_syntax_error_has_position():
    [problem] = problems_of("questions:\n  - id: q1\n    topic: [unclosed\n")
    assert problem.startswith("f.yaml:4:1: YAML syntax error")


def test_unknown_key_points_at_the_key():
    [problem] = problems_of(VALID.replace("    hint: h\n", "    hint: h\n    explanaton: x\n"))
    assert problem == "f.yaml:12:5: unknown key 'explanaton'"


def test_missing_field_points_at_the_question():
    [problem] = problems_of(VALID.replace("    hint: h\n", ""))
    assert problem == "f.yaml:2:5: missing required field 'hint'"


def test_difficulty_out_of_range_points_at_the_value_key():
    [problem] = problems_of(VALID.replace("difficulty: 1", "difficulty: 4"))
    assert problem.startswith("f.yaml:4:5: difficulty:")
    assert "less than or equal to 3" in problem


@pytest.mark.parametrize(
    ("flip", "count"), [("      - text: B\n", 2), ("        correct: true\n", 0)]
)
def test_exactly_one_correct_choice(flip, count):
    if count == 2:
        text = VALID.replace(flip, "      - text: B\n        correct: true\n")
    else:
        text = VALID.replace(flip, "")
    [problem] = problems_of(text)
    assert problem.startswith("f.yaml:2:5:")
    assert f"exactly one choice must be correct, found {count}" in problem


def test_every_problem_is_reported_not_only_the_first():
    second = VALID.removeprefix("questions:\n").replace("id: q1", "id: q2")
    text = VALID + second.replace("difficulty: 1", "difficulty: 0")
    text = text.replace("    hint: h\n", "    hint: h\n    colour: red\n", 1)
    problems = problems_of(text)
    assert problems == [
        "f.yaml:12:5: unknown key 'colour'",
        problems[1],
    ]
    assert problems[1].startswith("f.yaml:16:5: difficulty:")


def test_wrong_types_and_kind_rules():
    text = VALID.replace("kind: multiple_choice", "kind: short_answer")
    [problem] = problems_of(text)
    assert "a short_answer question needs accept" in problem
    assert problems_of(VALID.replace("kind: multiple_choice", "kind: essay"))[0].startswith(
        "f.yaml:5:5: kind:"
    )


def test_expect_without_code_and_badly_written_shape():
    text = VALID + "    expect:\n      output_shape: (None, 5)\n"
    [problem] = problems_of(text)
    assert "expect describes the snippet, but there is no code" in problem
    text = VALID + "    code: x = 1\n    expect:\n      output_shape: None,5\n"
    [problem] = problems_of(text)
    assert problem.startswith("f.yaml:14:5: expect.output_shape must be written as Python")
    assert "'(None, 5)'" in problem


def test_empty_and_misshapen_files():
    assert problems_of("") == ["f.yaml:1:1: the file is empty; expected 'questions:'"]
    assert problems_of("- a\n- b\n")[0].startswith("f.yaml:1:1: expected a mapping")
    assert problems_of("questions: 3\n") == ["f.yaml:1:1: 'questions' must be a list"]
    assert problems_of("questions: []\n")[0].startswith("f.yaml:1:1: questions:")


def test_missing_or_empty_content_dir(tmp_path: Path):
    with pytest.raises(ContentError, match="content directory not found"):
        load_bank(tmp_path / "nope")
    with pytest.raises(ContentError, match="no question files"):
        load_bank(tmp_path)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], capture_output=True, text=True, cwd=ROOT, timeout=60
    )


def test_content_check_command(tmp_path: Path):
    ok = run_cli("content", "check")
    assert ok.returncode == 0, ok.stderr
    assert "all valid" in ok.stdout

    (tmp_path / "bad.yaml").write_text(VALID.replace("difficulty: 1", "difficulty: 9") + "  - x\n")
    bad = run_cli("content", "check", "--content-dir", str(tmp_path))
    assert bad.returncode == 1
    lines = bad.stderr.splitlines()
    assert lines[0].startswith(f"{tmp_path / 'bad.yaml'}:4:5: difficulty:")
    assert lines[1].startswith(f"{tmp_path / 'bad.yaml'}:13:5:")
    assert "2 problem(s)" in lines[2]
