"""Hostile content: every case is a ``path:line:col`` message, in bounded time and memory.

Each class of the outside review (issue 10, item 10) has a case here; the YAML reader is tried with
libyaml (``CSafeLoader``) and with PyYAML's pure-Python fallback.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from bot.runner.explain import Explainer
from bot.tutor import safe_yaml
from bot.tutor.content import ContentError, load_bank, parse_text
from tests.helpers import ROOT, VALID

# 344 bytes that a naive loader expands to 8 * 9**8 strings (the review's "billion laughs").
BOMB = (
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
    "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
    "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
    "questions: [*h,*h,*h,*h,*h,*h,*h,*h]\n"
)
POSITIONED = re.compile(r"^f\.yaml:\d+:\d+: \S")


@pytest.fixture(params=["libyaml", "pure-python"], autouse=True)
def loader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if request.param == "libyaml":
        assert yaml.__with_libyaml__, "the PyYAML wheel should bring libyaml"
        monkeypatch.setattr(safe_yaml, "_Loader", yaml.CSafeLoader)
    else:
        monkeypatch.setattr(safe_yaml, "_Loader", yaml.SafeLoader)


def problems_of(text: str) -> list[str]:
    _, problems, _ = parse_text(text, "f.yaml")
    found = [str(p) for p in problems]
    assert all(POSITIONED.match(p) for p in found), found
    return found


def replace_prompt(value: str) -> str:
    text = VALID.replace("prompt: Which?", f"prompt: {value}")
    assert text != VALID
    return text


# --- bombs and sizes --------------------------------------------------------------------------


def test_alias_bomb_is_refused_at_its_first_anchor():
    started = time.process_time()
    [problem] = problems_of(BOMB)
    assert time.process_time() - started < 2  # milliseconds in fact; the old loader took minutes
    assert problem.startswith("f.yaml:1:4: anchor '&a': anchors and aliases are not allowed")


def test_an_alias_alone_is_named():
    text = VALID.replace("hint: h", "hint: *h")
    assert problems_of(text) == [
        "f.yaml:11:11: alias '*h': anchors and aliases are not allowed in content; "
        "write the value out"
    ]


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("questions: " + "[" * 10_000 + "]" * 10_000 + "\n", "f.yaml:1:"),
        ("questions: " + "{a: " * 10_000 + "}" * 10_000 + "\n", "f.yaml:1:"),
        ("questions:\n" + "- " * 5_000 + "x\n", "f.yaml:2:"),
    ],
    ids=["flow-sequences", "flow-mappings", "block-sequences"],
)
def test_deep_nesting_is_refused(text: str, where: str):
    [problem] = problems_of(text)
    assert problem.startswith(where)
    # libyaml's scanner may refuse first (it looks ahead, and stops at 1,000 flow levels).
    assert problem.endswith(("nested deeper than 20 levels", "exceeded maximum nesting depth"))


def test_too_many_values():
    # Flat but wide (memory grows with values, not bytes): [0, 0, 0, ...] under the size limit.
    text = "questions: [" + "0," * 60_000 + "0]\n"
    [problem] = problems_of(text)
    assert problem.startswith("f.yaml:1:")
    assert problem.endswith("more than 50000 values in one file")


def test_huge_integer_is_a_message_not_a_traceback():
    text = VALID.replace("difficulty: 1", "difficulty: " + "9" * 5_000)
    assert problems_of(text) == ["f.yaml:4:17: a number of 5000 digits; at most 30 are allowed"]


def test_huge_scalar():
    text = replace_prompt("x" * 200_000)
    assert problems_of(text) == [
        "f.yaml:6:13: text of 200000 characters; at most 10000 are allowed"
    ]


def test_file_size_and_count_are_bounded(tmp_path: Path):
    big = tmp_path / "big.yaml"
    big.write_text(VALID + "# " + "x" * (1024 * 1024) + "\n")
    with pytest.raises(ContentError) as caught:
        load_bank(tmp_path)
    assert caught.value.report() == f"{big}:1:1: the file is over 1024 KiB; split it"

    many = tmp_path / "many"
    many.mkdir()
    for i in range(201):
        (many / f"{i:03}.yaml").write_text(VALID.replace("id: q1", f"id: q{i}"))
    with pytest.raises(ContentError) as caught:
        load_bank(many)
    assert caught.value.report() == f"{many}:1:1: 201 question files; at most 200 are allowed"


def test_a_fifo_or_a_directory_is_not_read(tmp_path: Path):
    os.mkfifo(tmp_path / "a.yaml")  # opening it would wait for a writer forever
    (tmp_path / "b.yaml").mkdir()
    with pytest.raises(ContentError) as caught:
        load_bank(tmp_path)
    assert caught.value.report().splitlines() == [
        f"{tmp_path / 'a.yaml'}:1:1: not a regular file",
        f"{tmp_path / 'b.yaml'}:1:1: not a regular file",
    ]


# --- characters and encodings -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "message"),
    [
        ("Wh\x00ich?", "f.yaml:6:15: the control character U+0000 is not allowed; delete it"),
        ("Wh\x07ich?", "f.yaml:6:15: the control character U+0007 is not allowed; delete it"),
        ("Wh\x9bich?", "f.yaml:6:15: the control character U+009B is not allowed; delete it"),
        ("Wh\x7fich?", "f.yaml:6:15: the control character U+007F is not allowed; delete it"),
        (
            "Wh\u202eich?",
            "f.yaml:6:15: the invisible text-direction control U+202E is not allowed; delete it",
        ),
        (
            '"Wh\\x1b[31mich?"',
            "f.yaml:6:13: the control character U+001B (written as an escape) is not allowed",
        ),
        (
            '"Wh\\0ich?"',
            "f.yaml:6:13: the control character U+0000 (written as an escape) is not allowed",
        ),
        (
            '"Wh\\u2066ich?"',
            "f.yaml:6:13: the invisible text-direction control U+2066 (written as an escape) "
            "is not allowed",
        ),
    ],
    ids=["nul", "bell", "c1-csi", "del", "bidi-override", "esc-escape", "nul-escape", "bidi-esc"],
)
def test_control_characters_are_refused_where_they_are(prompt: str, message: str):
    assert problems_of(replace_prompt(prompt)) == [message]


def test_tabs_newlines_and_crlf_are_fine():
    text = replace_prompt('"Which\\tone?"').replace("\n", "\r\n")
    questions, problems, _ = parse_text(text, "f.yaml")
    assert problems == []
    assert questions[0].prompt == "Which\tone?"


def test_a_file_that_is_not_utf8(tmp_path: Path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(replace_prompt("Caf\u00e9 \u00e9?").encode("latin-1"))
    with pytest.raises(ContentError) as caught:
        load_bank(tmp_path)
    assert caught.value.report() == (f"{path}:6:16: not UTF-8: byte 0xe9; save the file as UTF-8")


def test_positions_count_characters_not_bytes():
    text = VALID.replace("prompt: Which?", "prompt: Wéich? 😀\n    colour: x")
    assert problems_of(text) == ["f.yaml:7:5: unknown key 'colour'"]
    assert problems_of('a: "é😀\\x01"\nb: é😀\x07\n') == [
        "f.yaml:2:6: the control character U+0007 is not allowed; delete it"
    ]


# --- YAML's traps: duplicate keys, YAML 1.1 booleans, tags ------------------------------------


def test_duplicate_key_is_reported_at_the_second_naming_the_first():
    text = VALID.replace("    explanation: e\n", "    explanation: e\n    hint: again\n")
    assert problems_of(text) == ["f.yaml:13:5: duplicate key 'hint' (first at line 11)"]


@pytest.mark.parametrize("word", ["yes", "No", "ON", "off", "y", "N"])
def test_yaml_11_booleans_must_be_quoted_or_true_false(word: str):
    [problem] = problems_of(VALID.replace("correct: true", f"correct: {word}"))
    assert problem == (
        f"f.yaml:9:18: {word!r} is a boolean to some YAML readers and text to others: "
        f'quote it ("{word}") for text, or write true/false'
    )
    [problem] = problems_of(VALID.replace("text: B", f"text: {word}"))
    assert problem.startswith(f"f.yaml:10:15: {word!r} is a boolean")
    questions, problems, _ = parse_text(VALID.replace("text: B", f'text: "{word}"'), "f.yaml")
    assert problems == [] and questions[0].choices and questions[0].choices[1].text == word


def test_plain_scalars_follow_yaml_12():
    data = safe_yaml.parse(
        "a: 010\nb: 1:30\nc: 2024-01-01\nd: 0x1f\ne: .inf\nf: ~\ng: 1.5\nh: 0o17\ni: TRUE\n", "f"
    ).data
    assert data == {
        "a": 10,  # not YAML 1.1's octal 8
        "b": "1:30",  # not YAML 1.1's sexagesimal 90
        "c": "2024-01-01",  # not a date
        "d": 31,
        "e": float("inf"),
        "f": None,
        "g": 1.5,
        "h": 15,
        "i": True,
    }


@pytest.mark.parametrize("tag", ["!!python/object:os.system", "!!str", "!custom"])
def test_tags_are_refused(tag: str):
    [problem] = problems_of(replace_prompt(f"{tag} Which?"))
    assert problem.startswith("f.yaml:6:13: YAML tag")
    assert problem.endswith("is not allowed; quote text instead")


def test_a_key_that_is_not_text():
    assert problems_of("questions: []\n[a]: b\n") == [
        "f.yaml:2:1: a key must be text, not a list or a mapping"
    ]


# --- file shapes and ids ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("# only a comment\n", "f.yaml:1:1: the file is empty; expected 'questions:'"),
        ("just words\n", "f.yaml:1:1: expected a mapping with a 'questions' list at the top"),
        ("\n\n  42\n", "f.yaml:3:3: expected a mapping with a 'questions' list at the top"),
        (VALID + "---\n" + VALID, "f.yaml:13:1: a second YAML document ('---'); one per file"),
    ],
    ids=["comment-only", "scalar", "number", "two-documents"],
)
def test_file_shapes(text: str, message: str):
    assert problems_of(text) == [message]


def test_duplicate_id_in_one_file_names_the_first_definition():
    text = VALID + VALID.removeprefix("questions:\n")
    assert problems_of(text) == ["f.yaml:13:5: duplicate id 'q1' (first defined at f.yaml:2:5)"]


def test_duplicate_ids_in_one_file_and_across_files(tmp_path: Path):
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text("\n" + VALID)
    b.write_text(VALID + VALID.removeprefix("questions:\n"))
    with pytest.raises(ContentError) as caught:
        load_bank(tmp_path)
    assert caught.value.report().splitlines() == [
        f"{b}:13:5: duplicate id 'q1' (first defined at {b}:2:5)",
        f"{b}:2:5: duplicate id 'q1' (first defined at {a}:3:5)",
    ]


# --- the same reader for the runner's rules ----------------------------------


def test_runner_rules_are_read_by_the_same_safe_loader(tmp_path: Path):
    rules = tmp_path / "explanations.yaml"
    rules.write_text(BOMB.replace("questions", "rules"))
    with pytest.raises(ContentError) as caught:
        Explainer.load(rules)
    assert str(caught.value).startswith(f"{rules}:1:4: anchor '&a'")

    shipped = (ROOT / "bot" / "runner" / "explanations.yaml").read_text(encoding="utf-8")
    rules.write_text(shipped.replace("message: 'Input size", "message: '(Input size", 1))
    with pytest.raises(ContentError) as caught:
        Explainer.load(rules)
    [problem] = caught.value.problems
    line = next(n for n, text in enumerate(shipped.splitlines(), 1) if "message: 'Input" in text)
    assert problem.location.line == line
    assert "when.message: not a regular expression: missing )" in problem.message
    assert Explainer.load().rules  # the shipped rules load


def run_check(content_dir: Path) -> tuple[int, str, float, float]:
    """``content check`` in a child: exit status, stderr, CPU seconds and peak memory in MB."""
    child = subprocess.Popen(
        [sys.executable, "-m", "bot", "content", "check", "--content-dir", str(content_dir)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        # A regression must fail the test, not hang the suite for minutes.
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_CPU, (60, 60)),
    )
    assert child.stderr is not None
    err = child.stderr.read()
    child.stderr.close()
    _, status, usage = os.wait4(child.pid, 0)  # this child's own usage, unlike getrusage()
    child.returncode = os.waitstatus_to_exitcode(status)
    return child.returncode, err, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


class TestCommandLine:
    """``content check`` and start-up, in a child process: the child picks its own loader."""

    @pytest.fixture(autouse=True)
    def loader(self) -> None:
        """Overrides the module's loader fixture: running these twice would prove nothing more."""

    def test_content_check_refuses_the_bomb_within_bounds(self, tmp_path: Path):
        (tmp_path / "bomb.yaml").write_text(BOMB)
        status, err, cpu_s, peak_mb = run_check(tmp_path)
        assert status == 1
        assert err.startswith(f"{tmp_path / 'bomb.yaml'}:1:4: anchor '&a': anchors and aliases")
        assert "1 problem(s)" in err
        # Wide margins: a bare `content check` uses ~1 s of CPU and ~65 MB here; the bomb took
        # minutes and gigabytes before.
        assert cpu_s < 30
        assert peak_mb < 400

    def test_the_bot_refuses_to_start_with_the_same_messages(self, tmp_path: Path):
        content = tmp_path / "content"
        content.mkdir()
        (content / "bad.yaml").write_text(replace_prompt("Wh\x1bich?"))
        chat = subprocess.run(
            [sys.executable, "-m", "bot", "chat", "--user", "t", "--content-dir", str(content),
             "--database-url", f"sqlite+aiosqlite:///{tmp_path / 't.db'}"],
            cwd=ROOT, input="", capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert chat.returncode == 1
        assert chat.stderr.splitlines() == [
            f"{content / 'bad.yaml'}:6:15: the control character U+001B is not allowed; delete it",
            f"1 problem(s) in {content}; not starting.",
        ]
        assert not (tmp_path / "t.db").exists()
