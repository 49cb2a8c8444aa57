"""The shipped question bank: valid, and following the authoring rules of content/README.md.

These checks need no TensorFlow; that the snippets really do what their ``expect`` blocks say is
proven by ``python -m bot content check --execute``.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from urllib.parse import urlparse

import pytest

from bot.tutor.content import Bank, json_schema, load_bank

CONTENT = Path(__file__).resolve().parent.parent / "content"

# Every question rests on the TensorFlow/Keras documentation (a GitHub issue may come on top).
DOC_HOSTS = {"keras.io", "www.tensorflow.org", "tensorflow.org"}


@pytest.fixture(scope="module")
def bank() -> Bank:
    return load_bank(CONTENT)


def test_seed_questions_are_all_there(bank: Bank) -> None:
    for qid in (
        "why-transfer-learning-small-data",
        "mobilenetv2-head-output-shape",
        "fine-tuning-learning-rate",
        "train-95-val-60",
        "resnet50-minimum-input-size",
    ):
        question = bank.get(qid)
        assert question is not None, qid
        if question.choices:
            assert len(question.choices) == 4
    resnet = bank.get("resnet50-minimum-input-size")
    assert resnet is not None and resnet.expect is not None and resnet.expect.error is not None
    assert "197" in resnet.explanation  # says what changed since the old rule


def test_the_course_is_big_enough(bank: Bank) -> None:
    # Issue 18: 150+ questions over 12+ topics, 100+ snippets proven by execution.
    assert len(bank) >= 150
    assert len(bank.topics) >= 12
    assert sum(1 for q in bank.questions if q.code and q.expect) >= 100
    assert {q.difficulty for q in bank.questions} == {1, 2, 3}
    assert {q.kind for q in bank.questions} == {"multiple_choice", "short_answer"}
    assert any(q.expect and q.expect.error for q in bank.questions)


def test_every_topic_mixes_easy_medium_and_hard(bank: Bank) -> None:
    levels: dict[str, set[int]] = {}
    for q in bank.questions:
        levels.setdefault(q.topic, set()).add(q.difficulty)
    assert {t: sorted(d) for t, d in levels.items() if d != {1, 2, 3}} == {}


def test_every_choice_has_feedback(bank: Bank) -> None:
    missing = [
        f"{q.id} choice {i + 1}"
        for q in bank.questions
        for i, c in enumerate(q.choices or ())
        if not (c.feedback or "").strip()
    ]
    assert not missing


def test_every_question_cites_the_documentation(bank: Bank) -> None:
    for q in bank.questions:
        hosts = {urlparse(str(r)).hostname for r in q.references}
        assert hosts & DOC_HOSTS, f"{q.id}: no keras.io / tensorflow.org reference"


def test_every_snippet_is_verified(bank: Bank) -> None:
    # A snippet without an expect block would be shown to learners but never checked.
    assert not [q.id for q in bank.questions if q.code and q.expect is None]


def test_hints_do_not_give_the_answer_away(bank: Bank) -> None:
    for q in bank.questions:
        assert q.hint.strip() != q.explanation.strip(), q.id
        for answer in q.accept or ():
            if len(answer) > 2:
                assert answer.lower() not in q.hint.lower(), f"{q.id}: hint contains {answer!r}"
        if q.choices:
            right = q.choices[q.correct_index or 0].text.lower()
            assert right not in q.hint.lower(), f"{q.id}: hint quotes the right choice"


def test_correct_choice_position_varies(bank: Bank) -> None:
    positions = Counter(q.correct_index for q in bank.questions if q.choices)
    most_common = positions.most_common(1)[0][1]
    assert len(positions) >= 4
    assert most_common <= 0.4 * sum(positions.values())


def test_schema_file_is_current() -> None:
    assert (CONTENT / "schema.json").read_text(encoding="utf-8") == json_schema(), (
        "content/schema.json is stale: run python -m bot content schema --write"
    )
