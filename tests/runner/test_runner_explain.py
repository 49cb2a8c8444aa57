"""Every explanation rule is triggered by its own example snippet and not by its near miss, both
run in the real sandbox (once, shared with the equality test: conftest.sandbox_results)."""

from __future__ import annotations

import pytest

from bot.runner.explain import Explainer, Rule, default_explainer
from bot.runner.result import ExceptionInfo, ModelInfo, RunResult, Status

RULES = default_explainer().rules
IDS = [rule.id for rule in RULES]


def test_rule_ids_are_unique_and_there_are_at_least_twenty():
    assert len(IDS) == len(set(IDS))
    assert len(RULES) >= 20
    assert {"input-too-small", "include-top-input-size", "one-channel-imagenet",
            "one-hot-labels-sparse-loss", "integer-labels-categorical-loss",
            "dense-on-feature-map", "feature-size-mismatch", "out-of-memory",
            "time-limit", "fit-without-compile", "fit-after-unfreezing-without-recompile",
            "flatten-unknown-size", "softmax-on-one-unit", "dataset-batched-twice",
            "dataset-map-arguments", "one-hot-labels-single-unit",
            "dataset-with-separate-labels", "labels-start-at-1",
            "pixels-not-preprocessed"} <= set(IDS)  # fmt: skip


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


def test_model_facts_are_tested_by_type_and_range_and_fill_the_explanation():
    def ran(**facts: bool | int | float | str) -> RunResult:
        return RunResult(Status.OK, models=(ModelInfo("clf", None, "(None, 1)", 9, 9, facts),))

    explainer = default_explainer()
    found = explainer.rule_for(ran(output_activation="softmax", output_units=1))
    assert found is not None and found[0].id == "softmax-on-one-unit"
    assert found[0].render(found[1]).startswith("clf ends in Dense(1) with a softmax")
    # A fact matches by type as well as value: True is not 1.
    assert explainer.rule_for(ran(output_activation="softmax", output_units=True)) is None
    pixels = {"backbone": "MobileNetV2", "backbone_input_range": "-1..1"}
    assert explainer.rule_for(ran(**pixels, input_min=-1.0, input_max=1.0)) is None
    found = explainer.rule_for(ran(**pixels, input_min=0.0, input_max=255.0))
    assert found is not None and found[0].id == "pixels-not-preprocessed"
    assert "pixel values up to 255 straight into MobileNetV2" in found[0].render(found[1])


# Wordings of the pinned Keras that the examples do not all produce (captured from plain runs).
WORDINGS = [
    ("Input 0 with name 'input_layer' of layer 'functional' is incompatible with the layer: "
     "expected shape=(None, 96, 96, 3), found shape=(32, 96, 3)", "missing-batch-axis"),
    ("Invalid input shape for input Tensor(\"data:0\", shape=(32,), dtype=float32) with name "
     "'keras_tensor' and path ''. Expected shape (None, 1280), but input has incompatible shape "
     "(32,)", "missing-batch-axis"),
    ("Input 0 with name 'input_layer_1' of layer 'functional' is incompatible with the layer: "
     "expected shape=(None, 64, 64, 3), found shape=(None, None, 64, 64, 3)",
     "dataset-batched-twice"),
    ("Input 0 with name 'input_layer' of layer 'mobilenetv2_1.00_96' is incompatible with the "
     "layer: expected shape=(None, 96, 96, 3), found shape=(2, 128, 128, 3)",
     "image-size-mismatch"),
    ("Input size must be at least 32x32; Received: input_shape=(28, 28, 3)", "input-too-small"),
    ("Input 0 of layer \"functional\" is incompatible with the layer: expected shape=(None, 1280), "
     "found shape=(None, 2048)", "feature-size-mismatch"),
    ("Arguments `target` and `output` must have the same rank (ndim). Received: "
     "target.shape=(None,), output.shape=(None, 10, 3)", "sequence-output-not-pooled"),
    ("When setting `include_top=True` and loading `imagenet` weights, `input_shape` should be "
     "(224, 224, 3).  Received: input_shape=(160, 160, 3)", "include-top-input-size"),
]  # fmt: skip


@pytest.mark.parametrize(("message", "rid"), WORDINGS)
def test_each_keras_wording_finds_its_rule(message: str, rid: str):
    result = RunResult(Status.ERROR, exception=ExceptionInfo("ValueError", message, 1))
    found = default_explainer().rule_for(result)
    assert found is not None and found[0].id == rid
    assert "{" not in found[0].render(found[1])


def _rule(rid: str) -> Rule:
    return next(rule for rule in RULES if rule.id == rid)


@pytest.mark.slow
@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("rid", IDS)
async def test_example_triggers_its_rule(sandbox_results: dict[str, RunResult], rid: str):
    rule = _rule(rid)
    result = sandbox_results[f"rule:{rid}:example"]
    found = Explainer(RULES).rule_for(result)
    assert found is not None, f"no rule matched: {result.status} {result.exception}"
    assert found[0].id == rule.id, f"{found[0].id} matched first: {result.exception}"
    assert result.explanation == found[0].render(found[1])
    assert "{" not in result.explanation  # every placeholder was filled


@pytest.mark.slow
@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("rid", IDS)
async def test_near_miss_does_not_trigger_it(sandbox_results: dict[str, RunResult], rid: str):
    result = sandbox_results[f"rule:{rid}:near_miss"]
    found = Explainer(RULES).rule_for(result)
    assert found is None or found[0].id != rid, result.render()
    # Near misses stay close: they run, or fail in a way another rule explains.
    assert result.status in (Status.OK, Status.ERROR), result.render()
    if result.status is Status.ERROR:
        assert found is not None, f"near miss failed unexplained: {result.exception}"
