"""Practice templates (bot/tutor/practice.py) and how their answers are read from runs
(bot/runner/practice.py, its pure part): no TensorFlow, no sandbox here."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from bot.runner.practice import Answered, answer_of, coverage_problems, outcome_of
from bot.runner.result import ExceptionInfo, ModelInfo, RunResult, Status
from bot.tutor.content import ContentError
from bot.tutor.grading import parse_shape
from bot.tutor.practice import (
    MAX_VARIANTS,
    TEMPLATES_DIR,
    Template,
    load_templates,
    render,
    variants,
)
from tests.helpers import ROOT

TEMPLATE = """\
templates:
  - id: grid
    topic: feature-extraction
    difficulty: 1
    prompt: "Dense({units}) on pooling={pooling!r}: the output shape?"
    code: |
      import tensorflow as tf
      print({units}, {pooling!r})
    vary:
      units: [3, 10]
      pooling: [avg, null]
    answer: output_shape
    model: model
    outcomes: [ok]
    hint: Which axis does Dense change?
    explanation: "Dense({units}) keeps the other axes."
    references:
      - https://keras.io/api/layers/core_layers/dense/
"""


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "t.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
    return tmp_path


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ContentError) as exc:
        load_templates(write(tmp_path, text))
    return [str(p) for p in exc.value.problems]


def test_a_valid_template_loads_with_its_place(tmp_path: Path):
    templates = load_templates(write(tmp_path, TEMPLATE))
    [template] = templates.templates
    assert template.variant_count == 4
    assert str(templates.locations["grid"]) == f"{tmp_path / 't.yaml'}:2:5"


def test_no_directory_means_no_templates(tmp_path: Path):
    assert len(load_templates(tmp_path / "absent")) == 0


def test_render_fills_code_with_literals_and_prose_with_values(tmp_path: Path):
    [template] = load_templates(write(tmp_path, TEMPLATE)).templates
    variant = render(template, {"units": 10, "pooling": None})
    assert variant.prompt == "Dense(10) on pooling=None: the output shape?"
    assert "print(10, None)" in variant.code
    assert "print(3, 'avg')" in render(template, {"units": 3, "pooling": "avg"}).code


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("print({units}, {pooling!r})", "print({units}, {size})"), "which vary does not list"),
        (("      pooling: [avg, null]\n", "      pooling: [avg, null]\n      size: [1]\n"), "size"),
        (("hint: Which axis", "hint: Which {units} axis"), "no {placeholders}"),
        (("      units: [3, 10]", "      units: [3, 3]"), "lists a value twice"),
        (("outcomes: [ok]", "outcomes: [ok, ok]"), "outcomes lists one twice"),
        (("outcomes: [ok]", "outcomes: [not an exception]"), "outcomes"),
        (("answer: output_shape", "answer: shape"), "answer"),
        (
            ("      units: [3, 10]", "      units: [" + ", ".join(map(str, range(40))) + "]"),
            f"80 variants; at most {MAX_VARIANTS}",
        ),
    ],
)
def test_each_template_problem_is_reported_at_its_place(
    tmp_path: Path, change: tuple[str, str], message: str
):
    old, new = change
    assert old in TEMPLATE
    found = problems(tmp_path, TEMPLATE.replace(old, new))
    assert all(p.startswith(f"{tmp_path / 't.yaml'}:") for p in found)
    assert any(message in p for p in found), found


def test_duplicate_template_ids_are_refused(tmp_path: Path):
    second = TEMPLATE.split("templates:\n", 1)[1]
    [problem] = problems(tmp_path, TEMPLATE + second)
    assert "duplicate template id 'grid' (first at" in problem


def test_variants_are_chosen_by_seed_round_robin_and_bounded(tmp_path: Path):
    [grid] = load_templates(write(tmp_path, TEMPLATE)).templates
    other = grid.model_copy(update={"id": "other", "topic": "debugging-errors"})
    first = [v.code for v in variants([grid, other], 3, seed=7)]
    assert first == [v.code for v in variants([grid, other], 3, seed=7)]
    assert {v.template.id for v in variants([grid, other], 2, seed=7)} == {"grid", "other"}
    assert len(variants([grid, other], 100, seed=7)) == 8  # every combination, once
    assert len({v.id for v in variants([grid, other], 100, seed=7)}) == 8
    assert {v.template.id for v in variants([grid, other], 5, 7, "debugging-errors")} == {"other"}
    seeds = {tuple(v.code for v in variants([grid], 4, seed=s)) for s in range(6)}
    assert len(seeds) > 1  # another seed, another order


def test_a_variant_becomes_a_short_answer_question(tmp_path: Path):
    [template] = load_templates(write(tmp_path, TEMPLATE)).templates
    variant = render(template, {"units": 3, "pooling": "avg"})
    question = variant.question("(None, 3)", "The runner says why.")
    assert question.kind == "short_answer"
    assert question.accept == ("(None, 3)",)
    assert question.id == variant.id and question.id.startswith("practice-grid-")
    assert question.explanation == "Dense(3) keeps the other axes.\n\nThe runner says why."
    assert question.code == variant.code


# --- answers read from results (the runner's pure part) ----------------------------------------


def result_ok(output_shape: str = "(None, 3)", params: int = 3843) -> RunResult:
    model = ModelInfo("model", "(None, 1280)", output_shape, params, params)
    return RunResult(Status.OK, models=(model,))


def result_error(kind: str = "ValueError") -> RunResult:
    return RunResult(Status.ERROR, exception=ExceptionInfo(kind, "bad", 3))


def test_the_answer_is_read_from_the_run(tmp_path: Path):
    [template] = load_templates(write(tmp_path, TEMPLATE)).templates
    assert answer_of(template, result_ok()) == "(None, 3)"
    params = template.model_copy(update={"answer": "params"})
    assert answer_of(params, result_ok()) == "3843"
    outcome = template.model_copy(update={"answer": "outcome"})
    assert answer_of(outcome, result_ok()) == "runs"
    assert answer_of(template, result_error("InvalidArgumentError")) == "InvalidArgumentError"
    # No answer from a run that did not finish, or without the model the template names.
    assert answer_of(template, RunResult(Status.TIMEOUT)) is None
    assert answer_of(template.model_copy(update={"model": "other"}), result_ok()) is None
    assert outcome_of(RunResult(Status.TIMEOUT)) == "timeout"


def test_coverage_compares_claimed_and_produced_outcomes(tmp_path: Path):
    [template] = load_templates(write(tmp_path, TEMPLATE)).templates
    claims_error = template.model_copy(update={"outcomes": ("ok", "ValueError")})
    a, b = (render(template, {"units": u, "pooling": "avg"}) for u in (3, 10))
    ran_ok = [Answered(a, result_ok(), "(None, 3)"), Answered(b, result_ok(), "(None, 10)")]
    assert coverage_problems(template, ran_ok) == []
    assert coverage_problems(claims_error, ran_ok) == [
        "no variant produces the claimed outcome(s) ValueError"
    ]
    raised = [ran_ok[0], Answered(b, result_error(), "ValueError")]
    assert coverage_problems(claims_error, raised) == []
    assert coverage_problems(template, raised) == [
        "ValueError is not claimed, but pooling='avg', units=10 produces it"
    ]


# --- the shipped templates ----------------------------------------------------------------------


def test_the_shipped_templates_load_and_answer_in_gradable_forms():
    templates = load_templates(ROOT / "content" / TEMPLATES_DIR)
    assert len(templates) >= 4
    kinds = {t.answer for t in templates.templates}
    assert {"output_shape", "trainable_params", "outcome"} <= kinds
    # Every claimed error kind is a class name the learner can type; shapes come from the run.
    errors = {o for t in templates.templates for o in t.outcomes if o != "ok"}
    assert errors and all(o[0].isupper() for o in errors)
    assert parse_shape("(None, 3)") is not None  # what output_shape answers are graded as
    assert all(isinstance(t, Template) for t in templates.templates)
