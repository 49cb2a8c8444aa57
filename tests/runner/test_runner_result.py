import base64

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
# Added since, compatibly (nothing renamed): the warm worker's memory before the snippet and the
# snippet's own peak over it, and the files the snippet wrote.
ADDED_FIELDS = {"baseline_memory_mb", "snippet_memory_mb", "files"}


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
    assert set(data) == CONTRACT_FIELDS | ADDED_FIELDS
    assert data["status"] == "error"
    assert data["exception"] == {
        "type": "ValueError",
        "message": "Input size must be at least 32x32",
        "line": 2,
    }
    # The contract's model fields, plus the facts explanation rules test (an extension).
    assert set(data["models"][0]) == {
        "name", "input_shape", "output_shape", "params", "trainable_params", "facts", "layers",
    }  # fmt: skip
    assert data["limit"] == {"name": "memory_mb", "value": 3072}


def test_round_trip_through_dict():
    result = sample()
    assert RunResult.from_dict(result.to_dict()) == result


def test_model_facts_round_trip_and_old_results_without_them_still_load():
    facts: dict[str, bool | int | float | str] = {
        "output_activation": "softmax",
        "output_units": 1,
        "fit_used_old_trainable": True,
    }
    result = RunResult(Status.OK, models=(ModelInfo("m", None, "(None, 1)", 9, 9, facts),))
    assert RunResult.from_dict(result.to_dict()).models[0].facts == facts
    old = result.to_dict()
    del old["models"][0]["facts"]  # a cache file written before facts existed
    assert RunResult.from_dict(old).models[0].facts == {}
    odd = result.to_dict()
    odd["models"][0]["facts"] = {"x": [1, 2], "y": {"z": 1}, "ok\x1b[1m": "a\nb"}
    assert RunResult.from_dict(odd).models[0].facts == {"ok": "a b"}


def test_clean_text_strips_ansi_and_control_characters():
    keras_style = "\x1b[1mValueError\x1b[0m: bad\r\n\x1b]8;;http://x\x07link\x1b]8;;\x07\x00"
    assert clean_text(keras_style) == "ValueError: bad\nlink"


def test_clean_text_strips_c1_controls_and_bidi_marks_but_keeps_tabs_and_newlines():
    c1 = "\x9b31mred\x9dtitle\x9c \x85\x90\x9f"  # 8-bit CSI/OSC, NEL, DCS, APC
    bidi = "a\u202eb\u202ac\u2066d\u2069e\u200ef\u200fg\u061ch"
    assert clean_text(c1) == "red "
    assert clean_text(bidi) == "abcdefgh"
    assert clean_text("col\tcol\nline\u2028next") == "col\tcol\nline\nnext"
    assert clean_text("naïve café ½ → ✓") == "naïve café ½ → ✓"  # printable text untouched


def test_every_text_from_a_snippet_is_cleaned_when_a_result_is_built():
    dirty = "x\x1b[2J\u202e\x85"
    result = RunResult(
        Status.ERROR,
        stdout=f"out{dirty}\tput\n",
        stderr=f"err{dirty}",
        exception=ExceptionInfo(f"Bad{dirty}\nError", f"msg{dirty}\nline 2", 1),
        models=(ModelInfo(f"m{dirty}", f"(None,{dirty} 4)", f"(None,\n 5){dirty}", 1, 1),),
        notes=(f"note{dirty}",),
    )
    assert result.stdout == "outx\tput\n" and result.stderr == "errx"
    assert result.exception == ExceptionInfo("Badx Error", "msgx\nline 2", 1)
    assert result.models[0].name == "mx"
    assert (result.models[0].input_shape, result.models[0].output_shape) == (
        "(None,x 4)",
        "(None,  5)x",
    )
    assert result.notes == ("notex",)
    # The cache and a remote runner build results from JSON: the same cleaning applies.
    assert RunResult.from_dict(result.to_dict() | {"stdout": dirty}).stdout == "x"


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
    default, base = two.model(), two.model("base")
    assert default is not None and default.name == "model"
    assert base is not None and base.name == "base"
    assert RunResult(Status.OK).model() is None


