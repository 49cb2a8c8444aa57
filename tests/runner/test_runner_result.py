from bot.runner.result import (
    ExceptionInfo,
    Limit,
    ModelInfo,
    RunResult,
    Status,
    clean_text,
)

CONTRACT_FIELDS = {
    "status", "stdout", "stderr", "exception", "models", "limit", "explanation", "notes",
    "duration_s", "peak_memory_mb",
}  # fmt: skip


def sample() -> RunResult:
    return RunResult(
        status=Status.ERROR,
        stdout="hi\n",
        exception=ExceptionInfo("ValueError", "Input size must be at least 32x32", 2),
        models=(ModelInfo("model", "(None, 28, 28, 3)", "(None, 5)", 12, 5),),
        limit=Limit("memory_mb", 3072),
        notes=("random weights",),
        duration_s=1.5,
        peak_memory_mb=600.0,
    )


def test_to_dict_has_exactly_the_contract_fields():
    data = sample().to_dict()
    assert set(data) == CONTRACT_FIELDS
    assert data["status"] == "error"
    assert data["exception"] == {
        "type": "ValueError",
        "message": "Input size must be at least 32x32",
        "line": 2,
    }
    assert set(data["models"][0]) == {
        "name", "input_shape", "output_shape", "params", "trainable_params",
    }  # fmt: skip
    assert data["limit"] == {"name": "memory_mb", "value": 3072}


def test_round_trip_through_dict():
    result = sample()
    assert RunResult.from_dict(result.to_dict()) == result


def test_clean_text_strips_ansi_and_control_characters():
    keras_style = "\x1b[1mValueError\x1b[0m: bad\r\n\x1b]8;;http://x\x07link\x1b]8;;\x07\x00"
    assert clean_text(keras_style) == "ValueError: bad\nlink"


def test_render_for_people_mentions_shapes_error_and_limit():
    text = sample().render()
    assert "Raised an error" in text
    assert "ValueError (line 2): Input size must be at least 32x32" in text
    assert "(None, 5)" in text
    assert "memory limit (3072 MiB)" in text
    assert "Note: random weights" in text


def test_model_selection_rule():
    one = RunResult(Status.OK, models=(ModelInfo("net", None, "(None, 2)", 1, 1),))
    assert one.model() is one.models[0]
    two = RunResult(
        Status.OK,
        models=(
            ModelInfo("base", None, "(None, 4, 4, 8)", 1, 0),
            ModelInfo("model", None, "(None, 2)", 2, 1),
        ),
    )
    assert two.model().name == "model"
    assert two.model("base").name == "base"
    assert RunResult(Status.OK).model() is None
