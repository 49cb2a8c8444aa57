"""Every failure is answered privately with an error id; the traceback goes to the log under
that id; no interaction is left unanswered, and no credential reaches the log."""

from __future__ import annotations

import logging
import re
import sqlite3

import simcord
from sqlalchemy.exc import OperationalError

from bot.cogs.errors import ShuttingDown, UserError, user_message
from db import StoreError
from tests.discord.helpers import attempts, question_of, text_of, world

ERROR_ID = re.compile(r"error id `([0-9a-f]{8})`")


async def test_a_failing_slash_command_gets_a_private_error_id(env, db_path, caplog):
    _, channel, alice = world(env)
    with sqlite3.connect(db_path) as db:
        db.execute("DROP TABLE attempts")  # the store now fails under the command

    with caplog.at_level(logging.INFO):
        failed = await alice.slash(channel, "progress")

    assert failed.acknowledged and failed.ephemeral
    found = ERROR_ID.search(text_of(failed.response))
    assert found is not None
    error_id = found[1]
    logged = [r for r in caplog.records if error_id in r.getMessage()]
    assert logged and logged[0].exc_info is not None
    assert "progress" in logged[0].getMessage()
    assert "simcord_interaction_" not in caplog.text  # interaction tokens are credentials
    # The store's one-line error, with SQLAlchemy's (and its SQL) kept as the cause for the log.
    assert [type(e.__cause__ or e) for e in env.errors] == [StoreError]
    assert isinstance(env.errors[0].__cause__.__cause__, OperationalError)


async def test_a_failing_reply_after_a_click_still_stores_the_answer(env, db_path, caplog):
    _, channel, alice = world(env)
    asked = await alice.slash(channel, "quiz", topic="basics", difficulty="easy")
    env.inject_error("POST", "/webhooks/*/*", status=400, code=50035, message="Invalid Form Body")

    with caplog.at_level(logging.INFO):
        clicked = await alice.click(question_of(asked), label="2")

    assert clicked.acknowledged
    (note,) = clicked.followups
    assert note.ephemeral
    found = ERROR_ID.search(text_of(note))
    assert found is not None
    error_id = found[1]
    assert any(error_id in r.getMessage() and r.exc_info for r in caplog.records)
    assert [row[0] for row in attempts(db_path)] == ["pick-a-base"]  # committed before replying


async def test_user_errors_carry_no_id():
    assert user_message(UserError("Wait 3 s.")) == ("Wait 3 s.", None)
    text, error_id = user_message(ShuttingDown())
    assert "restarting" in text and error_id is None
    text, error_id = user_message(KeyError("boom"))
    assert error_id is not None and error_id in text and "boom" not in text


async def test_interactions_during_shutdown_are_answered(env: simcord.Env):
    _, channel, alice = world(env)
    env.bot.closing = True  # what close() sets first

    refused = await alice.slash(channel, "quiz")

    assert refused.ephemeral and "restarting" in text_of(refused.response)
    env.bot.closing = False
    assert env.errors  # acknowledged: it went through the tree's error handler
