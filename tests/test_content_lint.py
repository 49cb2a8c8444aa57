"""Authoring rules (bot/tutor/lint.py): length must not tell the right answer."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.tutor.content import Bank, Choice, Location, Question, load_bank
from bot.tutor.lint import conspicuously_longest, length_problems, lint
from tests.helpers import ROOT, VALID

CONTENT = ROOT / "content"


def question(qid: str, right: str, *others: str, topic: str = "t") -> Question:
    choices = [Choice(text=right, correct=True, feedback="f")]
    choices += [Choice(text=o, feedback="f") for o in others]
    return Question(
        id=qid,
        topic=topic,
        difficulty=1,
        kind="multiple_choice",
        prompt="p",
        choices=tuple(choices),
        hint="h",
        explanation="e",
    )


def bank_of(*questions: Question) -> Bank:
    return Bank(questions, {q.id: Location("f.yaml", i + 1, 5) for i, q in enumerate(questions)})


# (right answer's length, distractors' lengths, conspicuous?): the definition as a table.
CASES = [
    (73, (64, 50, 40), True),  # 9 characters and 14 % longer: the eye catches it
    (93, (83, 80, 60), True),  # 10 characters, 12 %
    (75, (68, 60, 60), True),  # 7 characters, 10.3 %
    (73, (67, 60, 60), False),  # 6 characters but only 9 %
    (7, (5, 5, 3), False),  # 40 % longer but only 2 characters: short numbers
    (40, (34, 20, 20), True),  # 6 characters, 18 %
    (40, (40, 20, 20), False),  # a tie is no cue
    (30, (60, 20, 20), False),  # a distractor is longest
]


@pytest.mark.parametrize(("right", "others", "flagged"), CASES)
def test_conspicuously_longest_definition(right: int, others: tuple[int, ...], flagged: bool):
    q = question("q", "r" * right, *("o" * n for n in others))
    assert conspicuously_longest(q) is flagged


def test_whitespace_does_not_count():
    q = question("q", "right answer" + " " * 20, "wrong answer", "other one")
    assert not conspicuously_longest(q)


def test_a_flagged_question_is_reported_at_its_place():
    bank = bank_of(question("ok", "a" * 40, "b" * 40), question("bad", "a" * 80, "b" * 40))
    [problem] = length_problems(bank)
    assert str(problem).startswith("f.yaml:2:5: bad: the right answer is conspicuously")
    assert "80 characters, the longest distractor 40" in str(problem)


def test_share_over_the_topic_is_a_cue_even_when_no_question_is_flagged():
    # Each right answer is only 2 characters longer (never conspicuous), but in 6 of 8 questions.
    longest = [question(f"l{i}", "a" * 42, "b" * 40, "c" * 40, "d" * 40) for i in range(6)]
    shorter = [question(f"s{i}", "a" * 38, "b" * 40, "c" * 40, "d" * 40) for i in range(2)]
    whole, topic = map(str, length_problems(bank_of(*longest, *shorter)))
    assert "longest choice in 6 of 8 multiple-choice questions (75%; chance is 25%" in whole
    assert "longest choice in 6 of 8 questions of t (75%; chance is 25%, at most 50%" in topic
    assert "l0, l1, l2, l3, l4, l5" in topic
    # At chance (2 of 8) nothing is reported.
    assert length_problems(bank_of(*longest[:2], *shorter, *_balanced(4))) == []


def _balanced(n: int) -> list[Question]:
    return [question(f"b{i}", "a" * 40, "b" * 40, "c" * 39, "d" * 38) for i in range(n)]


def test_few_questions_are_not_judged_by_share():
    longest = [question(f"l{i}", "a" * 42, "b" * 40) for i in range(7)]
    assert length_problems(bank_of(*longest)) == []


def test_the_shipped_bank_follows_the_rules():
    assert lint(load_bank(CONTENT)) == []


def test_content_check_fails_on_a_conspicuous_answer(tmp_path: Path):
    choices = "\n".join(
        f"      - text: {text}\n        feedback: f" + ("\n        correct: true" if right else "")
        for text, right in [
            ("Pretrained layers already extract features that transfer to new images", True),
            ("Labels are copied over from ImageNet", False),
            ("Pretrained models cannot overfit", False),
        ]
    )
    (tmp_path / "q.yaml").write_text(
        VALID.split("    choices:")[0]
        + "    choices:\n"
        + choices
        + "\n    hint: h\n    explanation: e\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "bot", "content", "check", "--content-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 1, result.stdout
    assert f"{tmp_path / 'q.yaml'}:2:5: q1: the right answer is conspicuously" in result.stderr
    assert "1 authoring problem(s)" in result.stderr
