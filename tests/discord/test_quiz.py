"""/quiz, the answer buttons, the short-answer modal, hints, skipping, and who may click."""

from __future__ import annotations

import sqlite3

import pytest
import simcord

from tests.discord.helpers import attempts, buttons, question_of, restart, text_of, world

SUCCESS, DANGER = 3, 4


async def test_quiz_then_right_answer_is_stored(env, db_path):
    guild, channel, alice = world(env)

    asked = await alice.slash(channel, "quiz", topic="basics", difficulty="easy")

    # "thinking…" is private (a refusal would stay private); the question is public, in the
    # channel mode these tests use (test_study.py: the other modes), addressed to alice.
    assert asked.acknowledged and asked.ephemeral
    question = question_of(asked)
    assert not question.ephemeral and question.content == alice.mention
    assert "freeze" in question.embeds[0].description
    assert "**2.** The pretrained base." in question.embeds[0].description
    assert set(buttons(question)) == {"1", "2", "3", "Hint", "Skip"}

    clicked = await alice.click(question, label="2")

    assert clicked.acknowledged
    assert attempts(db_path) == [
        ("pick-a-base", "The pretrained base.", 1, str(alice.id), str(guild.id))
    ]
    (feedback,) = clicked.followups
    assert not feedback.ephemeral
    assert "Correct! +10 XP" in text_of(feedback)
    assert "the base keeps what it learned" in text_of(feedback)
    assert "Freeze the pretrained base, train the new head" in text_of(feedback)
    assert set(buttons(feedback)) == {"Next question", "Report a problem"}  # no "Run it"
    # The question message now shows the choice, and cannot be answered again.
    after = buttons(question_of(asked))
    assert all(b.get("disabled") for b in after.values())
    assert after["2"]["style"] == SUCCESS


async def test_wrong_answer_shows_its_feedback_and_the_right_answer(env, db_path):
    _, channel, alice = world(env)
    asked = await alice.slash(channel, "quiz", topic="basics", difficulty="easy")

    clicked = await alice.click(question_of(asked), label="1")

    text = text_of(clicked.followups[0])
    assert "Not quite. The answer is: The pretrained base." in text
    assert "The head is new" in text
    assert attempts(db_path)[0][1:3] == ("The new classification head.", 0)
    assert buttons(question_of(asked))["1"]["style"] == DANGER


async def test_a_button_clicked_after_a_restart_is_graded_and_stored(env, settings, bots, db_path):
    _, channel, alice = world(env)
    asked = await alice.slash(channel, "quiz", topic="basics", difficulty="easy")
    old_bot = env.bot

    new_bot = await restart(env, settings, bots)

    assert new_bot is not old_bot and old_bot.is_closed()
    clicked = await alice.click(question_of(asked), label="2")
    assert clicked.acknowledged
    assert "Correct!" in text_of(clicked.followups[0])
    assert [row[:3] for row in attempts(db_path)] == [("pick-a-base", "The pretrained base.", 1)]


async def test_short_answer_through_the_modal(env, db_path):
    _, channel, alice = world(env)
    asked = await alice.slash(channel, "quiz", topic="shapes")
    question = question_of(asked)
    assert "```py\nimport tensorflow as tf" in question.embeds[0].description
    assert set(buttons(question)) == {"Answer…", "Hint", "Skip"}

    opened = await alice.click(question, label="Answer…")
    assert opened.modal is not None and opened.modal["title"] == "Your answer"
    submitted = await alice.submit_modal(opened, {"answer": "[None, 5]"})

    assert submitted.acknowledged
    assert [row[:3] for row in attempts(db_path)] == [("head-output-shape", "[None, 5]", 1)]
    feedback = submitted.followups[0]
    assert "Correct! +20 XP" in text_of(feedback)
    assert set(buttons(feedback)) == {"Next question", "Run it", "Report a problem"}
    assert all(b.get("disabled") for b in buttons(question_of(asked)).values())


async def test_the_modal_still_works_across_a_restart(env, settings, bots, db_path):
    _, channel, alice = world(env)
    asked = await alice.slash(channel, "quiz", topic="shapes")
    opened = await alice.click(question_of(asked), label="Answer…")

    await restart(env, settings, bots)
    submitted = await alice.submit_modal(opened, {"answer": "(None, 4)"})

    assert "Not quite. The answer is: (None, 5)" in text_of(submitted.followups[0])
    assert [row[:3] for row in attempts(db_path)] == [("head-output-shape", "(None, 4)", 0)]


async def test_only_the_learner_who_asked_may_answer(env, db_path):
    guild, channel, alice = world(env)
    bob = guild.add_member(env.create_user("bob"))
    asked = await alice.slash(channel, "quiz", topic="basics", difficulty="easy")

    for label in ("2", "Hint", "Skip"):
        refused = await bob.click(question_of(asked), label=label)
        assert refused.ephemeral
        assert "someone else's question" in refused.response.content
    shapes = await alice.slash(channel, "quiz", topic="shapes")
    refused = await bob.click(question_of(shapes), label="Answer…")
    assert refused.modal is None and refused.ephemeral

    assert attempts(db_path) == []
    # Alice's question is untouched: her own click still counts.
    clicked = await alice.click(question_of(shapes), label="Answer…")
    assert clicked.modal is not None


async def test_an_old_question_loses_its_buttons_when_a_newer_one_opens(env, db_path):
    _, channel, alice = world(env)
    first = await alice.slash(channel, "quiz", topic="basics", difficulty="easy")
    old = question_of(first)
    await alice.slash(channel, "quiz", topic="shapes")

    assert not buttons(old) and "Replaced by a newer question" in old.content
    assert "freeze" in text_of(old)  # the question itself is still there to read
    assert attempts(db_path) == []


