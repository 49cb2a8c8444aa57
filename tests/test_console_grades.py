"""Grades in the terminal (issue 16): the chat as a real process where no runner is needed,
and in-process (a real tutor and store) where a run or a moved clock is."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.console import Chat, render
from bot.tutor.content import load_bank
from bot.tutor.replies import Kind, Reply
from bot.tutor.review import LEECH_LAPSES
from bot.tutor.service import LearnerRef, Tutor
from db import SqlStore
from tests.discord.fakes import FakeRunner, RefusingRunner
from tests.helpers import GRADES_BANK, Clock, attempts, chat

WHO = LearnerRef("terminal", "ada", "local", "ada")


def choices_shown(out: str) -> list[str]:
    return re.findall(r"^  \d\) (.+)$", out, re.M)


def test_shuffled_choices_keep_their_order_across_a_restart(tmp_path: Path):
    db = tmp_path / "t.db"
    orders = set()
    for _ in range(6):
        asked = chat("/quiz basics\n/quit\n", db, "--content-dir", str(GRADES_BANK), shuffle=True)
        shown = choices_shown(asked.stdout)
        assert len(shown) == 4 and shown[3] == "All of the above", asked.stdout
        orders.add(tuple(shown))
    assert len(orders) > 1
    # A new process: the number typed means what the last process showed.
    number = shown.index("Alpha") + 1
    answered = chat(f"{number}\n", db, "--content-dir", str(GRADES_BANK), shuffle=True)
    assert "✅ Correct! +20 XP" in answered.stdout, answered.stdout
    assert [(a[0], a[1]) for a in attempts(db)] == [("pinned-choice", "Alpha")]


def test_settings_in_the_terminal(tmp_path: Path):
    out = chat(
        "/settings retention 0.85\n/settings new 1\n/settings retention 2\n/settings new x\n"
        "/settings\n/quiz shapes\n(None,5)\n/quiz\n",
        tmp_path / "t.db",
        "--content-dir",
        str(GRADES_BANK),
    ).stdout
    assert "Desired retention: 85%" in out
    assert "New questions a day: at most 1" in out
    assert "Desired retention goes from 70% to 97%" in out
    assert "a whole number from 0 to 200" in out
    assert "You have had your 1 new questions for today" in out  # the second /quiz


def test_forgiving_notation_in_the_terminal(tmp_path: Path):
    out = chat(
        "/quiz shapes\n5\n/skip shapes\n",  # "5": text, wrong (no note)
        tmp_path / "t.db",
        "--content-dir",
        str(GRADES_BANK),
    ).stdout
    assert "❌ Not quite. The answer is: (None, 5)" in out
    out = chat(
        "/quiz shapes\n½\n3 843\n",
        tmp_path / "t.db",
        "--content-dir",
        str(GRADES_BANK),
    ).stdout
    assert "Write a whole number with the digits 0-9" in out
    assert "✅ Correct!" in out


class Session:
    """The terminal chat in-process: each line handled and remembered as ``run_chat`` does,
    with what it says while running (``notes``)."""

    def __init__(self, tutor: Tutor, files: Path, runner: FakeRunner | None = None) -> None:
        self.notes: list[str] = []
        self.chat = Chat(tutor, WHO, files, runner=runner, notify=self.notes.append)

    async def say(self, line: str) -> Reply:
        reply = await self.chat.handle(line + "\n")
        assert reply is not None
        if not reply.empty:
            self.chat.last = reply
        self.chat.seen(reply)
        return reply


@pytest.fixture
def grades_tutor(store: SqlStore, clock: Clock) -> Tutor:
    return Tutor(load_bank(GRADES_BANK), store, now=clock)


async def test_run_right_after_a_question_is_announced_and_graded_as_hinted(grades_tutor, tmp_path):
    runner = FakeRunner()
    session = Session(grades_tutor, tmp_path, runner)
    asked = await session.say("/quiz shapes")
    assert asked.question_id == "printed-shape"
    await session.say("/run")
    assert runner.calls[0][0] == asked.code  # the question's own code ran
    assert "Running it shows the answer" in session.notes[0]  # said before it ran
    assert session.notes[1].startswith("Starting the sandbox for your first run")
    feedback = await session.say("None×5")
    assert "+5 XP (ran its code first)" in feedback.text
    # After the feedback, /run is "Run it": no longer a reveal (nothing is open).
    await session.say("/run")
    assert len(runner.calls) == 2 and len(session.notes) == 3


async def test_a_refused_run_shows_nothing_and_counts_for_nothing(grades_tutor, tmp_path):
    session = Session(grades_tutor, tmp_path, RefusingRunner())
    await session.say("/quiz shapes")
    refused = await session.say("/run")
    assert refused.kind is Kind.ERROR
    assert "+10 XP" in (await session.say("(None, 5)")).text  # not hinted


async def test_a_leech_in_the_terminal(grades_tutor, clock, tmp_path):
    session = Session(grades_tutor, tmp_path, FakeRunner())
    for _ in range(LEECH_LAPSES):
        asked = await session.say("/quiz shapes")
        while asked.question_id != "printed-shape":
            asked = await session.say("/skip")
        feedback = await session.say("(5, None)")
        clock.advance(days=1)
    shown = render(feedback)
    assert "keeps tripping you up" in shown and "Run this example" in shown
    assert "│ print(shape)" in shown  # the example, as code
    progress = render(await session.say("/progress"))
    assert "Questions you keep missing" in progress and "printed-shape (shapes)" in progress
    assert (tmp_path / "progress-ada.png").exists()


@pytest.mark.slow
def test_run_after_a_question_in_the_real_sandbox_counts_as_a_hint(tmp_path: Path):
    """The whole path, as a learner types it: the real chat process and the real sandbox."""
    out = chat(
        "/quiz shapes\n/run\nNone, 5\n",
        tmp_path / "t.db",
        "--content-dir",
        str(GRADES_BANK),
    ).stdout
    said, ran = (
        out.index("Running it shows the answer"),
        out.index("(None, 5)\n", out.index("/run")),
    )
    assert said < out.index("Starting the sandbox for your first run") < ran, out
    assert "in line" not in out  # the first run waits for the sandbox to start, not in a queue
    assert "✅ Correct! +5 XP (ran its code first)" in out
    assert attempts(tmp_path / "t.db")[0][:2] == ("printed-shape", "None, 5")
