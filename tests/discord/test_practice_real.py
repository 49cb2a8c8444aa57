"""/practice on Discord with the real sandbox: on a fresh deployment (nothing cached), the
variant's answer is computed by running it, explained with the runner's explanation of the
outcome, and cached by code and TensorFlow version."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.runner.cache import ResultCache
from bot.runner.pool import Runner
from bot.settings import Settings
from bot.tutor.practice import TEMPLATES_DIR
from tests.discord.conftest import CONTENT
from tests.discord.helpers import attempts, buttons, question_of, text_of, warm_runner, world
from tests.helpers import FEATURES_EXPLAINED, practice_variants

pytestmark = pytest.mark.slow

ONE_FAILING_VARIANT = """\
templates:
  - id: head-on-wrong-features
    topic: feature-extraction
    difficulty: 2
    prompt: "A head built for {built} features is put on 8: what is `model.output_shape`?"
    code: |
      import tensorflow as tf
      head = tf.keras.Sequential([tf.keras.Input(({built},)), tf.keras.layers.Dense(3)])
      model = tf.keras.Sequential([tf.keras.Input((8,)), head])
    vary:
      built: [16]
    answer: output_shape
    model: model
    outcomes: [ValueError]
    hint: A head takes the features it was built for.
    explanation: "The head was built for {built} features and gets 8."
    references: [https://keras.io/api/layers/core_layers/dense/]
"""




@pytest.fixture
def content_dir(tmp_path: Path) -> Path:
    content = tmp_path / "content"
    shutil.copytree(CONTENT, content)
    (content / TEMPLATES_DIR).mkdir()
    (content / TEMPLATES_DIR / "one.yaml").write_text(ONE_FAILING_VARIANT, encoding="utf-8")
    return content


@pytest.fixture
async def runner(settings: Settings) -> AsyncIterator[Runner]:
    # The cache (the conftest's cache_dir) is empty: a fresh deployment.
    async with warm_runner(settings) as runner:
        yield runner


@pytest.mark.simcord(settle_timeout=300)
async def test_the_answer_is_computed_in_the_sandbox_and_explained(
    env, db_path, settings, content_dir
):
    _, channel, alice = world(env)

    asked = await alice.slash(channel, "practice")

    question = question_of(asked)
    assert "A head built for 16 features" in text_of(question)
    opened = await alice.click(question, label="Answer…")
    submitted = await alice.submit_modal(opened, {"answer": "(None, 3)"})
    feedback = submitted.followups[0]
    text = text_of(feedback)
    assert "Not quite. The answer is: ValueError" in text  # computed, never written by hand
    assert FEATURES_EXPLAINED in text  # the runner's explanation of this outcome
    assert set(buttons(feedback)) == {"Next question", "Run it", "Report a problem"}
    assert [row[1:3] for row in attempts(db_path)] == [("(None, 3)", 0)]
    # Cached by code and TensorFlow version, where `content check --execute` looks too.
    [variant] = practice_variants(content_dir / TEMPLATES_DIR)
    cached = ResultCache(settings.runner.cache_dir).get(variant.code)
    assert cached is not None and cached.explanation == FEATURES_EXPLAINED
