"""Reports of problems with questions, and per-question statistics for moderators.

A learner reports a problem from the feedback of a question ("Report a problem with this
question" on Discord, /report in the terminal) with a short note; the guild's moderators read
them (/mod reports), next to how each question fares (/mod questions: most missed, hint rate,
median time, reports), and the content's authors get them as a CSV file to fix the YAML.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from bot.tutor.content import Bank
from bot.tutor.moderation import ReportAttempt, sheet_cell
from bot.tutor.moderator import Actor, Query, _done, _error, place, refusal
from bot.tutor.replies import (
    Align,
    Attachment,
    Column,
    Kind,
    Page,
    Reply,
    Table,
    counted,
    verbatim,
)
from bot.tutor.service import LearnerRef
from bot.tutor.webstats import question_stats

MIN_NOTE_CHARS = 5
MAX_NOTE_CHARS = 1000
REPORTS_PAGE_SIZE = 10
QUESTIONS_SHOWN = 15
NOTE_CHARS = 200  # of a note, in the list (the export has it whole)


@dataclass(frozen=True)
class QuestionReport:
    id: int
    question_id: str
    learner_name: str
    user_id: str
    note: str
    created_at: datetime


class ReportStore(Protocol):
    async def learner_id(self, ref: LearnerRef) -> int: ...

    async def add_report(
        self, learner_id: int, ref: LearnerRef, question_id: str, note: str, now: datetime
    ) -> int: ...

    async def reports(
        self, platform: str, guild_id: str, limit: int, offset: int = 0
    ) -> Sequence[QuestionReport]:
        """Newest first."""
        ...

    async def report_counts(self, platform: str, guild_id: str) -> Mapping[str, int]:
        """Reports per question id."""
        ...


class AttemptSource(Protocol):
    async def export_attempts(
        self, platform: str, guild_id: str, since: datetime | None
    ) -> list[tuple[str, ReportAttempt]]: ...


def clean_note(note: str) -> str:
    """The note as stored: its lines kept, runs of spaces folded, at most MAX_NOTE_CHARS."""
    lines = (" ".join(line.split()) for line in note.strip().splitlines())
    return "\n".join(line for line in lines if line)[:MAX_NOTE_CHARS]


class Reports:
    def __init__(
        self,
        bank: Bank,
        store: ReportStore,
        attempts: AttemptSource,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.bank = bank
        self.store = store
        self.attempts = attempts
        self.now = now

    async def report(self, who: LearnerRef, question_id: str, note: str) -> Reply:
        """A learner's report of a problem with a question, kept for the moderators."""
        question = self.bank.get(question_id)
        if question is None:
            return _error("That question is no longer in the course; nothing was reported.")
        text = clean_note(note)
        if len(text) < MIN_NOTE_CHARS:
            return _error(
                f"Say what is wrong in a few words (at least {MIN_NOTE_CHARS} characters); "
                "nothing was reported."
            )
        learner = await self.store.learner_id(who)
        await self.store.add_report(learner, who, question_id, text, self.now())
        return _done(
            f"Thank you: your report on question {question_id} is with the moderators and the "
            "course's authors."
        )

    async def listing(self, actor: Actor, page: int = 1) -> Reply:
        """/mod reports: the guild's reports, newest first, a page at a time."""
        if refused := refusal(actor, Query.REPORTS):
            return _error(refused)
        page = max(1, page)
        rows = await self.store.reports(
            actor.platform,
            actor.guild_id,
            REPORTS_PAGE_SIZE + 1,
            (page - 1) * REPORTS_PAGE_SIZE,
        )
        more = len(rows) > REPORTS_PAGE_SIZE
        shown = rows[:REPORTS_PAGE_SIZE]
        at = Page(page, has_more=more)
        if not shown:
            text = "No reports yet." if page == 1 else f"Page {page} is past the last report."
            return Reply(
                text=text, kind=Kind.INFO, title="Question reports", ephemeral=True, page=at
            )
        table = Table(
            (Column(Align.RIGHT, after=" "), Column(), Column(), Column(), Column()),
            (
                (
                    f"#{r.id}",
                    f"{r.created_at:%Y-%m-%d %H:%M} UTC",
                    r.question_id,
                    # The learners' own words: marked so that no frontend reads markup.
                    verbatim(r.learner_name),
                    verbatim(_clip(" ".join(r.note.split()), NOTE_CHARS)),
                )
                for r in shown
            ),
            people=[r.user_id for r in shown],
            person_column=3,
        )
        return Reply(
            text="",
            kind=Kind.INFO,
            title="Question reports",
            ephemeral=True,
            blocks=(table,),
            page=at,
        )

    async def export(self, actor: Actor) -> Reply:
        """Every report of the guild as one CSV table, for the course's authors."""
        if refused := refusal(actor, Query.REPORTS):
            return _error(refused)
        rows = await self.store.reports(actor.platform, actor.guild_id, 100_000)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["id", "created_at", "question_id", "topic", "user_id", "learner", "note"])
        for r in rows:
            question = self.bank.get(r.question_id)
            writer.writerow(
                [
                    r.id,
                    r.created_at.isoformat(),
                    r.question_id,
                    question.topic if question else "",
                    r.user_id,
                    sheet_cell(r.learner_name),
                    sheet_cell(r.note),
                ]
            )
        name = f"question-reports-{self.now():%Y%m%d}.csv"
        return Reply(
            text=f"{counted(len(rows), 'report')}, as one CSV table.",
            kind=Kind.INFO,
            ephemeral=True,
            attachment=Attachment(name, out.getvalue().encode("utf-8-sig")),
        )

    async def questions(self, actor: Actor) -> Reply:
        """/mod questions: how the questions fare in this guild, most missed first."""
        if refused := refusal(actor, Query.QUESTIONS):
            return _error(refused)
        attempts = await self.attempts.export_attempts(actor.platform, actor.guild_id, None)
        counts = await self.store.report_counts(actor.platform, actor.guild_id)
        stats = question_stats(attempts, counts)
        if not stats:
            return _done(f"No answers {place(actor.platform)} yet.")
        shown = stats[:QUESTIONS_SHOWN]
        table = Table(
            # "fine-tune-lr (fine-tuning) · missed 60% of 10 · hints 20% · median 14.2 s · 1 report"
            (Column(), Column(), Column(), Column(), Column()),
            (
                (
                    f"{s.question_id} ({s.topic})",
                    f"missed {s.miss_rate:.0%} of {s.answered}",
                    f"hints {s.hint_rate:.0%}",
                    f"median {s.median_s:.1f} s" if s.median_s is not None else "median n/a",
                    counted(s.reports, "report"),
                )
                for s in shown
            ),
            caption=f"Most missed first ({len(shown)} of {counted(len(stats), 'question')})",
        )
        return Reply(
            text=f"Answers that count {place(actor.platform)}, all time. /mod reports has the "
            "learners' notes.",
            kind=Kind.INFO,
            title="Questions",
            ephemeral=True,
            blocks=(table,),
        )


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
