"""Odd but legal input in the core and the terminal: digits in other scripts, names matplotlib
would read as maths or cannot draw, time zone names that are folders, paths or too long. Each
gets a clear answer, and what is stored is what the learner was shown."""

import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.tutor import chart
from bot.tutor.progress import AttemptRow, Progress, TopicProgress
from bot.tutor.replies import Kind
from bot.tutor.service import LearnerRef
from bot.tutor.streaks import Streak, UnknownZone, close_zones, find_zone
from tests.helpers import NOT_ZONES, chat, learner

# Names people can have (or type for themselves in the terminal).
ODD_NAMES = [
    "$\\frac$",
    "$$",
    "$\\undefined$ and $x^2$",
    "100$ to 200$",
    "line\nbreak\r\n",
    "zero\u200bwidth\u200d",
    "rtl \u202eevil\u202c",
    "שלום עולם",
    "مرحبا",
    "x" * 300,
    "nul\x00bell\x07esc\x1b[31m",
    "lone \ud800 surrogate",
    "emoji 👩‍💻🏳️‍🌈",
    "%s %(x)s {0} \\n",
    "",
]


@pytest.mark.parametrize("name", ODD_NAMES, ids=range(len(ODD_NAMES)))
def test_the_chart_draws_any_name(name):
    now = datetime(2026, 11, 1, 12, tzinfo=UTC)
    rows = [AttemptRow("easy-choice", "basics", True, False, 10, now)]
    topics = (TopicProgress("basics", 1, 2), TopicProgress("shapes", 0, 2))
    stats = Progress(10, 1, 1, 0, Streak(1, 1, 0, True), 0, topics)
    assert chart.progress_png(name, stats, rows, ZoneInfo("UTC"), now).startswith(b"\x89PNG")


@pytest.mark.parametrize("name", ["$\\frac$", "100$ to 200$", "x" * 300, "a\nb"])
async def test_progress_draws_a_chart_for_any_name(tutor, name):
    who = LearnerRef("test", "id-1", "g1", name)
    await tutor.quiz(who)
    await tutor.answer(who, "2")
    reply = await tutor.progress(who)
    assert reply.image is not None and reply.image.startswith(b"\x89PNG")


async def _stored(store, who):
    rows = await store.attempts(await store.learner_id(who))
    return [(r.question_id, r.correct) for r in rows]


@pytest.mark.parametrize("typed", ["²", "₂", "②", "２", "٢", "𝟐"])
async def test_a_choice_in_other_digits_is_that_choice(tutor, store, typed):
    ada = learner()
    await tutor.quiz(ada, "basics", difficulty=1)
    reply = await tutor.answer(ada, typed)
    assert reply.kind is Kind.FEEDBACK and reply.correct is True  # choice 2 is the right one
    assert await _stored(store, ada) == [("easy-choice", True)]


@pytest.mark.parametrize("typed", ["⁵", "½", "Ⅱ", "𐩀", "9" * 999])
async def test_a_choice_that_is_no_choice_is_refused_and_nothing_stored(tutor, store, typed):
    ada = learner()
    await tutor.quiz(ada, "basics", difficulty=1)
    reply = await tutor.answer(ada, typed)
    assert reply.kind is Kind.ERROR
    assert reply.text in (
        "Choose a number from 1 to 3.",
        "Answer with the number of a choice, 1 to 3.",
    )
    assert await _stored(store, ada) == []
    assert (await tutor.answer(ada, "2")).correct is True  # still open


@pytest.mark.parametrize(
    ("typed", "correct"),
    [("(None, ⁵)", True), ("（None，５）", True), ("²", False), ("(None, ½)", False)],
)
async def test_short_answers_in_other_digits(tutor, store, typed, correct):
    ada = learner()
    await tutor.quiz(ada, "shapes", difficulty=2)
    reply = await tutor.answer(ada, typed)
    assert reply.kind is Kind.FEEDBACK and reply.correct is correct
    assert await _stored(store, ada) == [("shape-answer", correct)]


@pytest.mark.parametrize("typed", list(NOT_ZONES), ids=range(len(NOT_ZONES)))
def test_zone_names_that_are_not_zones(typed):
    with pytest.raises(UnknownZone) as caught:
        find_zone(typed)
    assert caught.value.suggestions == NOT_ZONES[typed]


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("Europe/Paris", "Europe/Paris"),
        (" europe/paris ", "Europe/Paris"),
        ("UTC", "UTC"),
        ("America/New York", "America/New_York"),
        ("etc/gmt+5", "Etc/GMT+5"),
    ],
)
def test_zone_names_in_any_case(typed, key):
    assert find_zone(typed).key == key


def test_a_city_alone_suggests_its_zone():
    assert close_zones("new_york") == ["America/New_York"]


@pytest.mark.parametrize("typed", list(NOT_ZONES), ids=range(len(NOT_ZONES)))
async def test_setting_a_zone_that_is_not_one_says_so_and_keeps_the_old_one(tutor, store, typed):
    ada = learner()
    await tutor.set_timezone(ada, "Asia/Tokyo")
    reply = await tutor.set_timezone(ada, typed)
    assert reply.kind is Kind.ERROR and reply.ephemeral
    assert reply.text.startswith("Unknown time zone '") and "Europe/Paris" in reply.text
    assert len(reply.text) < 300
    if NOT_ZONES[typed]:
        assert f"Did you mean {', '.join(NOT_ZONES[typed])}?" in reply.text
    assert await store.timezone(await store.learner_id(ada)) == "Asia/Tokyo"


def test_odd_input_in_the_terminal(tmp_path: Path):
    db = tmp_path / "t.db"
    result = chat(
        "/settings timezone America\n/settings timezone " + "x" * 300 + "\n"
        "/quiz basics\n²\n/progress\n",
        db,
        user="$\\frac$",
    )
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    out = result.stdout
    assert "Unknown time zone 'America'. Did you mean America/Adak" in out
    assert "Unknown time zone 'xxxxxxxx" in out
    assert "✅ Correct!" in out and "XP: 10" in out and "Chart: " in out
    with sqlite3.connect(db) as raw:
        assert raw.execute("select answer, correct from attempts").fetchall() == [("Right one", 1)]
        assert raw.execute("select timezone from learners").fetchone() == ("UTC",)


async def test_a_zone_stored_before_names_were_checked_still_reads(tutor, store):
    """Earlier versions stored any name ZoneInfo read (e.g. "posix/Europe/Paris"): /progress
    must keep working for those learners."""
    ada = learner()
    await tutor.quiz(ada)
    await tutor.answer(ada, "2")
    await store.set_timezone(await store.learner_id(ada), "posix/Europe/Paris")
    assert "Daily streak: 1 day" in (await tutor.progress(ada, picture=False)).text
