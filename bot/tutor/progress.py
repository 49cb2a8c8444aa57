"""Progress, derived from attempt rows and review cards: XP, accuracy, daily streak, mastery.

XP ("points" in the database) is awarded per answer by ``session.xp_for``, which already refuses
XP for early repeats, so totals are plain sums; the store's leaderboard sums the same column.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.tutor import review, streaks
from bot.tutor.content import Bank, is_practice
from bot.tutor.replies import (
    Align,
    Bar,
    Bars,
    Block,
    Column,
    Kind,
    Page,
    Reply,
    Table,
    Text,
    counted,
    verbatim,
)
from bot.tutor.review import CardState


@dataclass(frozen=True)
class AttemptRow:
    question_id: str
    topic: str
    correct: bool
    hinted: bool
    points: int  # XP awarded
    answered_at: datetime


@dataclass(frozen=True)
class TopicProgress:
    topic: str
    mastered: int  # questions the learner would recall now (see review.is_mastered)
    total: int  # questions in the bank for this topic


@dataclass(frozen=True)
class Leech:
    """A question the learner keeps missing (see review.LEECH_LAPSES)."""

    question_id: str
    topic: str
    parked_until: datetime  # not asked before then


@dataclass(frozen=True)
class Progress:
    xp: int
    attempts: int
    correct: int
    hints: int
    streak: streaks.Streak
    due: int  # reviews due now
    topics: tuple[TopicProgress, ...]
    leeches: tuple[Leech, ...] = ()
    practice_answers: int = 0  # of ``attempts``: answers to generated practice questions
    practice_xp: int = 0  # of ``xp``

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.attempts if self.attempts else None


@dataclass(frozen=True)
class LeaderRow:
    rank: int  # shared by equal scores: 1, 2, 2, 4 (``shared_ranks``)
    display_name: str
    score: int  # XP in the window
    attempts: int
    correct: int
    user_id: str = ""  # the learner's platform id (Discord: to show the name as a mention)


@dataclass(frozen=True)
class Standing:
    """Where one learner stands on a leaderboard, and how many it ranks."""

    rank: int | None  # None: not on it (no answer in the window, or excluded)
    score: int
    learners: int


def shared_ranks(
    rows: Iterable[LeaderRow], first_rank: int = 1, offset: int = 0
) -> list[LeaderRow]:
    """Competition ranking ("1224") of rows sorted by XP, highest first: learners with the same
    XP share a rank, and the next rank counts everyone above it. For a page that starts
    ``offset`` rows down the board: ``first_rank`` is its first row's rank (1 + the learners
    with more XP)."""
    ranked: list[LeaderRow] = []
    for i, row in enumerate(rows):
        if not ranked:
            rank = first_rank
        elif ranked[-1].score == row.score:
            rank = ranked[-1].rank
        else:
            rank = offset + i + 1
        ranked.append(replace(row, rank=rank))
    return ranked


def compute(
    rows: Sequence[AttemptRow],
    cards: Mapping[str, CardState],
    bank: Bank,
    tz: ZoneInfo,
    now: datetime,
) -> Progress:
    active = streaks.local_days((r.answered_at for r in rows), tz)
    mastered = review.mastery(bank.questions, cards, now)
    return Progress(
        xp=sum(r.points for r in rows),
        attempts=len(rows),
        correct=sum(r.correct for r in rows),
        hints=sum(r.hinted for r in rows),
        streak=streaks.streak(active, now.astimezone(tz).date()),
        due=sum(1 for q in bank.questions if q.id in cards and cards[q.id].is_due(now)),
        topics=tuple(TopicProgress(t, *mastered[t]) for t in bank.topics),
        leeches=tuple(
            Leech(q.id, q.topic, card.parked_until)
            for q in bank.questions
            if (card := cards.get(q.id)) is not None and card.parked_until is not None
        ),
        practice_answers=sum(1 for r in rows if is_practice(r.question_id)),
        practice_xp=sum(r.points for r in rows if is_practice(r.question_id)),
    )


# Learners see a topic's mastery drop minutes after a right answer and ask why: say it once.
WHY_MASTERY_FALLS = (
    f"Mastery counts the questions you would still recall now ({review.MASTERY_RETRIEVABILITY:.0%} "
    "sure or more). Memory fades fastest right after you learn something, so a question answered "
    "minutes ago can drop out until reviews make it stick; a wrong answer takes it out too."
)


def progress_reply(name: str, progress: Progress) -> Reply:
    title = f"{verbatim(name)}'s progress"
    if not progress.attempts:
        return Reply(text="No answers yet. Start with /quiz.", kind=Kind.PROGRESS, title=title)
    accuracy = f"{progress.accuracy:.0%}" if progress.accuracy is not None else "n/a"
    streak = progress.streak
    today = "" if streak.active_today else " (answer today to keep it)"
    lines = [
        f"XP: {progress.xp}",
        f"Answers: {progress.attempts} · correct: {progress.correct} ({accuracy})"
        f" · hints used: {progress.hints}",
        f"Daily streak: {counted(streak.days, 'day')}{today}"
        f" · best {streak.best} · freezes held: {streak.freezes}",
        f"Reviews due now: {progress.due}" + (" (/review)" if progress.due else ""),
    ]
    if progress.practice_answers:
        n = progress.practice_answers
        lines.insert(2, f"Of which practice: {n} answer{'s' * (n != 1)}, {progress.practice_xp} XP")
    mastery = Bars(
        tuple(Bar(t.topic, t.mastered, t.total) for t in progress.topics),
        caption="Mastery (questions you would recall now)",
    )
    blocks: tuple[Block, ...] = (mastery, Text(WHY_MASTERY_FALLS))
    if progress.leeches:
        leeches = Table(
            (Column(), Column()),
            (
                (
                    f"{leech.question_id} ({leech.topic})",
                    f"parked until {leech.parked_until:%Y-%m-%d}",
                )
                for leech in progress.leeches
            ),
            caption=(
                f"Questions you keep missing ({review.LEECH_LAPSES} wrong answers): set aside for "
                "a while, then asked again; a right answer takes them off this list"
            ),
        )
        blocks += (leeches,)
    return Reply(text="\n".join(lines), kind=Kind.PROGRESS, title=title, blocks=blocks)


# Rank, name, XP, right answers: "1. ada · 10 XP · 1/1 correct".
LEADERBOARD_COLUMNS = (
    Column(Align.RIGHT, after=" "),
    Column(),
    Column(Align.RIGHT),
    Column(Align.RIGHT),
)


def leaderboard_reply(
    rows: Sequence[LeaderRow],
    title: str,
    page: Page,
    standing: Standing | None = None,
    page_size: int = 10,
    user_id: str = "",
) -> Reply:
    """One page of a leaderboard; ``page`` says which, and whether another follows.
    ``standing``: where the asking learner stands (a "your rank" line) and how many are ranked."""
    pages = max(1, -(-standing.learners // page_size)) if standing is not None else None
    mine = _your_rank(standing, user_id)
    if not rows:
        if page.number == 1:
            text = "Nobody has answered yet. Be the first: /quiz"
        else:
            last = f" (it has {counted(pages, 'page')}; try page {pages})" if pages else ""
            text = f"Page {page.number} is past the end of this leaderboard{last}."
        return Reply(text=text, kind=Kind.LEADERBOARD, title=title, page=page)
    table = Table(
        LEADERBOARD_COLUMNS,
        (
            (
                f"{r.rank}.",
                verbatim(r.display_name),
                f"{r.score} XP",
                f"{r.correct}/{r.attempts} correct",
            )
            for r in rows
        ),
        people=[r.user_id for r in rows],
        person_column=1,
    )
    if pages is not None and pages > 1:
        title = f"{title} · page {page.number} of {pages}"
    blocks: tuple[Block, ...] = (table,) if mine is None else (mine, table)
    return Reply(text="", kind=Kind.LEADERBOARD, title=title, blocks=blocks, page=page)


def _your_rank(standing: Standing | None, user_id: str) -> Table | None:
    """ "You: rank 3 of 12 · 120 XP", as a row about the asking learner (Discord shows them
    there, since others read the board too)."""
    if standing is None:
        return None
    if standing.rank is None:
        where = "not on this leaderboard yet (answer a question with /quiz)"
    else:
        where = f"rank {standing.rank} of {standing.learners} · {standing.score} XP"
    return Table((Column(after=": "), Column()), [("You", where)], people=[user_id])
