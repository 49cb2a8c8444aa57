"""Studying without flooding the channel (issue 15), through SimCord: for each study mode, where
every message of a 10-question session goes and who can see it; the server's settings and the
learner's choice; private refusals; filters that stay in force."""

from __future__ import annotations

from typing import Any

import discord
import pytest
import simcord

from bot.settings import StudyMode
from tests.discord.fakes import FakeRunner
from tests.discord.helpers import attempts, buttons, question_of, text_of, world


@pytest.fixture
def study_mode() -> StudyMode:
    return "auto"  # out of the box; a test names another mode by parametrizing this


def controls(message: Any) -> dict[str | None, bool]:
    """label → disabled, for a message as a channel's history gives it (discord.py's own
    Message) or as an interaction's result does (raw payloads)."""
    if isinstance(message, discord.Message):
        return {
            child.label: child.disabled
            for row in message.components
            if isinstance(row, discord.ActionRow)
            for child in row.children
            if isinstance(child, discord.Button)
        }
    return {label: bool(raw.get("disabled")) for label, raw in buttons(message).items()}


def open_question(messages: list[Any]) -> Any:
    """The last message with question buttons still open."""
    found = [m for m in messages if controls(m).get("Skip") is False]
    assert found, "no open question"
    return found[-1]


def public_in(channel: Any, bob: Any) -> list[Any]:
    """What another member sees in ``channel``, apart from Discord's own notice that a thread
    was started (a thread's starter, which Discord posts itself)."""
    return [
        m for m in channel.history(viewer=bob) if m.type is not discord.MessageType.thread_created
    ]


def no_pings(env: simcord.Env, channel: Any) -> bool:
    stored = env.backend.messages.get(channel.id, {}).values()
    return all(not m.ping_user_ids and not m.ping_role_ids for m in stored)


async def session(alice: Any, first: Any, where: Any, count: int = 10) -> Any:
    """Answer ``count`` questions, clicking "1" then "Next question" each time; ``first`` is
    the first question, ``where`` lists the messages the next ones are looked for in (None:
    the click's own follow-ups). Returns the last feedback."""
    question = first
    feedback = None
    for number in range(1, count + 1):
        assert f"question {number} of {count}" in text_of(question)
        assert "🎯 basics" in text_of(question)  # the topic stays in force through Next
        answered = await alice.click(question, label="1")
        (feedback,) = answered.followups
        if number < count:
            assert "Set done" not in text_of(feedback)
            following = await alice.click(feedback, label="Next question")
            question = following.followups[0] if where is None else open_question(where())
    return feedback


async def test_a_session_in_a_private_study_thread(env, db_path):
    """Out of the box, where the bot may create private threads: the learner's own thread.
    The channel shows nobody anything but Discord's notice of the thread."""
    guild, channel, alice = world(env)
    bob = guild.add_member(env.create_user("bob"))

    started = await alice.slash(channel, "quiz", topic="basics", count=10)

    assert started.ephemeral and not started.followups
    (thread,) = channel.threads
    assert f"Your question is in <#{thread.id}>" in text_of(started.response)
    assert thread.name == "📚 alice's study"
    last = await session(alice, open_question(thread.history()), thread.history)

    assert "🏁 Set done:" in text_of(last) and "of 10 right" in text_of(last)
    assert "🔥 Streak: 1 day." in text_of(last) and "🔁 Coming back:" in text_of(last)
    assert len(attempts(db_path)) == 10
    assert public_in(channel, bob) == []
    in_thread = thread.history(viewer=alice)
    assert len(in_thread) == 20  # ten questions, ten feedbacks: all in her thread
    assert all(m.content == alice.mention for m in in_thread)  # each addressed to her
    with pytest.raises(simcord.SetupError):  # a private thread: bob cannot read it
        thread.history(viewer=bob)
    assert no_pings(env, thread) and no_pings(env, channel)

    # The next /quiz in the channel reuses the thread; one typed in it stays in it.
    again = await alice.slash(channel, "quiz")
    assert [t.id for t in channel.threads] == [thread.id]
    assert f"<#{thread.id}>" in text_of(again.response)
    inside = await alice.slash(thread, "quiz")
    assert inside.ephemeral and inside.followups and not question_of(inside).ephemeral
    assert public_in(channel, bob) == []