@pytest.mark.parametrize("study_mode", ["ephemeral"])
async def test_an_old_private_question_is_closed_when_clicked(env, db_path):
    """A message only the learner sees cannot be edited when the newer question opens: a click
    on it says why privately, and closes it."""
    _, channel, alice = world(env)
    first = await alice.slash(channel, "quiz", topic="basics", difficulty="easy")
    await alice.slash(channel, "quiz", topic="shapes")

    stale = await alice.click(question_of(first), label="2")

    assert stale.followups[0].ephemeral
    assert "no longer open" in text_of(stale.followups[0])
    assert not buttons(first.response) and "Replaced" in first.response.content
    assert attempts(db_path) == []


async def test_hint_button_then_answer_earns_half_points(env, db_path):
    _, channel, alice = world(env)
    asked = await alice.slash(channel, "quiz", topic="basics", difficulty="easy")

    hinted = await alice.click(question_of(asked), label="Hint")
    assert hinted.followups[0].ephemeral
    assert "Which part already knows something useful?" in text_of(hinted.followups[0])
    clicked = await alice.click(question_of(asked), label="2")

    assert "+5 XP (with a hint)" in text_of(clicked.followups[0])
    with sqlite3.connect(db_path) as db:
        assert db.execute("SELECT points, hinted FROM attempts").fetchall() == [(5, 1)]


async def test_hint_and_skip_commands(env):
    _, channel, alice = world(env)

    nothing = await alice.slash(channel, "hint")
    assert nothing.ephemeral and "No question is open" in text_of(nothing.response)
    nothing = await alice.slash(channel, "skip")
    # "Nothing to skip" is said privately, and nothing public was posted.
    assert nothing.ephemeral and "No question is open" in text_of(nothing.response)
    assert not nothing.followups

    await alice.slash(channel, "quiz", topic="basics")
    hint = await alice.slash(channel, "hint")
    assert hint.ephemeral and "Which part already knows" in text_of(hint.response)
    skipped = await alice.slash(channel, "skip")
    assert not question_of(skipped).ephemeral
    assert "Which learning rate" in text_of(question_of(skipped)) or "output_shape" in text_of(
        question_of(skipped)
    )


async def test_skip_button_closes_the_question_and_asks_another(env, db_path):
    _, channel, alice = world(env)
    asked = await alice.slash(channel, "quiz", topic="basics", difficulty="easy")

    skipped = await alice.click(question_of(asked), label="Skip")

    assert all(b.get("disabled") for b in buttons(question_of(asked)).values())
    new_question = skipped.followups[0]
    assert not new_question.ephemeral and "Question" in text_of(new_question)
    assert attempts(db_path) == []


async def test_next_button_asks_the_clicker_a_new_question(env):
    guild, channel, alice = world(env)
    bob = guild.add_member(env.create_user("bob"))
    asked = await alice.slash(channel, "quiz", topic="basics")
    answered = await alice.click(question_of(asked), label="2")
    feedback = answered.followups[0]

    mine = await alice.click(feedback, label="Next question")
    theirs = await bob.click(feedback, label="Next question")

    assert "pick-a-base" not in str(buttons(mine.followups[0]))  # not the one just answered
    assert not mine.followups[0].ephemeral  # alice's, where she studies
    owner_in = [b["custom_id"] for b in buttons(theirs.followups[0]).values()]
    assert all(f":{bob.id}:" in cid for cid in owner_in)
    # Bob's is private: under alice's feedback (in her study thread, maybe), it is not his place.
    assert theirs.followups[0].ephemeral


async def test_unknown_topic_is_refused_privately_and_topics_autocomplete(env):
    _, channel, alice = world(env)

    refused = await alice.slash(channel, "quiz", topic="astrology")
    assert refused.ephemeral and not refused.deferred
    assert "Topics: basics, shapes" in text_of(refused.response)

    choices = await alice.autocomplete(channel, "quiz", "topic", "sha")
    assert choices == [{"name": "shapes", "value": "shapes"}]
    choices = await alice.autocomplete(channel, "skip", "topic", "")
    assert [c["value"] for c in choices] == ["basics", "shapes"]


async def test_custom_ids_fit_discords_limit(env):
    from bot.cogs.quiz._views import AnswerButton

    button = AnswerButton(2**64 - 1, "q" * 60, 5)
    assert len(button.custom_id) <= 100
    with pytest.raises(ValueError, match="custom_id too long"):
        AnswerButton(2**64 - 1, "q" * 80, 5)


async def test_dms_work_and_are_kept_apart_from_servers(env, db_path):
    _, channel, alice = world(env)
    dm_user: simcord.UserHandle = alice.user

    asked = await dm_user.slash("quiz", topic="basics", difficulty="easy")
    clicked = await dm_user.click(question_of(asked), label="2")

    assert "Correct!" in text_of(clicked.followups[0])
    assert attempts(db_path) == [("pick-a-base", "The pretrained base.", 1, str(alice.id), "")]
    # In the server, Alice has nothing open: DMs are their own space.
    hint = await alice.slash(channel, "hint")
    assert "No question is open" in text_of(hint.response)


async def test_review_asks_only_due_questions(env):
    _, channel, alice = world(env)

    nothing = await alice.slash(channel, "review")
    assert "Nothing to review right now" in text_of(nothing.response)
    asked = await alice.slash(channel, "quiz", topic="basics", difficulty="easy")
    await alice.click(question_of(asked), label="1")  # wrong: due again within minutes
    later = await alice.slash(channel, "review")
    assert "Nothing to review right now. The next one is due" in text_of(later.response)
