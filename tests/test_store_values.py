"""Values SQLite keeps and PostgreSQL refuses (NUL in text, integers past 32 bits, text longer
than its column): the store stores the same thing on both, or refuses the same way, so that a
learner on PostgreSQL never meets a database error that SQLite would not have given."""


import pytest

from bot.tutor.moderator import Actor, Authority, Moderator
from bot.tutor.service import LearnerRef
from tests.helpers import learner, select

MOD = Actor("test", "g1", "mod-1", "Mo\x00", Authority.MANAGER)


async def test_an_answer_weeks_after_the_question_is_recorded(tutor, store, clock):
    """time_to_answer_ms is a 32-bit column: 25 days overflow it; the time is capped."""
    ada = learner()
    await tutor.quiz(ada)
    clock.advance(days=30)
    reply = await tutor.answer(ada, "1")
    assert "Not quite" in reply.text, reply.text
    attempts, _resets = await store.moderation.report_attempts(await store.learner_id(ada))
    [row] = attempts
    assert row.time_to_answer_ms == 2**31 - 1


async def test_text_with_nul_is_stored_with_a_replacement_character(tutor, store, bank, clock):
    """PostgreSQL text cannot hold NUL: names and reasons keep the rest, on every database."""
    odd = LearnerRef("test", "ada", "g1", "A\x00da")
    await tutor.quiz(odd)
    await tutor.answer(odd, "2")
    mods = Moderator(bank, store.moderation, now=clock)
    done = await mods.exclude(MOD, "ada", "spam\x00bot")
    assert done.text.startswith("Excluded"), done.text
    [row] = await store.moderation.mod_log("test", "g1", 10)
    names = (row.moderator_name, row.learner_name, row.reason)
    assert names == ("Mo\ufffd", "A\ufffdda", "spam\ufffdbot")


async def test_an_id_longer_than_its_column_is_refused_alike(store, db_url):
    """Truncating an id could merge two users; SQLite would keep it and PostgreSQL refuse it
    with a database error. Both refuse it, before writing anything."""
    with pytest.raises(ValueError, match="user id is longer than 64 characters"):
        await store.learner_id(LearnerRef("test", "u" * 65, "g1", "Long"))
    with pytest.raises(ValueError, match="guild id is longer than 64 characters"):
        await store.learner_id(LearnerRef("test", "u", "g" * 65, "Long"))
    assert await store.learner_id(LearnerRef("test", "u" * 64, "g" * 64, "N" * 300))
    assert await select(db_url, "select count(*) from learners") == [(1,)]


async def test_a_database_error_names_the_database_without_its_password(pg_url):
    """A URL with no password is not a secret: the error says which server it was."""
    from sqlalchemy import text

    from db import StoreError, open_store

    store = await open_store(pg_url)
    with pytest.raises(StoreError) as caught:
        await store.database.write(lambda conn: conn.execute(text("select * from nowhere")))
    await store.close()
    assert pg_url in str(caught.value) and "nowhere" in str(caught.value)
