"""The tutor as both frontends use it: one async method per command, returning Replies.

This is the seam between the pure rules (session, progress) and storage. It reaches the database
only through the ``Store`` protocol, so it imports neither sqlalchemy nor discord.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol

from bot.tutor import progress, session
from bot.tutor.content import Bank
from bot.tutor.progress import AttemptRow, LeaderRow
from bot.tutor.replies import Kind, Reply
from bot.tutor.session import InvalidAnswer, OpenQuestion, PastAttempt

MAX_ANSWER_CHARS = 1000
LEADERBOARD_PAGE_SIZE = 10
DIRECT_MESSAGES = ""  # the guild id of a conversation outside any server


@dataclass(frozen=True)
class LearnerRef:
    """Who is talking: a user of a platform, within a guild (``DIRECT_MESSAGES`` for none)."""

    platform: str
    user_id: str
    guild_id: str
    display_name: str


@dataclass(frozen=True)
class NewAttempt:
    question_id: str
    topic: str
    answer: str
    correct: bool
    hinted: bool
    points: int
    time_to_answer_ms: int
    answered_at: datetime


class Window(StrEnum):
    WEEK = "week"
    MONTH = "month"
    ALL = "all"

    def since(self, now: datetime) -> datetime | None:
        days = {Window.WEEK: 7, Window.MONTH: 30}.get(self)
        return now - timedelta(days=days) if days else None


class Store(Protocol):
    async def learner_id(self, ref: LearnerRef) -> int: ...

    async def open_question(self, learner_id: int) -> OpenQuestion | None: ...

    async def set_open_question(self, learner_id: int, open_: OpenQuestion | None) -> None: ...

    async def record_attempt(
        self, learner_id: int, attempt: NewAttempt, answering: OpenQuestion
    ) -> bool:
        """Store the attempt and close ``answering`` in one transaction, committed on return.
        False (and nothing stored) if ``answering`` is no longer the open question."""
        ...

    async def attempts(self, learner_id: int) -> Sequence[AttemptRow]: ...

    async def last_attempts(self, learner_id: int) -> Sequence[PastAttempt]:
        """The latest attempt at each question the learner has answered."""
        ...

    async def leaderboard(
        self, platform: str, guild_id: str, since: datetime | None, limit: int, offset: int
    ) -> Sequence[LeaderRow]: ...


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _error(text: str) -> Reply:
    return Reply(text=text, kind=Kind.ERROR, ephemeral=True)


NO_OPEN_QUESTION = "No question is open. Type /quiz to get one."
NOT_OPEN = "That question is no longer open. Type /quiz for a new one."


class Tutor:
    def __init__(self, bank: Bank, store: Store, now: Callable[[], datetime] = _utcnow) -> None:
        self.bank = bank
        self.store = store
        self.now = now
        # Learner ids never change once created; caching them saves a query per command.
        self._ids: dict[tuple[str, str, str], int] = {}

    async def _id(self, who: LearnerRef) -> int:
        key = (who.platform, who.user_id, who.guild_id)
        if key not in self._ids:
            self._ids[key] = await self.store.learner_id(who)
        return self._ids[key]

    async def quiz(
        self, who: LearnerRef, topic: str | None = None, difficulty: int | None = None
    ) -> Reply:
        """Ask the next question (replacing any open one, which is not counted).

        ``difficulty`` (1 to 3) restricts the choice to questions of that difficulty."""
        if topic is not None and topic not in self.bank.topics:
            return _error(f"Unknown topic {topic!r}. Topics: {', '.join(self.bank.topics)}")
        learner = await self._id(who)
        current = await self.store.open_question(learner)
        avoid = {current.question_id} if current else set()
        return await self._ask_next(learner, topic, avoid, difficulty)

    async def _ask_next(
        self, learner: int, topic: str | None, avoid: set[str], difficulty: int | None = None
    ) -> Reply:
        history = await self.store.last_attempts(learner)
        pick = session.choose_next(self.bank, history, topic, avoid, difficulty)
        if pick is None:
            what = "that topic" if difficulty is None else "that topic and difficulty"
            return _error(f"There are no questions for {what} yet.")
        await self.store.set_open_question(learner, OpenQuestion(pick.question.id, self.now()))
        return session.ask(pick)

    async def answer(self, who: LearnerRef, text: str, question_id: str | None = None) -> Reply:
        """Grade an answer to the open question; the attempt is committed before this returns.

        ``question_id`` is the question the learner saw (e.g. carried by a button); an answer to
        anything but the open question is refused, so an old message cannot be answered twice.
        """
        if len(text) > MAX_ANSWER_CHARS:
            return _error(f"That answer is too long (at most {MAX_ANSWER_CHARS} characters).")
        learner = await self._id(who)
        current = await self.store.open_question(learner)
        if current is None:
            return _error(NO_OPEN_QUESTION)
        if question_id is not None and question_id != current.question_id:
            return _error(NOT_OPEN)
        question = self.bank.get(current.question_id)
        if question is None:
            # The content changed since it was asked; nothing sensible to grade against.
            await self.store.set_open_question(learner, None)
            return _error("That question was removed from the course. Type /quiz for another.")
        try:
            result = session.grade(question, text, current.hinted)
        except InvalidAnswer as exc:
            return _error(str(exc))
        now = self.now()
        elapsed_ms = max(0, int((now - current.asked_at).total_seconds() * 1000))
        attempt = NewAttempt(
            question.id,
            question.topic,
            result.answer,
            result.correct,
            current.hinted,
            result.points,
            elapsed_ms,
            now,
        )
        if not await self.store.record_attempt(learner, attempt, current):
            return _error("That question was already answered. Type /quiz for a new one.")
        return session.feedback(question, result, current.hinted)

    async def hint(self, who: LearnerRef, question_id: str | None = None) -> Reply:
        """A hint for the open question. ``question_id``, as for ``answer``, is the question the
        learner saw (e.g. a Hint button on an old message): any other is refused."""
        learner = await self._id(who)
        current = await self.store.open_question(learner)
        question = self.bank.get(current.question_id) if current else None
        if current is None or question is None:
            return _error(NO_OPEN_QUESTION)
        if question_id is not None and question_id != current.question_id:
            return _error(NOT_OPEN)
        if not current.hinted:
            hinted = OpenQuestion(current.question_id, current.asked_at, hinted=True)
            await self.store.set_open_question(learner, hinted)
        return session.hint(question, already=current.hinted)

    async def skip(
        self, who: LearnerRef, topic: str | None = None, question_id: str | None = None
    ) -> Reply:
        """Put the open question aside (nothing is recorded) and ask another. ``question_id``
        guards against skipping a newer question from an old message, as for ``answer``."""
        learner = await self._id(who)
        current = await self.store.open_question(learner)
        if current is None:
            return _error(NO_OPEN_QUESTION)
        if question_id is not None and question_id != current.question_id:
            return _error(NOT_OPEN)
        await self.store.set_open_question(learner, None)
        return await self._ask_next(learner, topic, {current.question_id})

    async def progress(self, who: LearnerRef) -> Reply:
        rows = await self.store.attempts(await self._id(who))
        return progress.progress_reply(who.display_name, progress.compute(rows, self.bank))

    async def leaderboard(
        self, who: LearnerRef, window: Window = Window.ALL, page: int = 1
    ) -> Reply:
        if who.guild_id == DIRECT_MESSAGES:
            return _error("Leaderboards belong to a server; in direct messages, try /progress.")
        page = max(1, page)
        rows = await self.store.leaderboard(
            who.platform,
            who.guild_id,
            window.since(self.now()),
            LEADERBOARD_PAGE_SIZE,
            (page - 1) * LEADERBOARD_PAGE_SIZE,
        )
        label = {Window.WEEK: "this week", Window.MONTH: "this month", Window.ALL: "all time"}
        return progress.leaderboard_reply(rows, f"Leaderboard · {label[window]} · page {page}")
