"""Moderation rules: what an action is, a learner's report with its flags, the CSV export.

Who may moderate is the frontend's business (Discord: Manage Server or the configured role; the
terminal: whoever starts it with --admin); what a moderator sees and does is decided here.
"""

from __future__ import annotations

import csv
import io
import statistics
import zipfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bot.tutor.content import Bank
from bot.tutor.progress import LeaderRow
from bot.tutor.replies import (
    Align,
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
from bot.tutor.review import fast_threshold_s

# An answer faster than this share of the time needed just to read the question is suspicious.
TOO_FAST_SHARE = 0.25
# ... and worth a flag when at least this many right answers were that fast.
TOO_FAST_MIN = 5
# A run of at least this many right answers starting right after a reset is worth a look.
PERFECT_RUN_AFTER_RESET = 10
REPORT_WEEKS = 8
RECENT_ANSWERS = 8  # shown in a learner's report
ANSWER_CHARS = 40  # of each recent answer's text


class ActionKind(StrEnum):
    RESET = "reset"
    EXCLUDE = "exclude"
    INCLUDE = "include"
    UNDO = "undo"
    SET_ROLE = "set_role"
    WEB_LEADERBOARD = "web_leaderboard"  # turned the public web leaderboard on or off
    STUDY = "study_settings"  # changed how the server studies (/mod settings study)


@dataclass(frozen=True)
class ModActionRow:
    id: int
    moderator_name: str
    action: ActionKind
    learner_name: str | None
    reason: str
    created_at: datetime
    undone_by: int | None
    # What a settings change changed, as plain text ("study mode: thread -> ephemeral"); empty
    # for actions that say it otherwise (a learner, a reason).
    change: str = ""


@dataclass(frozen=True)
class ReportAttempt:
    question_id: str
    topic: str
    correct: bool
    hinted: bool
    time_to_answer_ms: int
    answered_at: datetime
    reset: bool  # hidden by a reset (still shown to moderators)
    revealed: bool = False  # the learner ran the question's own code first (also hinted)
    retry: bool = False  # less than a day after the answer was shown (no XP)
    answer: str = ""  # as the learner gave it
    points: int = 0  # XP awarded
    user_id: str = ""  # the learner's platform id (filled in for exports)


@dataclass(frozen=True)
class Report:
    name: str
    excluded: bool
    weekly: tuple[tuple[datetime, int], ...]  # (week start, answers)
    topics: tuple[tuple[str, int, int], ...]  # (topic, right, answered)
    hints: int  # answers after a hint (not counting revealing runs)
    median_answer_s: float | None
    flags: tuple[str, ...]
    revealed: int = 0  # answers after running the question's own code
    retries: int = 0  # answers less than a day after the answer was shown
    actions: tuple[ModActionRow, ...] = ()  # resets, exclusions, ... of this learner, newest first
    recent: tuple[ReportAttempt, ...] = ()  # the latest answers (reset ones too), newest first


def report(
    name: str,
    excluded: bool,
    attempts: Sequence[ReportAttempt],
    resets: Sequence[datetime],
    bank: Bank,
    now: datetime,
    actions: Sequence[ModActionRow] = (),
) -> Report:
    live = [a for a in attempts if not a.reset]
    week0 = (now - timedelta(days=now.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    starts = [week0 - timedelta(weeks=i) for i in reversed(range(REPORT_WEEKS))]
    per_week = Counter(max((s for s in starts if s <= a.answered_at), default=None) for a in live)
    topics: dict[str, list[int]] = {}
    for a in live:
        right, total = topics.setdefault(a.topic, [0, 0])
        topics[a.topic] = [right + a.correct, total + 1]
    times = [a.time_to_answer_ms / 1000 for a in live]
    return Report(
        name=name,
        excluded=excluded,
        weekly=tuple((s, per_week.get(s, 0)) for s in starts),
        topics=tuple((t, r, n) for t, (r, n) in sorted(topics.items())),
        hints=sum(a.hinted and not a.revealed for a in live),
        median_answer_s=statistics.median(times) if times else None,
        flags=tuple(_flags(live, resets, bank)),
        revealed=sum(a.revealed for a in live),
        retries=sum(a.retry for a in live),
        actions=tuple(sorted(actions, key=lambda r: r.id, reverse=True)),
        recent=tuple(reversed(attempts[-RECENT_ANSWERS:])),
    )


def _flags(live: Sequence[ReportAttempt], resets: Sequence[datetime], bank: Bank) -> list[str]:
    flags = []
    too_fast = 0
    for a in live:
        question = bank.get(a.question_id)
        if (
            question
            and a.correct
            and (a.time_to_answer_ms / 1000 < TOO_FAST_SHARE * fast_threshold_s(question))
        ):
            too_fast += 1
    revealed_right = sum(a.revealed and a.correct for a in live)
    if revealed_right:
        flags.append(
            f"{counted(revealed_right, 'right answer')} followed running the "
            "question's own code, which shows the answer (graded as hinted)"
        )
    if too_fast >= TOO_FAST_MIN:
        flags.append(
            f"{too_fast} right answers came faster than a quarter of the time needed to read "
            "the question"
        )
    for when in resets:
        after = sorted((a for a in live if a.answered_at > when), key=lambda a: a.answered_at)
        run = 0
        for a in after:
            if not a.correct:
                break
            run += 1
        if run >= PERFECT_RUN_AFTER_RESET:
            flags.append(
                f"{run} right answers in a row straight after the reset of {when:%Y-%m-%d}"
            )
    return flags


def report_reply(r: Report) -> Reply:
    lines = [
        f"Status: {'excluded from leaderboards' if r.excluded else 'on leaderboards'}",
        "Answers per week: "
        + " ".join(f"{n}" for _, n in r.weekly)
        + f" (oldest to this week, {REPORT_WEEKS} weeks)",
    ]
    median = f"{r.median_answer_s:.1f} s" if r.median_answer_s is not None else "n/a"
    rest = [
        f"Hints used: {r.hints} · median answer time: {median}",
        f"Ran the question's code before answering: {r.revealed} · retries (the answer seen "
        f"less than a day before, no XP): {r.retries}",
    ]
    rest.append("Flags: " + ("none" if not r.flags else ""))
    rest += [f"⚠ {f}" for f in r.flags]
    accuracy = Table(
        # "basics: 2/3 (67%)"
        (Column(after=": "), Column(Align.RIGHT, after=" "), Column(Align.RIGHT)),
        ((t, f"{right}/{n}", f"({right / n:.0%})") for t, right, n in r.topics),
        caption="Accuracy per topic",
    )
    blocks: list[Block] = [accuracy] if r.topics else []
    blocks.append(Text("\n".join(rest)))
    blocks.append(
        Table(LOG_COLUMNS[1:], (_action_cells(a)[1:] for a in r.actions), caption="Moderation")
        if r.actions
        else Text("Moderation: no resets or exclusions.")
    )
    if r.recent:
        blocks.append(
            Table(
                RECENT_COLUMNS,
                (_recent_cells(a) for a in r.recent),
                caption=f"Latest answers (newest first, at most {RECENT_ANSWERS})",
            )
        )
    return Reply(
        text="\n".join(lines),
        kind=Kind.INFO,
        title=f"Learner report · {verbatim(r.name)}",
        ephemeral=True,
        blocks=tuple(blocks),
    )


# "2026-11-01 12:00 UTC · basics-shapes · “(None, 5)” · right, 10 XP (hinted)"
RECENT_COLUMNS = (Column(), Column(), Column(), Column())


def _recent_cells(a: ReportAttempt) -> tuple[str, str, str, str]:
    text = " ".join(a.answer.split())
    text = text if len(text) <= ANSWER_CHARS else text[: ANSWER_CHARS - 1] + "…"
    notes = [
        label
        for label, on in (
            ("ran its code", a.revealed),
            ("hinted", a.hinted and not a.revealed),
            ("retry", a.retry),
            ("hidden by a reset", a.reset),
        )
        if on
    ]
    result = f"{'right' if a.correct else 'wrong'}, {a.points} XP"
    return (
        f"{a.answered_at:%Y-%m-%d %H:%M} UTC",
        a.question_id,
        f"“{verbatim(text)}”",
        result + (f" ({', '.join(notes)})" if notes else ""),
    )


def _action_cells(r: ModActionRow) -> tuple[str, str, str, str, str]:
    return (
        f"#{r.id}",
        f"{r.created_at:%Y-%m-%d %H:%M} UTC",
        verbatim(r.moderator_name),
        f"{r.action}"
        + (f" {verbatim(r.learner_name)}" if r.learner_name else "")
        # Channel names are the server's to choose: shown as they are, like every name.
        + (f" ({verbatim(r.change)})" if r.change else "")
        + (f" (undone by #{r.undone_by})" if r.undone_by else ""),
        verbatim(r.reason),
    )


# "#3 2026-11-01 12:00 UTC · Mo · exclude Ada (undone by #4) · spam"
LOG_COLUMNS = (
    Column(Align.RIGHT, after=" "),
    Column(),
    Column(),
    Column(),
    Column(),
)


def log_reply(rows: Sequence[ModActionRow], page: Page) -> Reply:
    """One page of the moderator log, newest first."""
    if not rows:
        return Reply(
            text="No moderator actions yet.",
            kind=Kind.INFO,
            title="Moderator log",
            ephemeral=True,
            page=page,
        )
    table = Table(LOG_COLUMNS, (_action_cells(r) for r in rows))
    return Reply(
        text="", kind=Kind.INFO, title="Moderator log", ephemeral=True, blocks=(table,), page=page
    )


LEADERBOARD_CSV = ("rank", "user_id", "learner", "status", "xp", "answers", "correct")
ATTEMPTS_CSV = (
    "answered_at",
    "user_id",
    "learner",
    "question_id",
    "topic",
    "difficulty",
    "answer",
    "correct",
    "xp",
    "hinted",
    "revealed",
    "retry",
    "time_to_answer_ms",
)


def _csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    # With a byte order mark: spreadsheet programs then read the file as UTF-8 (names, answers).
    return out.getvalue().encode("utf-8-sig")


def leaderboard_csv(leaders: Sequence[LeaderRow], excluded: Sequence[LeaderRow]) -> bytes:
    """One table: the ranked learners (shared ranks), then the excluded ones, without a rank."""
    ranked = [
        (
            r.rank,
            r.user_id,
            sheet_cell(r.display_name),
            "on leaderboard",
            r.score,
            r.attempts,
            r.correct,
        )
        for r in leaders
    ]
    left_out = [
        ("", r.user_id, sheet_cell(r.display_name), "excluded", r.score, r.attempts, r.correct)
        for r in excluded
    ]
    return _csv(LEADERBOARD_CSV, [*ranked, *left_out])


def attempts_csv(attempts: Sequence[tuple[str, ReportAttempt]], bank: Bank) -> bytes:
    """One table: every answer that counts, one row each, oldest first."""

    def difficulty(question_id: str) -> int | str:
        question = bank.get(question_id)
        return question.difficulty if question is not None else ""

    return _csv(
        ATTEMPTS_CSV,
        (
            (
                a.answered_at.isoformat(),
                a.user_id,
                sheet_cell(name),
                a.question_id,
                a.topic,
                difficulty(a.question_id),
                sheet_cell(a.answer),
                int(a.correct),
                a.points,
                int(a.hinted),
                int(a.revealed),
                int(a.retry),
                a.time_to_answer_ms,
            )
            for name, a in attempts
        ),
    )


def zipped(files: Sequence[tuple[str, bytes]]) -> bytes:
    """Files in one ZIP archive (Discord takes one attachment as easily as two; a terminal
    writes one file)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files:
            archive.writestr(name, data)
    return out.getvalue()


def sheet_cell(text: str) -> str:
    """Text typed by people, as a CSV cell that a spreadsheet keeps as text."""
    # Display names and answers are typed by users: a name such as "=HYPERLINK(...)" must stay
    # text when the file is opened in a spreadsheet.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
