"""A hint stays with the learner's question until it is answered, whatever happens between."""

from __future__ import annotations

import sqlite3

from tests.discord.helpers import question_of, restart, text_of, world


async def test_hint_then_skip_then_the_same_question_again_is_still_hinted(
    env, settings, bots, db_path
):
    _, channel, alice = world(env)
    # No difficulty: the filters stay in force through Skip, and "basics" has another question.
    asked = await alice.slash(channel, "quiz", topic="basics")
    assert "pick-a-base" in str(question_of(asked).components)
    await alice.click(question_of(asked), label="Hint")
    skipped = await alice.click(question_of(asked), label="Skip")
    assert "pick-a-base" not in str(skipped.followups[0].components)
    await restart(env, settings, bots)

    again = await alice.slash(channel, "quiz", topic="basics", difficulty="easy")
    assert "pick-a-base" in str(question_of(again).components)
    assert "You saw the hint for this question" in text_of(question_of(again))
    clicked = await alice.click(question_of(again), label="2")

    assert "+5 XP (with a hint)" in text_of(clicked.followups[0])
    with sqlite3.connect(db_path) as db:
        assert db.execute("SELECT question_id, points, hinted FROM attempts").fetchall() == [
            ("pick-a-base", 5, 1)
        ]
        assert db.execute("SELECT rating FROM review_logs").fetchall() == [(2,)]  # FSRS Hard
    progress = await alice.slash(channel, "progress")
    assert "hints used: 1" in text_of(progress.response)
