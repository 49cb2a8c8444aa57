"""Grades on Discord (issue 16), through SimCord: shuffled choices graded as shown (after a
restart too), a revealing run said before it runs and graded as hinted, the settings."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from tests.discord.fakes import FakeRunner
from tests.discord.helpers import buttons, question_of, restart, run_code, text_of, world
from tests.helpers import GRADES_BANK

CODE = "shape = (None, 5)\nprint(shape)\n"


@pytest.fixture
def content_dir() -> Path:
    return GRADES_BANK


@pytest.fixture
def shuffle_choices() -> bool:
    return True


@pytest.fixture
def runner() -> FakeRunner:
    return FakeRunner(delay_s=10.0)


def shown_choices(message) -> list[str]:
    """The choices as the question's embed numbers them: "**1.** Alpha"."""
    return re.findall(r"^\*\*\d\.\*\* (.+)$", message.embeds[0].description, re.M)


async def test_shuffled_choices_are_graded_as_shown_even_after_a_restart(
    env, settings, bots, db_path
):
    _, channel, alice = world(env)
    orders = []
    for _ in range(8):
        asked = await alice.slash(channel, "quiz", topic="basics")
        orders.append(shown_choices(question_of(asked)))
    assert all(o[3] == "All of the above" for o in orders)  # pinned
    assert len({tuple(o) for o in orders}) > 1  # an order of its own, each asking
    await restart(env, settings, bots)

    number = str(orders[-1].index("Alpha") + 1)  # on the latest message
    clicked = await alice.click(question_of(asked), label=number)
    assert "+20 XP" in text_of(clicked.followups[0])
    assert buttons(question_of(asked))[number]["style"] == 3  # success: the one chosen
    with sqlite3.connect(db_path) as db:
        assert db.execute("SELECT answer, correct FROM attempts").fetchall() == [("Alpha", 1)]


# In public modes a newer question closes the old message's buttons; messages only the learner
# sees cannot be edited later, so there the old message is still there to click.
@pytest.mark.parametrize("study_mode", ["ephemeral"])
async def test_an_old_message_grades_the_choice_it_showed(env, db_path):
    _, channel, alice = world(env)
    old = await alice.slash(channel, "quiz", topic="basics")
    new = await alice.slash(channel, "quiz", topic="basics")
    while shown_choices(question_of(new)) == shown_choices(question_of(old)):
        new = await alice.slash(channel, "quiz", topic="basics")
    beta = str(shown_choices(question_of(old)).index("Beta") + 1)
    clicked = await alice.click(question_of(old), label=beta)
    assert "(You answered: Beta)" in text_of(clicked.followups[0])
    with sqlite3.connect(db_path) as db:
        assert db.execute("SELECT answer, correct FROM attempts").fetchall() == [("Beta", 0)]


async def test_running_the_question_code_is_announced_and_graded_as_hinted(env, runner, db_path):
    runner.env = env
    _, channel, alice = world(env)
    asked = await alice.slash(channel, "quiz", topic="shapes")
    assert "What shape does this print?" in text_of(question_of(asked))  # the first new one

    running = await run_code(alice, channel, "# let me see\n" + CODE)
    # Said before it runs: the snippet takes 10 s and has not finished.
    assert runner.finished == 0
    assert "Running it shows the answer" in running.response.content
    assert "count as hinted" in running.response.content
    await env.advance_time(10)
    assert runner.finished == 1 and "Ran successfully" in text_of(running.response)

    opened = await alice.click(question_of(asked), label="Answer…")
    answered = await alice.submit_modal(opened, {"answer": "None x 5"})
    assert "+5 XP (ran its code first)" in text_of(answered.followups[0])
    with sqlite3.connect(db_path) as db:
        rows = db.execute("SELECT hinted, revealed, points FROM attempts").fetchall()
    assert rows == [(1, 1, 5)]


async def test_settings_show_and_change_retention_and_new_questions(env):
    _, channel, alice = world(env)
    shown = await alice.slash(channel, "settings show")
    assert shown.ephemeral and "Desired retention: 90%" in text_of(shown.response)
    saved = await alice.slash(channel, "settings retention", value=0.85)
    assert "Desired retention: 85%" in text_of(saved.response)
    saved = await alice.slash(channel, "settings new", per_day=5)
    assert "at most 5" in text_of(saved.response) and "85%" in text_of(saved.response)
