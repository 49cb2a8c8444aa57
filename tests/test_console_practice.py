"""/practice in the terminal: in process over the real store (a seeded choice of variants), and
once through `python -m bot chat`, answered from a results cache left by `content check
--execute` (so no sandbox starts)."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

from bot.console import Chat, render
from bot.runner.practice import VariantBank
from bot.tutor.practice import TEMPLATES_DIR, load_templates
from bot.tutor.replies import Kind
from bot.tutor.service import Tutor
from tests.helpers import (
    PRACTICE_TEMPLATES,
    SAMPLE_BANK,
    attempts,
    chat,
    fill_practice_cache,
    learner,
    practice_variants,
)


async def test_practice_then_enter_keeps_practising(bank, store, clock, tmp_path: Path):
    variants = VariantBank(
        load_templates(PRACTICE_TEMPLATES), fill_practice_cache(tmp_path / "cache"), None
    )
    tutor = Tutor(bank, store, now=clock, practice=variants, rng=random.Random(3))
    talk = Chat(tutor, learner())

    asked = await talk.handle("/practice debugging-errors")
    assert asked is not None and asked.kind is Kind.QUESTION
    assert "Practice · debugging-errors" in render(asked)
    question = tutor.question(asked.question_id or "")
    assert question is not None
    feedback = await talk.handle(question.correct_answer)
    assert feedback is not None and "✅ Correct! +2 XP (practice: 25% of the XP)" in feedback.text
    assert "(Enter or /practice: next practice question)" in render(feedback)
    talk.last = feedback
    following = await talk.handle("")  # Enter: the next practice question, same topic
    assert following is not None and following.kind is Kind.QUESTION
    assert "Practice · debugging-errors" in render(following)
    assert following.question_id != asked.question_id
    refused = await talk.handle("/practice astrology")
    assert refused is not None and "Topics: feature-extraction, debugging-errors" in refused.text


def test_practice_in_the_terminal_chat(tmp_path: Path):
    content = tmp_path / "content"
    shutil.copytree(SAMPLE_BANK, content)
    shutil.copytree(PRACTICE_TEMPLATES, content / TEMPLATES_DIR)
    [dense2] = [v for v in practice_variants() if v.values == {"units": 2}]
    cache = fill_practice_cache(tmp_path / "cache", only=dense2.id)  # only that one computed
    db = tmp_path / "t.db"
    result = chat(
        "/help\n/practice debugging-errors\n10\n/progress\n",
        db,
        "--content-dir",
        str(content),
        env={"TUTOR_RUNNER__CACHE_DIR": str(cache.directory)},
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "/practice [topic]" in out  # in the help
    assert "`Dense(2)` on 4 features" in out
    assert "✅ Correct! +2 XP (practice: 25% of the XP)" in out
    assert "XP: 2" in out
    assert attempts(db) == [(dense2.id, "10", 1, 0, 2)]
