"""Moderator actions over the real store: reset and undo, exclusion, the log, the CSV, flags."""

import csv
import io
import zipfile
from datetime import timedelta

import pytest

from bot.console import render
from bot.tutor.moderation import report
from bot.tutor.moderator import Actor, Authority, Moderator
from bot.tutor.replies import Kind, Table
from bot.tutor.service import Window
from tests.helpers import learner

MOD = Actor("test", "g1", "mod-1", "Mo", Authority.MANAGER)


async def answer_all(tutor, who, answers=("2", "global average pooling", "1", "(None, 5)")):
    for text in answers:
        await tutor.quiz(who)
        await tutor.answer(who, text)


async def board(tutor, who, window=Window.ALL, topic=None):
    """The leaderboard as the terminal shows it."""
    return render(await tutor.leaderboard(who, window, topic=topic))


async def test_reset_hides_progress_and_undo_brings_it_back(tutor, store, bank, clock):
    ada, bob = learner("Ada"), learner("Bob")
    await answer_all(tutor, ada)
    await answer_all(tutor, bob, ("2",))
    mods = Moderator(bank, store.moderation, now=clock)
    before = (await tutor.progress(ada, picture=False)).text
    assert "XP: 70" in before and "1. Ada · 70 XP" in await board(tutor, ada)

    assert (await mods.reset(MOD, "ada", "  ")).kind is Kind.ERROR  # a reason is required
    done = await mods.reset(MOD, "ada", "shared account")
    assert done.text == (
        "Reset Ada's progress in this server: hid 4 answers and 4 review cards (action #1). "
        "Reversible with /mod undo 1."
    )
    assert "No answers yet" in (await tutor.progress(ada, picture=False)).text
    assert "Ada" not in await board(tutor, ada)
    assert (await tutor.review(ada)).text.startswith("Nothing to review right now. Try /quiz")

    # Ada answers once after the reset; undo must keep that answer too.
    clock.advance(minutes=1)
    await answer_all(tutor, ada, ("2",))
    assert (await mods.undo(MOD, 1, "mistake")).text == (
        "Undid action #1 (reset of Ada's progress by Mo on 2026-11-01 12:00 UTC, reason: "
        "shared account), recorded as #2."
    )
    # The answer given in between stays: it was a first answer for the reset learner.
    after = (await tutor.progress(ada, picture=False)).text
    assert "Answers: 5" in after and "XP: 80" in after
    assert "1. Ada · 80 XP" in await board(tutor, ada)
    cards = await store.cards(await store.learner_id(ada))
    assert len(cards) == 4  # restored, the newer card for easy-choice kept
    again = await mods.undo(MOD, 1, "twice")
    assert again.kind is Kind.ERROR and "already undone by #2" in again.text
    assert "cannot be undone" in (await mods.undo(MOD, 2, "x")).text
    assert "no action #99" in (await mods.undo(MOD, 99, "x")).text


async def test_exclusion_applies_to_every_window_and_topic(tutor, store, bank, clock):
    ada, bob = learner("Ada"), learner("Bob")
    await answer_all(tutor, ada)
    await answer_all(tutor, bob, ("2",))
    mods = Moderator(bank, store.moderation, now=clock)
    assert "not answered any question" in (await mods.exclude(MOD, "nobody", "x")).text
    assert "Excluded Ada" in (await mods.exclude(MOD, "ada", "bot account")).text
    assert "already excluded" in (await mods.exclude(MOD, "ada", "again")).text
    for window in Window:
        assert "Ada" not in await board(tutor, bob, window)
        assert "Bob" in await board(tutor, bob, window)
    assert "Ada" not in await board(tutor, bob, topic="basics")
    assert "XP: 70" in (await tutor.progress(ada, picture=False)).text  # own progress kept
    assert "back on" in (await mods.include(MOD, "ada", "verified")).text
    assert "1. Ada" in await board(tutor, bob)


async def test_topic_leaderboard_counts_only_that_topic(tutor, bank):
    ada, bob = learner("Ada"), learner("Bob")
    await answer_all(tutor, ada, ("2",))  # basics: 10 XP
    await answer_all(tutor, bob, ("1",))  # basics, wrong
    await tutor.quiz(bob, "shapes")
    await tutor.answer(bob, "global average pooling")  # shapes, right
    shapes = await board(tutor, ada, topic="shapes")
    assert "Bob · 10 XP" in shapes and "Ada" not in shapes
    assert (await tutor.leaderboard(ada, topic="cooking")).kind is Kind.ERROR


