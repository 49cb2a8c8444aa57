"""What the web pages show, computed from rows: shared ranks, name search, daily activity,
per-question statistics and the geometry of the server-drawn SVG bar charts. Pure functions."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bot.tutor import progress
from bot.tutor.moderation import ReportAttempt
from bot.tutor.progress import LeaderRow


@dataclass(frozen=True)
class Ranked:
    rank: int  # shared by equal scores: 1, 2, 2, 4
    name: str
    score: int
    attempts: int
    correct: int


def shared_ranks(rows: Iterable[LeaderRow]) -> list[Ranked]:
    """Competition ranking ("1224") by XP over rows sorted by XP, highest first: learners with
    the same XP share a rank, and the next rank counts everyone above it (the one rule,
    ``progress.shared_ranks``, which /leaderboard uses too)."""
    return [
        Ranked(row.rank, row.display_name, row.score, row.attempts, row.correct)
        for row in progress.shared_ranks(rows)
    ]


def search(ranked: Sequence[Ranked], query: str, limit: int = 20) -> list[Ranked]:
    """Rows whose name contains ``query`` (case and width folded), best first."""
    needle = " ".join(query.split()).casefold()
    if not needle:
        return []
    return [r for r in ranked if needle in r.name.casefold()][:limit]


@dataclass(frozen=True)
class Day:
    day: date
    answers: int
    learners: int


def daily_activity(
    attempts: Iterable[tuple[str, ReportAttempt]], today: date, days: int
) -> list[Day]:
    """Answers and distinct learners per UTC day, for the ``days`` days up to ``today``."""
    first = today - timedelta(days=days - 1)
    answers: dict[date, int] = defaultdict(int)
    who: dict[date, set[str]] = defaultdict(set)
    for name, a in attempts:
        day = a.answered_at.date()
        if first <= day <= today:
            answers[day] += 1
            who[day].add(name)
    span = (first + timedelta(days=i) for i in range(days))
    return [Day(d, answers[d], len(who[d])) for d in span]


@dataclass(frozen=True)
class QuestionStat:
    question_id: str
    topic: str
    answered: int
    wrong: int
    hinted: int
    median_s: float | None = None  # median time to answer
    reports: int = 0  # learners' reports of a problem with it

    @property
    def miss_rate(self) -> float:
        return self.wrong / self.answered if self.answered else 0.0

    @property
    def hint_rate(self) -> float:
        return self.hinted / self.answered if self.answered else 0.0


def question_stats(
    attempts: Iterable[tuple[str, ReportAttempt]], reports: Mapping[str, int] | None = None
) -> list[QuestionStat]:
    """Per question: answers, wrong answers, hinted answers, median time and reports (of
    ``reports``: per question id); most missed first."""
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    times: dict[tuple[str, str], list[int]] = defaultdict(list)
    for _name, a in attempts:
        key = (a.question_id, a.topic)
        c = counts[key]
        c[0] += 1
        c[1] += not a.correct
        c[2] += a.hinted
        times[key].append(a.time_to_answer_ms)
    reported = reports or {}
    stats = [
        QuestionStat(q, t, n, w, h, statistics.median(times[(q, t)]) / 1000, reported.get(q, 0))
        for (q, t), (n, w, h) in counts.items()
    ]
    return sorted(stats, key=lambda s: (-s.miss_rate, -s.answered, s.question_id))


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    value: int
    label: str


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    top: int  # the value the full height stands for
    bars: tuple[Bar, ...]


def bar_chart(
    values: Sequence[tuple[str, int]], width: int = 600, height: int = 120, gap: float = 2.0
) -> BarChart:
    """Geometry of a bar chart (SVG user units, y down) for labelled values."""
    top = max((v for _, v in values), default=0) or 1
    step = width / max(1, len(values))
    bars = tuple(
        Bar(
            x=round(i * step + gap / 2, 2),
            y=round(height - height * v / top, 2),
            width=round(max(step - gap, 1.0), 2),
            height=round(height * v / top, 2),
            value=v,
            label=label,
        )
        for i, (label, v) in enumerate(values)
    )
    return BarChart(width, height, top, bars)


def since_days(now: datetime, days: int) -> datetime:
    """The start (00:00 UTC) of the first of the ``days`` days ending today."""
    start = now - timedelta(days=days - 1)
    return start.replace(hour=0, minute=0, second=0, microsecond=0)
