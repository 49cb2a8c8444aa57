"""The reports part of the store: learners' reports of problems with questions (the core's
``reports.ReportStore``). Built over the store's ``Database`` and its ``learner_id``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime

from sqlalchemy import Connection, func, insert, select

from bot.tutor.reports import QuestionReport
from bot.tutor.service import LearnerRef
from db import statements as q
from db.database import Database
from db.models import Learner
from db.models import QuestionReport as ReportRow
from db.statements import build


class ReportQueries:
    def __init__(self, db: Database, learner_id: Callable[[LearnerRef], Awaitable[int]]) -> None:
        self._db = db
        self._learner_id = learner_id

    async def learner_id(self, ref: LearnerRef) -> int:
        return await self._learner_id(ref)

    async def add_report(
        self, learner_id: int, ref: LearnerRef, question_id: str, note: str, now: datetime
    ) -> int:
        def op(conn: Connection) -> int:
            result = conn.execute(
                insert(ReportRow).values(
                    learner_id=learner_id,
                    platform=ref.platform,
                    guild_id=ref.guild_id,
                    question_id=question_id,
                    note=q.db_text(note),
                    created_at=now,
                )
            )
            key = result.inserted_primary_key
            assert key is not None  # an INSERT of one row
            return int(key[0])

        return await self._db.write(op)

    async def reports(
        self, platform: str, guild_id: str, limit: int, offset: int = 0
    ) -> Sequence[QuestionReport]:
        query = (
            select(
                ReportRow.id,
                ReportRow.question_id,
                Learner.display_name.label("learner_name"),
                Learner.user_id,
                ReportRow.note,
                ReportRow.created_at,
            )
            .join(Learner, Learner.id == ReportRow.learner_id)
            .where(ReportRow.platform == platform, ReportRow.guild_id == guild_id)
            .order_by(ReportRow.id.desc())
            .limit(limit)
            .offset(offset)
        )

        def op(conn: Connection) -> list[QuestionReport]:
            return [build(QuestionReport, row._mapping) for row in conn.execute(query)]

        return await self._db.read(op)

    async def report_counts(self, platform: str, guild_id: str) -> Mapping[str, int]:
        query = (
            select(ReportRow.question_id, func.count())
            .where(ReportRow.platform == platform, ReportRow.guild_id == guild_id)
            .group_by(ReportRow.question_id)
        )

        def op(conn: Connection) -> dict[str, int]:
            return {qid: int(n) for qid, n in conn.execute(query)}

        return await self._db.read(op)