async def test_log_records_who_what_and_why(tutor, store, bank, clock):
    await answer_all(tutor, learner("Ada"), ("2",))
    mods = Moderator(bank, store.moderation, now=clock)
    await mods.exclude(MOD, "ada", "spam")
    await mods.set_role(MOD, "role-42", "study group leads")
    await mods.undo(MOD, 2, "wrong role")
    assert await store.moderation.moderator_role("test", "g1") is None
    table = (await mods.log(MOD)).blocks[0]
    assert isinstance(table, Table)
    log = [line.plain for line in table.lines()]
    assert log[0].startswith("#3 2026-11-01 12:00 UTC · Mo · undo") and "wrong role" in log[0]
    assert "set_role" in log[1] and "(undone by #3)" in log[1]
    assert log[2] == "#1 2026-11-01 12:00 UTC · Mo · exclude Ada · spam"
    other = Actor("test", "other-guild", "m2", "Other", Authority.MANAGER)
    assert "No moderator actions yet" in (await mods.log(other)).text
    assert "no action #1" in (await mods.undo(other, 1, "x")).text  # not theirs to undo


async def test_export_is_two_csv_tables_in_a_zip(tutor, store, bank, clock):
    await answer_all(tutor, learner("=cmd|' /C calc'!A0"), ("2",))
    await answer_all(tutor, learner("Bob"), ("1",))
    await answer_all(tutor, learner("Cy"), ("2",))
    mods = Moderator(bank, store.moderation, now=clock)
    await mods.exclude(MOD, "cy", "alt account")
    reply = await mods.export(MOD, Window.WEEK)
    assert reply.text.startswith(
        "2 learners on the leaderboard, 1 excluded learner listed apart, 2 answers (week)"
    )
    tables = unzip(reply)
    assert set(tables) == {"leaderboard-week-20261101.csv", "attempts-week-20261101.csv"}
    board = tables["leaderboard-week-20261101.csv"]
    assert board == [
        ["rank", "user_id", "learner", "status", "xp", "answers", "correct"],
        ["1", "=cmd|' /c calc'!a0", "'=cmd|' /C calc'!A0", "on leaderboard", "10", "1", "1"],
        ["2", "bob", "Bob", "on leaderboard", "0", "1", "0"],
        ["", "cy", "Cy", "excluded", "10", "1", "1"],
    ]
    attempts = tables["attempts-week-20261101.csv"]
    assert attempts[0][:9] == [
        "answered_at", "user_id", "learner", "question_id", "topic", "difficulty", "answer",
        "correct", "xp",
    ]  # fmt: skip
    assert [row[1:9] for row in attempts[1:]] == [
        [
            "=cmd|' /c calc'!a0",
            "'=cmd|' /C calc'!A0",
            "easy-choice",
            "basics",
            "1",
            "Right one",
            "1",
            "10",
        ],
        ["bob", "Bob", "easy-choice", "basics", "1", "Wrong one", "0", "0"],
    ]
    clock.advance(days=8)
    assert (
        "0 learners on the leaderboard, 0 answers (week)"
        in (await mods.export(MOD, Window.WEEK)).text
    )


def unzip(reply) -> dict[str, list[list[str]]]:
    """The CSV tables of an export, by file name (read as a spreadsheet would: UTF-8 with its
    byte order mark)."""
    assert reply.attachment is not None and reply.attachment.name.endswith(".zip")
    with zipfile.ZipFile(io.BytesIO(reply.attachment.data)) as archive:
        return {
            name: list(csv.reader(io.StringIO(archive.read(name).decode("utf-8-sig"))))
            for name in archive.namelist()
        }


async def test_learner_report_and_flags(tutor, store, bank, clock):
    ada = learner("Ada")
    await answer_all(tutor, ada)  # answered at once: far faster than reading time
    mods = Moderator(bank, store.moderation, now=clock)
    text = render(await mods.learner(MOD, "ada"))
    assert "Accuracy per topic:" in text and "basics: 2/2 (100%)" in text
    assert "median answer time: 0.0 s" in text
    assert "Flags: none" in text  # 4 fast answers: under the threshold of 5
    attempts, _ = await store.moderation.report_attempts(await store.learner_id(ada))
    many = attempts * 3
    flagged = report(
        "Ada", False, many, [attempts[0].answered_at - timedelta(seconds=1)], bank, clock()
    )
    assert any("faster than a quarter" in f for f in flagged.flags)
    assert any("in a row straight after the reset" in f for f in flagged.flags)


