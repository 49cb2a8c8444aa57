"""/run in the terminal chat, with the real runner."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.console import Chat
from bot.runner.pool import Runner
from bot.tutor.replies import Kind, Reply
from bot.tutor.service import LearnerRef
from tests.runner.helpers import PLOT_SNIPPET

pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="session")]

WHO = LearnerRef("terminal", "ada", "local", "ada")


def chat_after_question(runner: Runner) -> Chat:
    chat = Chat(tutor=None, who=WHO, runner=runner)  # type: ignore[arg-type]
    question = Reply(text="What does it print?", kind=Kind.QUESTION, code="print('question')\n")
    chat.last = question
    chat.seen(question)
    return chat


async def test_run_alone_right_after_a_question_runs_its_code(runner: Runner):
    chat = chat_after_question(runner)
    reply = await chat.handle("/run\n")
    assert reply is not None and reply.title == "Run result"
    assert "question" in reply.text and "Ran successfully" in reply.text


async def test_run_then_lines_then_end_keeps_indentation(runner: Runner):
    chat = chat_after_question(runner)
    chat.last = Reply(text="Correct!", kind=Kind.FEEDBACK)  # no longer right after it
    prompt = await chat.handle("/run\n")
    assert prompt is not None and "/end" in prompt.text and chat.collecting
    for line in ("for i in range(2):\n", "    print('line', i)\n"):
        collected = await chat.handle(line)
        assert collected is not None and collected.text == ""
    reply = await chat.handle("/end\n")
    assert reply is not None and "line 0\nline 1" in reply.text
    assert not chat.collecting
    # /end at once runs the last question's code; end of input runs what was typed.
    await chat.handle("/run\n")
    assert "question" in (await chat.handle("/end\n")).text
    await chat.handle("/run\n")
    await chat.handle("print('at eof')\n")
    assert "at eof" in (await chat.finish()).text


async def test_one_line_run_and_errors_are_explained(runner: Runner):
    chat = Chat(tutor=None, who=WHO, runner=runner)  # type: ignore[arg-type]
    line = (
        "/run import tensorflow as tf; "
        "tf.keras.applications.VGG16(weights=None, include_top=False, input_shape=(16, 16, 3))\n"
    )
    reply = await chat.handle(line)
    assert reply is not None
    assert "ValueError (line 1): Input size must be at least 32x32" in reply.text
    assert "What it means:" in reply.text


async def test_run_writes_the_files_next_to_the_database_and_layers_shows_the_table(
    runner: Runner, tmp_path: Path
):
    chat = Chat(tutor=None, who=WHO, files_dir=tmp_path, runner=runner)  # type: ignore[arg-type]
    nothing = await chat.handle("/layers\n")
    assert nothing is not None and "/run a snippet" in nothing.text  # nothing ran yet

    chat.code_lines = [PLOT_SNIPPET]
    reply = await chat.finish()

    assert reply is not None and "Files the snippet wrote:" in reply.text
    paths = [Path(line.strip()) for line in reply.text.splitlines() if "run-files" in line]
    assert sorted(p.name for p in paths) == ["history.csv", "loss.png"]
    assert all(p.is_file() and p.is_relative_to(tmp_path / "run-files") for p in paths)
    assert "/layers shows" in reply.text
    layers = await chat.handle("/layers\n")
    assert layers is not None and layers.title == "Layers"
    assert "Model `model`" in layers.text and "▶ dense" in layers.text