def test_files_layers_and_memory_round_trip_and_old_results_still_load():
    from bot.runner.result import FileInfo, LayerInfo

    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 20
    layers = (
        LayerInfo("conv2d", "Conv2D", "(None, 6, 6, 4)", 112, True),
        LayerInfo("dense", "Dense", "(None, 6, 6, 2)", 10, False),
    )
    result = RunResult(
        Status.OK,
        models=(ModelInfo("m", None, "(None, 6, 6, 2)", 122, 112, {}, layers),),
        peak_memory_mb=350.0,
        baseline_memory_mb=300.5,
        files=(FileInfo("plots/loss.png", "image/png", png),),
    )
    data = result.to_dict()
    assert data["files"] == [
        {"name": "plots/loss.png", "media_type": "image/png", "size": 28,
         "data": base64.b64encode(png).decode()},
    ]  # fmt: skip
    assert data["snippet_memory_mb"] == 49.5 and data["baseline_memory_mb"] == 300.5
    assert data["models"][0]["layers"][1] == {
        "name": "dense", "type": "Dense", "output_shape": "(None, 6, 6, 2)", "params": 10,
        "trainable": False,
    }  # fmt: skip
    back = RunResult.from_dict(data)
    assert back == result and back.files == result.files
    assert back.models[0].layers == layers
    # A result stored before these fields existed (the cache, an older runner) still loads.
    for key in ("files", "baseline_memory_mb", "snippet_memory_mb"):
        del data[key]
    del data["models"][0]["layers"]
    old = RunResult.from_dict(data)
    assert old.files == () and old.models[0].layers == () and old.snippet_memory_mb is None
    assert old.memory_text() == "peak memory 350 MiB"
    assert result.memory_text() == "memory 50 MiB over the warm worker's 300 MiB"


def test_a_files_type_is_decided_by_its_bytes_not_its_name():
    from bot.runner.result import media_type

    assert media_type("plot.png", b"\x89PNG\r\n\x1a\nrest") == "image/png"
    assert media_type("plot.png", b"<script>") == "application/octet-stream"
    assert media_type("photo.bin", b"\xff\xd8\xff\xe0") == "image/jpeg"
    assert media_type("history.csv", b"a,b") == "text/csv"
    assert media_type("weights", b"\x00") == "application/octet-stream"
    # What a remote runner says is not trusted either: from_dict decides again.
    sent = {"name": "x.png", "media_type": "image/png", "size": 3, "data": "PHM+"}
    assert RunResult.from_dict(
        {"status": "ok", "files": [sent]}
    ).files[0].media_type == "application/octet-stream"


def test_the_first_surprising_shape_is_a_dense_layer_on_a_feature_map():
    from bot.runner.result import LayerInfo, layer_table, rank, surprise

    assert rank("(None, 7, 7, 1280)") == 4 and rank("(None,)") == 1 and rank("()") == 0
    assert rank("[(None, 4), (None, 4)]") is None and rank(None) is None
    pooled = (
        LayerInfo("mobilenet", "Functional", "(None, 3, 3, 1280)", 2257984, False),
        LayerInfo("pool", "GlobalAveragePooling2D", "(None, 1280)", 0, True),
        LayerInfo("dense", "Dense", "(None, 3)", 3843, True),
    )
    assert surprise(pooled) is None
    sequence = (LayerInfo("dense", "Dense", "(None, 10, 64)", 640, True),)
    assert surprise(sequence) is None  # Dense on a sequence, per step: usual
    unpooled = (pooled[0], LayerInfo("dense", "Dense", "(None, 3, 3, 3)", 3843, True))
    found = surprise(unpooled)
    assert found is not None and found.index == 1 and "4-D feature map" in found.reason
    empty = (LayerInfo("conv", "Conv2D", "(None, 0, 0, 8)", 80, True),)
    assert surprise(empty) is not None
    table = layer_table(ModelInfo("model", None, None, None, None, {}, unpooled))
    lines = table.splitlines()
    assert lines[0] == "Model `model`"
    assert lines[2].startswith("  mobilenet") and "2,257,984" in lines[2]
    assert lines[2].endswith("no")
    assert lines[3].startswith("▶ dense") and lines[-1].startswith("▶ dense is a Dense layer")
