"""/practice on Discord: generated questions answered through the quiz's Answer modal, with
practice XP, the Next button that keeps practising, topic autocomplete. The answers come from a
cache filled as `content check --execute` leaves it; test_practice_real.py has the sandbox
compute one."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.tutor.practice import TEMPLATES_DIR
from tests.discord.conftest import CONTENT
from tests.discord.fakes import FakeRunner
from tests.discord.helpers import attempts, buttons, question_of, text_of, world
from tests.helpers import PRACTICE_TEMPLATES, fill_practice_cache, practice_variants


@pytest.fixture
def content_dir(tmp_path: Path) -> Path:
    """The Discord tests' questions, with the practice templates of tests/data/practice."""
    content = tmp_path / "content"
    shutil.copytree(CONTENT, content)
    shutil.copytree(PRACTICE_TEMPLATES, content / TEMPLATES_DIR)
    return content


@pytest.fixture
def runner() -> FakeRunner:
    """For "Run it": every answer is in the cache, so /practice itself never runs anything."""
    return FakeRunner()


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    """Every variant already computed, as `content check --execute` leaves the cache."""
    return fill_practice_cache(tmp_path / "cache").directory


async def test_practice_is_answered_in_the_modal_and_next_keeps_practising(env, db_path, runner):
    guild, channel, alice = world(env)

    asked = await alice.slash(channel, "practice", topic="debugging-errors")

    question = question_of(asked)  # in the channel (the Discord tests' study mode)
    assert "Practice · debugging-errors" in text_of(question) and "25% XP" in text_of(question)
    assert "tf.keras.layers.Dense(" in question.embeds[0].description
    assert set(buttons(question)) == {"Answer…", "Hint", "Skip"}
    qid = next(v.id for v in practice_variants() if v.id in buttons(question)["Hint"]["custom_id"])

    opened = await alice.click(question, label="Answer…")
    answer = "10" if qid.endswith("8af1d513ca") else "20"  # Dense(2) or Dense(4) on 4 inputs
    submitted = await alice.submit_modal(opened, {"answer": answer})

    assert attempts(db_path) == [(qid, answer, 1, str(alice.id), str(guild.id))]
    feedback = submitted.followups[0]
    assert "Correct! +2 XP (practice: 25% of the XP)" in text_of(feedback)
    assert "Next review" not in text_of(feedback)
    assert set(buttons(feedback)) == {"Next question", "Run it", "Report a problem"}
    assert all(b.get("disabled") for b in buttons(question).values())

    # "Run it" runs the variant's own code; nothing else ran (the answers were cached).
    runner.env = env
    ran = await alice.click(feedback, label="Run it")
    [variant] = [v for v in practice_variants() if v.id == qid]
    assert runner.calls == [(variant.code, str(alice.id))]
    title = next(line.strip() for line in variant.prompt.splitlines() if line.strip())[:60]
    assert ran.acknowledged and title in text_of(ran.response)  # titled with its prompt

    # Next under practice feedback asks the next practice question (another variant).
    nexted = await alice.click(feedback, label="Next question")
    again = question_of(nexted)
    assert "Practice · " in text_of(again)
    assert qid not in buttons(again)["Hint"]["custom_id"]


async def test_practice_topics_autocomplete_and_an_unknown_topic_is_refused(env):
    _, channel, alice = world(env)

    choices = await alice.autocomplete(channel, "practice", "topic", "")
    assert [c["value"] for c in choices] == ["feature-extraction", "debugging-errors"]
    refused = await alice.slash(channel, "practice", topic="basics")  # a quiz topic only
    assert refused.ephemeral and not refused.deferred
    assert "Topics: feature-extraction, debugging-errors" in text_of(refused.response)
