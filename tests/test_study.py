"""Study modes, filters and sets (issue 15): the pure rules (bot/tutor/study.py) and the tutor
keeping them in the real store."""

from __future__ import annotations

import pytest

from bot.console import Chat, render
from bot.tutor.replies import Kind, Reply
from bot.tutor.service import Tutor
from bot.tutor.study import (
    Filters,
    Goal,
    Mode,
    Room,
    ServerStudy,
    choice_refusal,
    find_topic,
    outside_study_channels,
    place,
    quiz_request,
    thread_name,
)
from tests.helpers import learner

PRIVATE = Room("10", private_threads=True, public_threads=True)
PUBLIC_ONLY = Room("10", public_threads=True)
NO_THREADS = Room("10")
IN_THREAD = Room("11", parent_id="10")


@pytest.mark.parametrize(
    ("server", "chosen", "room", "mode"),
    [
        # Out of the box: a thread where the bot may make one (private or public), else private.
        (ServerStudy(), None, PRIVATE, Mode.THREAD),
        (ServerStudy(), None, PUBLIC_ONLY, Mode.THREAD),
        (ServerStudy(), None, NO_THREADS, Mode.EPHEMERAL),
        # Inside a thread the question stays where it was asked.
        (ServerStudy(), None, IN_THREAD, Mode.CHANNEL),
        (ServerStudy(Mode.THREAD), None, NO_THREADS, Mode.EPHEMERAL),
        (ServerStudy(Mode.CHANNEL), None, PRIVATE, Mode.CHANNEL),
        # A learner's choice, within what the server allows.
        (ServerStudy(Mode.CHANNEL), Mode.EPHEMERAL, PRIVATE, Mode.EPHEMERAL),
        (ServerStudy(Mode.THREAD), Mode.CHANNEL, PRIVATE, Mode.THREAD),  # not theirs to flood
        (ServerStudy(Mode.CHANNEL, learners_choose=False), Mode.EPHEMERAL, PRIVATE, Mode.CHANNEL),
        (ServerStudy(Mode.EPHEMERAL), Mode.THREAD, NO_THREADS, Mode.EPHEMERAL),
        (ServerStudy(Mode.EPHEMERAL), Mode.THREAD, IN_THREAD, Mode.CHANNEL),
        (ServerStudy(), Mode.EPHEMERAL, IN_THREAD, Mode.EPHEMERAL),
    ],
)
def test_the_mode_a_question_is_asked_in(server, chosen, room, mode):
    assert place(server, chosen, room) is mode


def test_study_channels_and_what_a_learner_may_choose():
    server = ServerStudy(channels=("10", "12"))
    assert outside_study_channels(server, PRIVATE) is None
    assert outside_study_channels(server, IN_THREAD) is None  # a thread counts as its channel
    refused = outside_study_channels(server, Room("99"))
    assert refused == "On this server, studying happens in <#10>, <#12>. Try /quiz there."
    assert outside_study_channels(ServerStudy(), Room("99")) is None

    assert choice_refusal(ServerStudy(), Mode.EPHEMERAL) is None
    assert choice_refusal(ServerStudy(), None) is None
    assert "quiet" in (choice_refusal(ServerStudy(Mode.THREAD), Mode.CHANNEL) or "")
    assert choice_refusal(ServerStudy(Mode.CHANNEL), Mode.CHANNEL) is None
    assert "moderators choose" in (
        choice_refusal(ServerStudy(learners_choose=False), Mode.THREAD) or ""
    )


def test_topics_match_in_any_case_and_by_a_unique_prefix():
    topics = ("basics", "fine-tuning", "feature-extraction", "shapes")
    assert find_topic(topics, "Shapes") == ("shapes", ())
    assert find_topic(topics, "fi") == ("fine-tuning", ())
    assert find_topic(topics, "FEAT") == ("feature-extraction", ())
    assert find_topic(topics, "f") == (None, ("fine-tuning", "feature-extraction"))
    assert find_topic(topics, "tuning") == ("fine-tuning", ())  # contained, when no prefix
    assert find_topic(topics, "astro") == (None, ())


def test_filters_are_replaced_kept_or_cleared():
    hard_shapes = Filters("shapes", 3)
    assert hard_shapes.label() == "shapes · hard"
    assert hard_shapes.changed() == hard_shapes  # /quiz alone, Next, Enter
    assert hard_shapes.changed(topic="basics") == Filters("basics", None)
    assert hard_shapes.changed(difficulty=1) == Filters(None, 1)
    assert hard_shapes.changed(clear=True) == Filters()
    assert Filters().label() == ""


