"""Every explanation rule is triggered by its own example snippet, run in the real sandbox."""

from __future__ import annotations

import pytest

from bot.runner.explain import Explainer, Rule, default_explainer
from bot.runner.pool import Runner
from bot.runner.result import ExceptionInfo, RunResult, Status

RULES = default_explainer().rules


def test_rule_ids_are_unique_and_every_rule_has_an_example():
    ids = [rule.id for rule in RULES]
    assert len(ids) == len(set(ids))
    assert {"input-too-small", "include-top-input-size", "one-channel-imagenet",
            "one-hot-labels-sparse-loss", "integer-labels-categorical-loss",
            "dense-on-feature-map", "feature-size-mismatch", "out-of-memory",
            "time-limit"} <= set(ids)  # fmt: skip


def test_fields_from_the_message_fill_the_explanation():
    result = RunResult(
        Status.ERROR,
        exception=ExceptionInfo(
            "ValueError",
            "Input size must be at least 75x75; Received: input_shape=(64, 64, 3)",
            2,
        ),
    )
    explained = default_explainer().explain(result)
    assert explained.explanation is not None
    assert "at least 75x75 pixels and got (64, 64, 3)" in explained.explanation


def test_no_rule_no_explanation():
    result = RunResult(Status.ERROR, exception=ExceptionInfo("KeyError", "'x'", 1))
    assert default_explainer().explain(result).explanation is None


@pytest.mark.slow
@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("rule", RULES, ids=[rule.id for rule in RULES])
async def test_example_triggers_its_rule(runner: Runner, rule: Rule):
    result = await runner.run(rule.example, user=f"rule-{rule.id}", use_cache=False)
    found = Explainer(RULES).rule_for(result)
    assert found is not None, f"no rule matched: {result.status} {result.exception}"
    assert found[0].id == rule.id
    assert result.explanation == found[0].render(found[1])
    assert "{" not in result.explanation  # every placeholder was filled
