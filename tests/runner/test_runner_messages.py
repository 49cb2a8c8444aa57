"""Long exception messages are kept whole in the result and shortened only where they are shown,
at line or sentence boundaries, keeping the sentence that says what was expected."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.cogs.run._render import EXCEPTION_CHARS, result_message
from bot.runner.result import ELLIPSIS, MESSAGE_SHOWN, ExceptionInfo, RunResult, Status
from bot.runner.result import shorten_message as shorten

EXPECTED = "Expected shape (None, 32, 32, 3), but input has incompatible shape (4, 16, 32, 32, 3)"


def eager_double_batch_message(rows: int = 2000) -> str:
    """The shape of Keras' message for a double-batched dataset when fit runs eagerly: the whole
    input tensor is printed before the sentence that matters."""
    dump = "\n".join("    [4.15106952e-01 8.30070913e-01 3.60800147e-01]" for _ in range(rows))
    return (
        "Exception encountered when calling Sequential.call().\n\n"
        f"Invalid input shape for input [[[[[4.1e-01 8.3e-01 3.6e-01]\n{dump}\n"
        f"    [4.8e-01 7.7e-01 3.3e-01]]]]] with name 'keras_tensor' and path ''. {EXPECTED}\n\n"
        "Arguments received by Sequential.call():\n"
        "  • inputs=tf.Tensor(shape=(4, 16, 32, 32, 3), dtype=float32)\n"
        "  • training=True\n"
    )


def graph_label_message(frames: int = 60) -> str:
    stack = "\n\n".join(
        f'  File "/opt/venv/keras/src/module{i}.py", line {i}, in f{i}' for i in range(frames)
    )
    return (
        "Graph execution error:\n\nDetected at node compile_loss/SparseSoftmaxCrossEntropy "
        f"defined at (most recent call last):\n{stack}\n\n"
        "Received a label value of 5 which is outside the valid range of [0, 3).  "
        "Label values: 5 1 0 0\n\t [[{{node compile_loss/SparseSoftmaxCrossEntropy}}]] "
        "[Op:__inference_multi_step_on_iterator_538]"
    )


def assert_cut_at_boundaries(original: str, short: str) -> None:
    """Every line shown is "…", a whole line of the original, or whole sentences of one."""
    lines = original.split("\n")
    for line in short.split("\n"):
        if line == ELLIPSIS or line in lines:
            continue
        for piece in line.split(f" {ELLIPSIS}"):
            piece = piece.strip().removeprefix(ELLIPSIS).strip()
            assert not piece or any(piece in whole for whole in lines), line


@pytest.mark.parametrize("limit", [1500, 800, 400, 250])
def test_the_expected_sentence_survives_a_huge_message(limit: int):
    message = eager_double_batch_message()
    assert len(message) > 40_000
    short = shorten(message, limit)
    assert len(short) <= limit
    assert EXPECTED in short
    assert_cut_at_boundaries(message, short)


@pytest.mark.parametrize("limit", [1500, 400, 200])
def test_graph_errors_lose_their_stack_not_their_reason(limit: int):
    message = graph_label_message()
    short = shorten(message, limit)
    assert len(short) <= limit and "File " not in short
    assert "Received a label value of 5 which is outside the valid range of [0, 3)." in short
    assert short.startswith("Graph execution error:")
    assert_cut_at_boundaries(message, short)


def test_short_messages_are_shown_whole():
    message = "Input size must be at least 32x32; Received: input_shape=(28, 28, 3)"
    assert shorten(message, 200) == message


def test_one_long_sentence_is_cut_after_a_word():
    message = "word " * 100
    short = shorten(message, 60)
    assert len(short) <= 60 and short.endswith(ELLIPSIS) and " wor" + ELLIPSIS not in short


def test_render_and_discord_shorten_but_the_result_keeps_the_whole_message():
    message = eager_double_batch_message()
    result = RunResult(Status.ERROR, exception=ExceptionInfo("ValueError", message, 7))
    assert json.loads(json.dumps(result.to_dict()))["exception"]["message"] == message
    text = result.render()
    assert EXPECTED in text and len(text) < MESSAGE_SHOWN + 200
    shown: Any = result  # RunResultLike is a structural protocol of the Discord layer
    (embed,), _ = result_message(shown)
    assert embed.description is not None and EXPECTED in embed.description
    assert len(embed) <= 6000 and len(embed.description) < EXCEPTION_CHARS + 200


@pytest.mark.slow
@pytest.mark.asyncio(loop_scope="session")
async def test_a_real_double_batch_message_is_whole_in_the_result_and_shown_with_its_reason(
    sandbox_results: dict[str, RunResult],
):
    # Fit with run_eagerly=True (the snippet's own choice) prints the whole input tensor.
    result = sandbox_results["mistake:double-batched-dataset-run-eagerly"]
    assert result.exception is not None and result.exception.type == "ValueError"
    message = result.exception.message
    assert len(message) > 4000  # the worker used to cut here, before the sentence below
    expected = "Expected shape (None, 32, 32, 3), but input has incompatible shape"
    assert expected in message
    assert expected in result.render()
    shown: Any = result
    (embed,), _ = result_message(shown)
    assert embed.description is not None and expected in embed.description