def test_a_typed_quiz_in_any_order():
    assert quiz_request(["fine", "Hard", "10"]) == quiz_request(["10", "hard", "fine"])
    asked = quiz_request(["fine", "hard", "10"])
    assert (asked.topic, asked.difficulty, asked.count, asked.clear) == ("fine", 3, 10, False)
    assert quiz_request(["clear"]).clear and quiz_request([]).topic is None


def test_the_days_goal_reads_as_one_line():
    assert Goal(1, 5, 20).line() == "📅 Today: 1 review due · 15 of 20 new questions left"
    assert Goal(0, 25, 20).line() == "📅 Today: 0 reviews due · 0 of 20 new questions left"


def _blocks(reply: Reply) -> str:
    return "\n".join(str(b) for b in reply.blocks)


async def test_filters_stay_in_force_across_next_and_skip_and_can_be_cleared(tutor: Tutor):
    ada = learner()
    first = await tutor.quiz(ada, "BAS", 3)  # a prefix, in any case
    assert first.question_id == "hard-choice"
    assert "basics · hard" in _blocks(first)
    await tutor.answer(ada, "1")
    again = await tutor.quiz(ada)  # Next, Enter and /quiz alone keep the filters
    assert again.question_id == "hard-choice" and "basics · hard" in _blocks(again)
    skipped = await tutor.skip(ada)
    assert skipped.question_id == "hard-choice"  # the only one they allow
    other = await tutor.skip(ada, "shapes")
    assert other.kind is Kind.QUESTION and other.question_id in ("shape-answer", "text-answer")
    cleared = await tutor.quiz(ada, clear=True)
    assert cleared.kind is Kind.QUESTION and "🎯" not in _blocks(cleared)


async def test_an_ambiguous_or_unknown_topic_is_refused(tutor: Tutor):
    ada = learner()
    refused = await tutor.quiz(ada, "a")  # begins no topic; basics and shapes contain it
    assert refused.kind is Kind.ERROR and refused.ephemeral and "basics, shapes" in refused.text
    assert (await tutor.quiz(ada, "s")).kind is Kind.QUESTION  # begins "shapes" only
    unknown = await tutor.quiz(ada, "astrology")
    assert unknown.kind is Kind.ERROR and "Unknown topic" in unknown.text


async def test_a_set_counts_its_questions_and_ends_with_a_summary(tutor: Tutor, clock):
    ada = learner()
    asked = await tutor.quiz(ada, "basics", count=3)
    assert "question 1 of 3" in _blocks(asked)
    assert "📅 Today: 0 reviews due · 20 of 20 new questions left" in _blocks(asked)
    feedback = await tutor.answer(ada, "1")
    assert "Set: 1 of 3 answered." in _blocks(feedback)
    clock.advance(minutes=1)
    second = await tutor.quiz(ada)
    assert "basics · question 2 of 3" in _blocks(second) and "📅" not in _blocks(second)
    await tutor.skip(ada)  # a skip is not an answer: still question 2
    await tutor.answer(ada, "2")
    third = await tutor.quiz(ada)
    assert "question 3 of 3" in _blocks(third)
    last = await tutor.answer(ada, "1")
    summary = _blocks(last)
    assert "🏁 Set done:" in summary and "of 3 right" in summary and "XP." in summary
    assert "🔥 Streak: 1 day." in summary
    assert "🔁 Coming back: " in summary and "📅 Today:" in summary
    after = await tutor.quiz(ada)  # the set is over; the topic stays
    assert "question" not in _blocks(after).replace("🎯 basics", "")
    assert "🎯 basics" in _blocks(after)
    too_many = await tutor.quiz(ada, count=51)
    assert too_many.kind is Kind.ERROR and "1 to 50" in too_many.text


async def test_the_terminal_quiz_takes_a_topic_prefix_a_level_a_count_and_clear(tutor: Tutor):
    chat = Chat(tutor, learner("bea"))
    asked = await chat.handle("/quiz Bas hard 2")
    assert asked is not None and asked.question_id == "hard-choice"
    shown = render(asked)
    assert "🎯 basics · hard · question 1 of 2" in shown
    chat.last = await chat.handle("1")
    following = await chat.handle("")  # Enter: the next question, within the same filters
    assert following is not None and "basics · hard · question 2 of 2" in render(following)
    cleared = await chat.handle("/quiz clear")  # the filters go; the set goes on
    assert cleared is not None and "🎯 question 2 of 2\n" in render(cleared)
    ambiguous = await chat.handle("/quiz a")
    assert ambiguous is not None and "could be" in ambiguous.text


def test_a_study_threads_name_shows_no_invisible_characters():
    assert thread_name("alice") == "📚 alice's study"
    assert thread_name("al\u202eice\u200b \n x") == "📚 alice x's study"
    assert thread_name("\u200b") == "📚 learner's study"
    assert len(thread_name("x" * 500)) <= 100
