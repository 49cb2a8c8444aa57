"""The pure computations behind the pages (bot/tutor/webstats.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from bot.tutor.moderation import ReportAttempt
from bot.tutor.progress import LeaderRow
from bot.tutor.webstats import bar_chart, daily_activity, question_stats, search, shared_ranks


def row(name: str, score: int) -> LeaderRow:
    return LeaderRow(0, name, score, 1, 1)


def test_equal_scores_share_a_rank_and_the_next_rank_counts_everyone_above():
    ranked = shared_ranks(
        [row("a", 50), row("b", 30), row("c", 30), row("d", 30), row("e", 10), row("f", 0)]
    )
    assert [(r.name, r.rank) for r in ranked] == [
        ("a", 1),
        ("b", 2),
        ("c", 2),
        ("d", 2),
        ("e", 5),
        ("f", 6),
    ]
    assert shared_ranks([]) == []
    assert [r.rank for r in shared_ranks([row("x", 0), row("y", 0)])] == [1, 1]


def test_search_folds_case_and_spaces_and_keeps_ranks():
    ranked = shared_ranks([row("Ada Lovelace", 9), row("ADA", 9), row("Bob", 1)])
    assert [(r.name, r.rank) for r in search(ranked, "  ada  ")] == [
        ("Ada Lovelace", 1),
        ("ADA", 1),
    ]
    assert search(ranked, "   ") == []
    assert search(ranked, "ß") == [] and search(shared_ranks([row("Strauß", 1)]), "SS")


def attempt(day: int, correct: bool = True, hinted: bool = False, q: str = "q1") -> ReportAttempt:
    when = datetime(2026, 11, day, 12, tzinfo=UTC)
    return ReportAttempt(q, "t", correct, hinted, 1000, when, False)


def test_daily_activity_counts_answers_and_distinct_learners_per_day():
    rows = [
        ("ada", attempt(1)),
        ("ada", attempt(1)),
        ("bob", attempt(1)),
        ("ada", attempt(3)),
        ("old", ReportAttempt("q", "t", True, False, 1, datetime(2026, 10, 1, tzinfo=UTC), False)),
    ]
    days = daily_activity(rows, date(2026, 11, 3), 3)
    assert [(d.day.day, d.answers, d.learners) for d in days] == [(1, 3, 2), (2, 0, 0), (3, 1, 1)]


def test_question_stats_put_the_most_missed_first():
    rows = [
        ("a", attempt(1, correct=False, q="hard")),
        ("b", attempt(1, correct=False, hinted=True, q="hard")),
        ("a", attempt(1, q="easy")),
        ("b", attempt(1, correct=False, q="easy")),
        ("c", attempt(1, q="easy")),
    ]
    stats = question_stats(rows)
    assert [(s.question_id, s.answered, s.wrong, s.hinted) for s in stats] == [
        ("hard", 2, 2, 1),
        ("easy", 3, 1, 0),
    ]
    assert stats[0].miss_rate == 1.0 and stats[0].hint_rate == 0.5


def test_bar_chart_geometry_fits_the_box():
    chart = bar_chart([("a", 0), ("b", 5), ("c", 10)], width=300, height=100)
    assert chart.top == 10
    assert [(b.height, b.y) for b in chart.bars] == [(0, 100), (50, 50), (100, 0)]
    assert all(b.x >= 0 and b.x + b.width <= 300 for b in chart.bars)
    empty = bar_chart([("a", 0)])
    assert empty.top == 1 and empty.bars[0].height == 0
    assert bar_chart([]).bars == ()
