"""The sandbox shows what the learner's own TensorFlow would show.

Every content snippet, every explanation rule's example and near miss (learner mistakes of
transfer learning) and the mistakes in corpus.py run once in the sandbox (conftest's
sandbox_results, with the production limits) and once as plain Python on the pinned TensorFlow
(plain.py: no sandbox, no worker). Their status, exception type, first line of the message,
models (names, shapes, parameter counts) and stdout (progress lines aside) must be equal.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.runner.explain import default_explainer
from bot.runner.result import RunResult
from bot.tutor.content import load_bank
from tests.runner import corpus
from tests.runner.conftest import PROJECT

KEYS = [
    s.key
    for s in corpus.content_snippets(load_bank(PROJECT / "content"))
    + corpus.rule_snippets(r for r in default_explainer().rules if not corpus.limited(r))
    + corpus.mistake_snippets()
    if s.key not in corpus.NOT_COMPARABLE
]


def test_the_corpus_has_at_least_twenty_learner_mistakes():
    mistakes = [k for k in KEYS if k.startswith(("rule:", "mistake:"))]
    assert len(mistakes) >= 20, mistakes


def test_progress_lines_are_ignored_and_the_rest_is_kept():
    keras_v2 = "Epoch 1/2\n1/1 - 2s - 2s/step - accuracy: 0.5000 - loss: 0.7173\ndone 0.25\n"
    keras_v1 = "\x08\x08\r1/1 ━━━━━━━━━━━━━━━━━━━━ 0s 31ms/step\ndone 0.25\n"
    assert corpus.normalise_stdout(keras_v2) == ["Epoch 1/2", "<progress>", "done 0.25"]
    assert corpus.normalise_stdout(keras_v1) == ["<progress>", "done 0.25"]


@pytest.mark.slow
@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("key", KEYS)
async def test_sandbox_outcome_equals_plain_python(
    sandbox_results: dict[str, RunResult], plain_results: dict[str, dict[str, Any]], key: str
):
    assert key in plain_results, f"the plain run of {key} did not report"
    sandbox = corpus.sandbox_outcome(sandbox_results[key])
    plain = corpus.plain_outcome(plain_results[key])
    assert sandbox == plain