async def test_a_session_in_ephemeral_messages_where_no_thread_can_be_made(env, db_path):
    """Out of the box, where the bot may not create threads: every message is private."""
    guild, _, alice = world(env)
    bob = guild.add_member(env.create_user("bob"))
    no_threads = discord.PermissionOverwrite(
        create_private_threads=False, create_public_threads=False
    )
    quiet = guild.create_text_channel("quiet", overwrites={guild.me: no_threads})

    started = await alice.slash(quiet, "quiz", topic="basics", count=10)

    question = question_of(started)
    assert started.response.id == question.id and question.ephemeral
    last = await session(alice, question, None)

    assert "🏁 Set done:" in text_of(last)
    assert len(attempts(db_path)) == 10
    assert quiet.history(viewer=bob) == [] and quiet.threads == []
    everything = quiet.history(viewer=alice)
    assert len(everything) == 20 and all(m.flags.ephemeral for m in everything)


async def test_a_public_thread_where_private_ones_cannot_be_made(env):
    guild, _, alice = world(env)
    bob = guild.add_member(env.create_user("bob"))
    public_only = discord.PermissionOverwrite(create_private_threads=False)
    hall = guild.create_text_channel("hall", overwrites={guild.me: public_only})

    await alice.slash(hall, "quiz", topic="basics")

    (thread,) = hall.threads
    assert [m.content for m in thread.history(viewer=bob)] == [alice.mention]  # bob may look
    assert public_in(hall, bob) == []


@pytest.mark.parametrize("study_mode", ["channel"])
async def test_a_session_in_the_channel_is_addressed_to_its_learner(env, db_path):
    """The channel mode (a server's choice): questions and feedback are public, each one
    addressed to its learner by a mention that pings no one."""
    guild, channel, alice = world(env)
    bob = guild.add_member(env.create_user("bob"))

    started = await alice.slash(channel, "quiz", topic="basics", count=10)

    assert started.ephemeral  # "thinking…", then removed: only the question shows
    await session(alice, question_of(started), None)
    seen = public_in(channel, bob)
    assert len(seen) == 20 and all(m.content == alice.mention for m in seen)
    assert no_pings(env, channel)


async def _moderator(env: simcord.Env, guild: Any) -> Any:
    admins = guild.create_role("admins", permissions=discord.Permissions(manage_guild=True))
    return guild.add_member(env.create_user("boss"), roles=[admins])


async def test_moderators_choose_the_mode_and_the_study_channels(env):
    guild, channel, alice = world(env)
    boss = await _moderator(env, guild)
    bob = guild.add_member(env.create_user("bob"))
    lounge = guild.create_text_channel("lounge")

    shown = await boss.slash(channel, "mod settings study")
    assert shown.ephemeral and "Study mode: automatic" in text_of(shown.response)
    saved = await boss.slash(channel, "mod settings study", mode="channel", add_channel=channel)
    assert saved.ephemeral and f"Study channels: <#{channel.id}>" in text_of(saved.response)
    assert "mod settings study" not in bob.available_commands(channel)

    elsewhere = await alice.slash(lounge, "quiz")
    assert elsewhere.ephemeral and not elsewhere.followups
    assert f"studying happens in <#{channel.id}>" in text_of(elsewhere.response)
    assert lounge.history(viewer=bob) == []
    here = await alice.slash(channel, "quiz", topic="basics")
    assert not question_of(here).ephemeral and channel.threads == []

    # A learner may choose a private mode; not the channel on a server that keeps it quiet.
    chose = await alice.slash(channel, "settings study", mode="ephemeral")
    assert chose.ephemeral and "only you can see" in text_of(chose.response)
    mine = await alice.slash(channel, "quiz")
    assert question_of(mine).ephemeral
    await boss.slash(channel, "mod settings study", mode="thread", learners_choose=False)
    back = await alice.slash(channel, "quiz")
    assert not back.followups and channel.threads  # the server's thread, her choice set aside
    no = await alice.slash(channel, "settings study", mode="channel")
    assert no.ephemeral and "moderators choose" in text_of(no.response)


