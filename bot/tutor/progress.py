"""Score, accuracy, streak and per-topic progress, derived from attempt rows.

Score counts each question once, at its best: answering the same question again cannot farm
points. The store computes the leaderboard with the same rule in SQL (tests keep the two equal).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.tutor.content import Bank
from bot.tutor.replies import Kind, Reply


@dataclass(frozen=True)
class AttemptRow:
    question_id: str
    topic: str
    correct: bool
    hinted: bool
    points: int
    answered_at: datetime


@dataclass(frozen=True)
class TopicProgress:
    topic: str
    answered_correctly: int  # distinct questions
    total: int  # questions in the bank for this topic


@dataclass(frozen=True)
class Progress:
    score: int
    attempts: int
    correct: int
    streak: int  # consecutive correct answers, up to the latest
    best_streak: int
    hints: int
    topics: tuple[TopicProgress, ...]

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.attempts if self.attempts else None


@dataclass(frozen=True)
class LeaderRow:
    rank: int
    display_name: str
    score: int
    attempts: int
    correct: int


def best_points_score(rows: Sequence[AttemptRow]) -> int:
    best: dict[str, int] = {}
    for row in rows:
        best[row.question_id] = max(best.get(row.question_id, 0), row.points)
    return sum(best.values())


def compute(rows: Sequence[AttemptRow], bank: Bank) -> Progress:
    ordered = sorted(rows, key=lambda r: r.answered_at)
    streak = best = 0
    for row in ordered:
        streak = streak + 1 if row.correct else 0
        best = max(best, streak)
    solved = {r.question_id for r in ordered if r.correct}
    topics = tuple(
        TopicProgress(
            topic,
            sum(1 for q in bank.questions if q.topic == topic and q.id in solved),
            sum(1 for q in bank.questions if q.topic == topic),
        )
        for topic in bank.topics
    )
    return Progress(
        score=best_points_score(ordered),
        attempts=len(ordered),
        correct=sum(r.correct for r in ordered),
        streak=streak,
        best_streak=best,
        hints=sum(r.hinted for r in ordered),
        topics=topics,
    )


def _bar(done: int, total: int, width: int = 10) -> str:
    filled = round(width * done / total) if total else 0
    return "█" * filled + "░" * (width - filled)


def progress_reply(name: str, progress: Progress) -> Reply:
    if not progress.attempts:
        return Reply(
            text="No answers yet. Start with /quiz.", kind=Kind.PROGRESS, title=f"{name}'s progress"
        )
    accuracy = f"{progress.accuracy:.0%}" if progress.accuracy is not None else "–"
    lines = [
        f"Score: {progress.score}",
        f"Answers: {progress.attempts} · correct: {progress.correct} ({accuracy})"
        f" · hints used: {progress.hints}",
        f"Streak: {progress.streak} in a row (best {progress.best_streak})",
        "",
        "Topics:",
    ]
    width = max(len(t.topic) for t in progress.topics) if progress.topics else 0
    for t in progress.topics:
        lines.append(
            f"  {t.topic:<{width}} {_bar(t.answered_correctly, t.total)} "
            f"{t.answered_correctly}/{t.total}"
        )
    return Reply(text="\n".join(lines), kind=Kind.PROGRESS, title=f"{name}'s progress")


def leaderboard_reply(rows: Sequence[LeaderRow], title: str) -> Reply:
    if not rows:
        return Reply(
            text="Nobody has answered yet. Be the first: /quiz", kind=Kind.LEADERBOARD, title=title
        )
    lines = [
        f"{r.rank:>3}. {r.display_name} · {r.score} points · {r.correct}/{r.attempts} correct"
        for r in rows
    ]
    return Reply(text="\n".join(lines), kind=Kind.LEADERBOARD, title=title)
