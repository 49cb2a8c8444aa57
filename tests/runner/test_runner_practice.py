"""Practice variants answered by execution in the real sandbox: answers come from the run, a
template's claimed outcomes are checked against what its variants do, results are cached.

The shipped templates are checked where the shipped content is: `make test` ends with
`python -m bot content check --execute`, which runs every variant of every template."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from bot.runner.cache import ResultCache
from bot.runner.pool import Runner
from bot.runner.practice import VariantBank, answer_of, answer_variants, check_templates
from bot.tutor.practice import load_templates, render
from tests.helpers import PRACTICE_TEMPLATES, practice_result, practice_variants

TEMPLATES = """\
templates:
  - id: parse
    topic: t
    difficulty: 1
    prompt: "What does int({text!r}) do?"
    code: |
      import tensorflow as tf
      model = tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(int({text!r}))])
    vary:
      text: ["7", "seven"]
    answer: output_shape
    model: model
    outcomes: [ok, ValueError]
    hint: h
    explanation: e
    references: [https://keras.io/api/layers/core_layers/dense/]
"""


def templates_in(tmp_path: Path, text: str):
    (tmp_path / "t.yaml").write_text(text, encoding="utf-8")
    return load_templates(tmp_path)


@pytest.mark.slow
@pytest.mark.asyncio(loop_scope="session")
async def test_answers_come_from_the_run_and_claims_are_checked(runner: Runner, tmp_path: Path):
    templates = templates_in(tmp_path, TEMPLATES)
    [template] = templates.templates
    cache = ResultCache(tmp_path / "cache")
    answered = await answer_variants(
        [render(template, v) for v in template.combinations()], runner, cache
    )
    assert {a.variant.values["text"]: a.answer for a in answered} == {
        "7": "(None, 7)",
        "seven": "ValueError",
    }
    question = answered[0].question()
    assert question is not None and question.accept == ("(None, 7)",)
    # Cached by code: checking the claims now needs no run, and they hold.
    assert all(cache.get(a.variant.code) is not None for a in answered)
    assert await check_templates(templates, runner, cache) == []

    # A template that claims an outcome no variant produces, or misses one that happens.
    wrong = templates_in(
        tmp_path, TEMPLATES.replace("outcomes: [ok, ValueError]", "outcomes: [ok, KeyError]")
    )
    problems = [str(p) for p in await check_templates(wrong, runner, cache)]
    assert problems == [
        f"{tmp_path / 't.yaml'}:2:5: parse: no variant produces the claimed outcome(s) KeyError",
        f"{tmp_path / 't.yaml'}:2:5: parse: ValueError is not claimed, but text='seven' "
        "produces it",
    ]


@pytest.mark.slow
@pytest.mark.asyncio(loop_scope="session")
async def test_the_test_templates_answers_are_what_the_sandbox_computes(
    runner: Runner, tmp_path: Path
):
    """tests/helpers.py's practice_result, which the fast tests answer from, is what real runs
    give: the same answers, and the runner's own explanation of the failing variants."""
    variants = practice_variants()
    answered = await answer_variants(variants, runner, ResultCache(tmp_path / "cache"))
    for item in answered:
        expected = practice_result(item.variant)
        assert item.answer == answer_of(item.variant.template, expected), item.variant.values
        assert item.result.explanation == expected.explanation, item.variant.values


@pytest.mark.slow
@pytest.mark.asyncio(loop_scope="session")
async def test_a_variant_is_computed_once_then_answered_from_the_cache(
    runner: Runner, tmp_path: Path
):
    """The first /practice on a fresh deployment runs one variant; asking again (two learners
    at once, or after a restart with no sandbox at all) runs nothing more."""
    first = VariantBank(load_templates(PRACTICE_TEMPLATES), ResultCache(tmp_path / "c"), runner)
    asked = await asyncio.gather(
        *(first.next("debugging-errors", (), (), random.Random(0)) for _ in range(2))
    )
    assert first.runs == 1 and asked[0] is not None and asked[0] == asked[1]
    assert asked[0].accept in {("10",), ("20",)}  # Dense(2) or Dense(4) on 4 features
    assert await first.next("debugging-errors", (), (), random.Random(0)) == asked[0]
    assert first.runs == 1

    restarted = VariantBank(load_templates(PRACTICE_TEMPLATES), ResultCache(tmp_path / "c"), None)
    assert await restarted.next("debugging-errors", (), (), random.Random(0)) == asked[0]
    assert restarted.runs == 0