@pytest.mark.parametrize("study_mode", ["channel"])
async def test_private_things_stay_private(env):
    """Refusals after "thinking…" (an impossible filter, nothing to review, nothing to skip)
    are private, and leave nothing in the channel."""
    guild, channel, alice = world(env)
    bob = guild.add_member(env.create_user("bob"))

    none = await alice.slash(channel, "quiz", topic="shapes", difficulty="hard")
    assert none.ephemeral and "no questions for that topic and difficulty" in text_of(none.response)
    review = await alice.slash(channel, "review")
    assert review.ephemeral and "Nothing to review" in text_of(review.response)
    skip = await alice.slash(channel, "skip")
    assert skip.ephemeral and "No question is open" in text_of(skip.response)
    ambiguous = await alice.slash(channel, "quiz", topic="a")
    assert ambiguous.ephemeral and not ambiguous.deferred
    assert "could be basics, shapes" in text_of(ambiguous.response)
    assert channel.history(viewer=bob) == []


@pytest.mark.parametrize("study_mode", ["channel"])
async def test_filters_are_shown_kept_and_cleared(env):
    _, channel, alice = world(env)

    asked = await alice.slash(channel, "quiz", topic="Basics", difficulty="hard")  # any case
    assert "🎯 basics · hard" in text_of(question_of(asked))
    skipped = await alice.click(question_of(asked), label="Skip")
    assert "🎯 basics · hard" in text_of(skipped.followups[0])
    again = await alice.slash(channel, "quiz")
    assert "🎯 basics · hard" in text_of(question_of(again))
    cleared = await alice.slash(channel, "quiz", clear=True)
    assert "🎯" not in text_of(question_of(cleared))


async def test_the_study_thread_is_reopened_or_made_again(env):
    """Threads archive themselves after a day without messages, and may be deleted: the next
    /quiz reopens the learner's thread, or makes a new one."""
    _, channel, alice = world(env)
    await alice.slash(channel, "quiz", topic="basics")
    (thread,) = channel.threads
    env.backend.edit_channel(thread.id, {}, thread_metadata={"archived": True})

    await alice.slash(channel, "quiz")
    assert [t.id for t in channel.threads] == [thread.id]
    assert not env.backend.get_channel(thread.id).thread_metadata.archived
    assert open_question(thread.history())

    env.backend.delete_channel(thread.id)
    again = await alice.slash(channel, "quiz")
    (new,) = channel.threads
    assert new.id != thread.id and f"<#{new.id}>" in text_of(again.response)
    assert open_question(new.history())


@pytest.mark.parametrize("study_mode", ["channel"])
async def test_old_feedback_still_asks_the_next_question(env):
    """"Next question" under old feedback asks the clicker's next question, closing the one
    that was open."""
    _, channel, alice = world(env)
    asked = await alice.slash(channel, "quiz", topic="basics")
    answered = await alice.click(question_of(asked), label="1")
    newer = question_of(await alice.slash(channel, "quiz"))

    old_next = await alice.click(answered.followups[0], label="Next question")

    assert "Skip" in buttons(question_of(old_next))
    assert not buttons(newer) and "Replaced" in newer.content


@pytest.fixture
def runner() -> FakeRunner:
    return FakeRunner()


@pytest.mark.parametrize("study_mode", ["ephemeral"])
async def test_run_it_under_private_feedback_answers_privately(env, runner):
    runner.env = env
    guild, channel, alice = world(env)
    bob = guild.add_member(env.create_user("bob"))
    asked = await alice.slash(channel, "quiz", topic="shapes")
    opened = await alice.click(question_of(asked), label="Answer…")
    answered = await alice.submit_modal(opened, {"answer": "(None, 5)"})
    feedback = answered.followups[0]
    assert feedback.ephemeral and "Run it" in buttons(feedback)

    ran = await alice.click(feedback, label="Run it")

    assert ran.ephemeral and "What is `model.output_shape`?" in text_of(ran.response)
    assert channel.history(viewer=bob) == []


async def test_where_no_thread_can_hang_studying_is_private(env):
    """A voice channel's chat has no threads: out of the box, the question is private."""
    guild, _, alice = world(env)
    voice = guild.create_voice_channel("lounge")

    asked = await alice.slash(voice, "quiz", topic="basics")

    assert question_of(asked).ephemeral and not asked.followups