# --- who may do what: every command, undo of every kind, for each authority ----------------------

ROLE_MOD = Actor("test", "g1", "mod-2", "Rita", Authority.MODERATOR)
NOBODY = Actor("test", "g1", "user-3", "Nemo", Authority.NONE)

EXCLUDE = lambda m: m.exclude(MOD, "ada", "first")  # noqa: E731
# name -> (what a manager does first, the command under test)
COMMANDS = {
    "learner": ((), lambda m, a: m.learner(a, "ada")),
    "log": ((), lambda m, a: m.log(a)),
    "export": ((), lambda m, a: m.export(a)),
    "reset": ((), lambda m, a: m.reset(a, "ada", "why")),
    "exclude": ((), lambda m, a: m.exclude(a, "ada", "why")),
    "include": ((EXCLUDE,), lambda m, a: m.include(a, "ada", "why")),
    "set_role": ((), lambda m, a: m.set_role(a, "role-1", "why")),
    "undo reset": ((lambda m: m.reset(MOD, "ada", "first"),), lambda m, a: m.undo(a, 1, "why")),
    "undo exclude": ((EXCLUDE,), lambda m, a: m.undo(a, 1, "why")),
    "undo include": (
        (EXCLUDE, lambda m: m.include(MOD, "ada", "then")),
        lambda m, a: m.undo(a, 2, "why"),
    ),
    "undo set_role": (
        (lambda m: m.set_role(MOD, "role-1", "first"),),
        lambda m, a: m.undo(a, 1, "why"),
    ),
}
CHANGES = {name for name in COMMANDS if name not in ("learner", "log", "export")}
MANAGERS_ONLY = {"set_role", "undo set_role"}


async def _state(store, lid):
    """Everything a moderator action can change."""
    return (
        tuple(await store.moderation.mod_log("test", "g1", 100)),
        await store.moderation.moderator_role("test", "g1"),
        await store.moderation.find_learner("test", "g1", "ada"),
        await store.moderation.report_attempts(lid),
        await store.cards(lid),
    )


@pytest.mark.parametrize("name", list(COMMANDS))
@pytest.mark.parametrize("actor", [MOD, ROLE_MOD, NOBODY], ids=lambda a: a.authority.name)
async def test_every_command_is_authorised_in_the_core(tutor, store, bank, clock, name, actor):
    """A role moderator may do everything but choose the moderator role, and may not undo a
    change of it either (the undo of an action needs what the action needed)."""
    ada = learner("Ada")
    await answer_all(tutor, ada, ("2",))
    lid = await store.learner_id(ada)
    mods = Moderator(bank, store.moderation, now=clock)
    first, command = COMMANDS[name]
    for step in first:
        assert (await step(mods)).kind is Kind.INFO
    before = await _state(store, lid)

    reply = await command(mods, actor)

    allowed = actor.authority is Authority.MANAGER or (
        actor.authority is Authority.MODERATOR and name not in MANAGERS_ONLY
    )
    after = await _state(store, lid)
    if allowed:
        assert reply.kind is not Kind.ERROR, reply.text
        assert (after != before) == (name in CHANGES)
    else:
        assert reply.kind is Kind.ERROR and reply.text.startswith("Only "), reply.text
        assert after == before
        if actor.authority is Authority.MODERATOR:
            assert "Manage Server" in reply.text


async def test_a_refused_undo_leaves_the_action_undoable(tutor, store, bank, clock):
    mods = Moderator(bank, store.moderation, now=clock)
    await mods.set_role(MOD, "role-1", "study group leads")
    refused = await mods.undo(ROLE_MOD, 1, "mine now")
    assert refused.text == (
        "Only members with Manage Server can undo that action (it would change the moderator role)."
    )
    assert await store.moderation.moderator_role("test", "g1") == "role-1"
    assert (await mods.undo(MOD, 1, "fine")).text.startswith(
        "Undid action #1 (moderator role change by Mo on 2026-11-01 12:00 UTC, reason: study "
    )
    assert await store.moderation.moderator_role("test", "g1") is None
