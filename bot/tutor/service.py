"""The tutor as both frontends use it: one async method per command, returning Replies.

This is the seam between the pure rules (session, progress) and storage. It reaches the database
only through the ``Store`` protocol, so it imports neither sqlalchemy nor discord.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from typing import Protocol

from bot.tutor import chart, grading, practice_mode, progress, review, session, streaks, study
from bot.tutor.content import Bank, Question, is_practice
from bot.tutor.practice_mode import PracticeSource, PracticeUnavailable
from bot.tutor.progress import AttemptRow, LeaderRow, Standing
from bot.tutor.replies import Kind, Page, Reply, Text, verbatim
from bot.tutor.review import CardState
from bot.tutor.session import InvalidAnswer, OpenQuestion
from bot.tutor.study import Filters, StudySet, StudyState, StudyStore
from bot.tutor.studying import StudyDesk

MAX_ANSWER_CHARS = 1000
LEADERBOARD_PAGE_SIZE = 10
MAX_PAGE = 1_000_000  # of any paged list: keeps offsets far inside the database's integers
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
    revealed: bool = False  # the learner ran the question's code before answering
    retry: bool = False  # less than a day after the last answer to it (no XP)


DEFAULT_NEW_PER_DAY = 20  # Anki's default
MAX_NEW_PER_DAY = 200


@dataclass(frozen=True)
class LearnerSettings:
    """What a learner chose with /settings (the defaults until they do)."""

    timezone: str = "UTC"
    desired_retention: float = review.DEFAULT_RETENTION
    daily_new_limit: int = DEFAULT_NEW_PER_DAY


# Given the review card as stored (None before the first answer), the attempt and new card to store.
# None for the new card: the question is not scheduled (a practice variant, tutor/practice_mode.py).
Decide = Callable[["CardState | None"], "tuple[NewAttempt, CardState | None]"]


class Window(StrEnum):
    WEEK = "week"
    MONTH = "month"
    ALL = "all"

    def since(self, now: datetime) -> datetime | None:
        days = {Window.WEEK: 7, Window.MONTH: 30}.get(self)
        return now - timedelta(days=days) if days else None


class Store(Protocol):
    @property
    def study(self) -> StudyStore:
        """Modes, filters, sets and study threads (bot/tutor/study.py)."""
        ...

    async def learner_id(self, ref: LearnerRef) -> int:
        """The learner's id (created on first use); stores ``ref.display_name`` if it changed."""
        ...

    async def open_question(self, learner_id: int) -> OpenQuestion | None:
        """The open question; its ``hinted`` says whether the learner saw a hint for that
        question since they last answered it (on this or any earlier asking)."""
        ...

    async def set_open_question(self, learner_id: int, open_: OpenQuestion | None) -> None:
        """Open ``open_`` (None: close the open question). With ``open_.hinted`` the hint is
        kept for that question until it is answered: skipping it, or asking it again by any
        path, does not remove it."""
        ...

    async def record_answer(
        self, learner_id: int, answering: OpenQuestion, decide: Decide
    ) -> tuple[NewAttempt, CardState | None] | None:
        """Close ``answering`` and store the answer, in one transaction committed on return.

        ``decide`` gets the question's review card as it is in that transaction (None the first
        time) and returns the attempt and the new card to store, with a review log entry.
        Returns what was stored, or None (and nothing stored) if ``answering`` is no longer the
        open question."""
        ...

    async def attempts(self, learner_id: int) -> Sequence[AttemptRow]: ...

    async def cards(self, learner_id: int) -> Mapping[str, CardState]:
        """The learner's review cards by question id."""
        ...

    async def timezone(self, learner_id: int) -> str: ...

    async def set_timezone(self, learner_id: int, name: str) -> None: ...

    async def learner_settings(self, learner_id: int) -> LearnerSettings: ...

    async def save_learning_settings(
        self, learner_id: int, desired_retention: float, daily_new_limit: int
    ) -> None: ...

    async def new_questions_since(self, learner_id: int, since: datetime) -> int:
        """How many questions the learner answered for the first time at ``since`` or later."""
        ...

    async def leaderboard(
        self,
        platform: str,
        guild_id: str,
        since: datetime | None,
        limit: int,
        offset: int,
        topic: str | None = None,
    ) -> Sequence[LeaderRow]:
        """Ranked by XP; excluded learners and reset attempts do not count."""
        ...

    async def standing(
        self,
        platform: str,
        guild_id: str,
        since: datetime | None,
        topic: str | None,
        user_id: str,
    ) -> Standing:
        """Where one learner stands on that leaderboard."""
        ...


def parse_retention(text: str) -> float | None:
    """A desired retention typed as ``0.9``, ``90%`` or ``90``, rounded to a hundredth; None
    when it is not a number within FSRS's recommended range."""
    typed = text.strip().rstrip("%").strip().replace(",", ".")
    try:
        value = float(typed)
    except ValueError:
        return None
    if value > 1:
        value /= 100
    value = round(value, 2)
    if not review.MIN_RETENTION <= value <= review.MAX_RETENTION:  # NaN fails too
        return None
    return value


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _attempt(
    question: Question,
    result: session.Grade,
    asked: OpenQuestion,
    now: datetime,
    xp: int,
    retry: bool,
) -> NewAttempt:
    """The attempt to store for ``result``, an answer to ``asked`` given ``now``."""
    elapsed_s = max(0.0, (now - asked.asked_at).total_seconds())
    hinted = asked.hinted or asked.revealed
    return NewAttempt(
        question.id,
        question.topic,
        result.answer,
        result.correct,
        hinted,
        xp,
        int(elapsed_s * 1000),
        now,
        revealed=asked.revealed,
        retry=retry,
    )


def _error(text: str) -> Reply:
    return Reply(text=text, kind=Kind.ERROR, ephemeral=True)


NO_OPEN_QUESTION = "No question is open. Type /quiz to get one."
NO_PRACTICE = "Practice questions need the sandbox, which is not available here."
NOT_OPEN = "That question is no longer open. Type /quiz for a new one."


def is_stale(reply: Reply) -> bool:
    """The refusal of a click on a question that is no longer the open one (a newer one
    replaced it): the frontend closes that old message's buttons."""
    return reply.kind is Kind.ERROR and reply.text == NOT_OPEN


# Checks a frontend may need before it acknowledges a command (Discord answers them privately
# at once, before deferring): pure, so that the frontend and the core apply one rule, with one
# message.


def unknown_topic(topics: Sequence[str], topic: str | None) -> Reply | None:
    """The refusal of a topic the course does not have; None for no topic or a known one."""
    if topic is None or topic in topics:
        return None
    return _error(f"Unknown topic {verbatim(repr(topic))}. Topics: {', '.join(topics)}")


def find_topic(topics: Sequence[str], typed: str | None) -> tuple[str | None, Reply | None]:
    """The topic ``typed`` names, in any case or by a unique prefix (as autocomplete offers
    them on Discord), or the refusal: unknown, or which topics it could mean."""
    if typed is None:
        return None, None
    found, could_be = study.find_topic(topics, typed)
    if found is not None:
        return found, None
    if could_be:
        return None, _error(
            f"{verbatim(repr(typed.strip()))} could be {', '.join(could_be)}: type more of it."
        )
    return None, unknown_topic(topics, typed)


def no_leaderboard_here(who: LearnerRef) -> Reply | None:
    """The refusal of a leaderboard outside any server; None inside one."""
    if who.guild_id != DIRECT_MESSAGES:
        return None
    return _error("Leaderboards belong to a server; in direct messages, try /progress.")


class Tutor:
    def __init__(
        self,
        bank: Bank,
        store: Store,
        now: Callable[[], datetime] = _utcnow,
        *,
        rng: random.Random | None = None,
        shuffle: bool = True,
        study_default: study.Mode | None = None,
        practice: PracticeSource | None = None,
        practice_xp_rate: float = practice_mode.DEFAULT_XP_RATE,
    ) -> None:
        """``shuffle``: show each learner the choices in an order of their own, each time a
        question is asked (``rng`` draws it); off, in file order. ``study_default``: the study
        mode of a server whose moderators chose none (None: automatic). ``practice``: generated
        questions for /practice (None: no practice here), earning ``practice_xp_rate`` of the
        XP."""
        self.bank = bank
        self.store = store
        self.now = now
        self.rng = rng or random.Random()
        self.shuffle = shuffle
        # Where studying happens (Discord).
        self.study = StudyDesk(store.study, self._id, study_default, now)
        self.practice_source = practice
        self.practice_xp_rate = practice_xp_rate

    def question(self, question_id: str) -> Question | None:
        """A curriculum question, or a practice variant whose answer is known."""
        found = self.bank.get(question_id)
        if found is None and self.practice_source is not None and is_practice(question_id):
            found = self.practice_source.question(question_id)
        return found

    @property
    def practice_topics(self) -> tuple[str, ...]:
        return self.practice_source.topics if self.practice_source is not None else ()

    async def _id(self, who: LearnerRef) -> int:
        # The store keeps ids (and display names) of recent learners in memory: no query when
        # nothing changed, and a new display name is stored at once.
        return await self.store.learner_id(who)

    async def _open(
        self, learner: int, question_id: str | None
    ) -> tuple[OpenQuestion | None, Reply | None]:
        """The learner's open question, or the error to reply with: none open, or not the one
        ``question_id`` names (the question the learner saw, e.g. on an old message's button)."""
        current = await self.store.open_question(learner)
        if current is None:
            return None, _error(NO_OPEN_QUESTION)
        if question_id is not None and question_id != current.question_id:
            return None, _error(NOT_OPEN)
        return current, None

    async def quiz(
        self,
        who: LearnerRef,
        topic: str | None = None,
        difficulty: int | None = None,
        *,
        count: int | None = None,
        clear: bool = False,
    ) -> Reply:
        """Ask the next question (replacing any open one, which is not counted): due reviews
        first, then new questions from the weakest topic (see session.choose_next).

        ``topic`` (any case, or a unique prefix) and ``difficulty`` (1 to 3) become the
        learner's filters, kept for every next question (Next, Skip, Enter, /quiz alone) until
        changed or dropped (``clear``). ``count`` starts a set of that many questions."""
        topic, refused = find_topic(self.bank.topics, topic)
        if refused is not None:
            return refused
        if count is not None and not 1 <= count <= study.MAX_SET:
            return _error(f"A set has 1 to {study.MAX_SET} questions.")
        learner = await self._id(who)
        state = await self.store.study.state(learner)
        changed = replace(state, filters=state.filters.changed(topic, difficulty, clear=clear))
        if count is not None:
            changed = replace(changed, set=StudySet(count, self.now()))
        if changed != state:
            await self.store.study.save_state(learner, changed)
        current = await self.store.open_question(learner)
        avoid = {current.question_id} if current else set()
        return await self._ask_next(learner, changed, avoid)

    async def review(self, who: LearnerRef, topic: str | None = None) -> Reply:
        """Ask a question whose review is due, if any."""
        topic, refused = find_topic(self.bank.topics, topic)
        if refused is not None:
            return refused
        learner = await self._id(who)
        cards = await self.store.cards(learner)
        now = self.now()
        pick = session.choose_next(self.bank, cards, now, topic, due_only=True)
        if pick is None:
            upcoming = [c.due for qid, c in cards.items() if self.bank.get(qid)]
            later = f" The next one is due {session.when(min(upcoming), now)}." if upcoming else ""
            return Reply(
                text=f"Nothing to review right now.{later} Try /quiz for new questions.",
                kind=Kind.INFO,
                ephemeral=True,  # nothing anyone else needs to see
            )
        return await self._ask(learner, pick, now)

    async def _ask(self, learner: int, pick: session.Pick, now: datetime, note: str = "") -> Reply:
        """Open ``pick`` with its choices in a new order, and ask it, saying so if a hint for it
        is still on record."""
        order = session.shuffle(pick.question, self.rng) if self.shuffle else ()
        await self.store.set_open_question(
            learner, OpenQuestion(pick.question.id, now, order=order)
        )
        opened = await self.store.open_question(learner)
        hinted = opened is not None and opened.hinted
        return session.ask(pick, hinted=hinted, order=order, note=note)

    async def _ask_next(self, learner: int, state: StudyState, avoid: set[str]) -> Reply:
        """The next question within the learner's filters, showing them and the set's place."""
        reply = await self._pick_next(learner, state.filters, avoid)
        if reply.kind is not Kind.QUESTION:
            return reply
        answered = await self._answered_in(learner, state.set)
        lines = [study.question_line(state.filters, state.set, answered)]
        if state.set is not None and answered == 0:
            lines.append((await self._goal(learner, self.now())).line())
        extra = tuple(Text(line) for line in lines if line)
        return replace(reply, blocks=reply.blocks + extra) if extra else reply

    async def _answered_in(self, learner: int, study_set: StudySet | None) -> int:
        if study_set is None:
            return 0
        rows = await self.store.attempts(learner)
        return sum(1 for row in rows if row.answered_at >= study_set.started_at)

    async def _goal(self, learner: int, now: datetime) -> study.Goal:
        """Today's goal: the reviews due, and the new questions left under the daily limit."""
        cards = await self.store.cards(learner)
        due = sum(
            1
            for qid, card in cards.items()
            if card.due <= now and not review.is_parked(card, now) and self.bank.get(qid)
        )
        limit = (await self.store.learner_settings(learner)).daily_new_limit
        return study.Goal(due, await self._new_today(learner, now), limit)

    async def _pick_next(self, learner: int, filters: Filters, avoid: set[str]) -> Reply:
        topic, difficulty = filters.topic, filters.difficulty
        cards = await self.store.cards(learner)
        now = self.now()
        pick = session.choose_next(self.bank, cards, now, topic, avoid, difficulty=difficulty)
        note = ""
        if pick is not None and pick.reason is session.Reason.NEW:
            # Asked only when a new question would come next (the store keeps the day's count).
            limit = (await self.store.learner_settings(learner)).daily_new_limit
            if await self._new_today(learner, now) >= limit:
                pick = session.choose_next(
                    self.bank, cards, now, topic, avoid, difficulty=difficulty, new_allowed=False
                )
                note = (
                    f"📅 You have had your {limit} new questions for today "
                    "(/settings new to change it): this one is a repeat."
                )
                if pick is None:  # and none seen before can be asked (parked, or none yet)
                    return _error(
                        f"You have had your {limit} new questions for today, and none you have "
                        "seen can be asked now. Come back tomorrow, or allow more with "
                        "/settings new."
                    )
        if pick is None:
            parked = [
                c.parked_until
                for c in cards.values()
                if c.parked_until is not None and c.parked_until > now
            ]
            if parked:
                return _error(
                    "The questions left here are ones you keep missing, set aside until "
                    f"{min(parked):%Y-%m-%d %H:%M} UTC (see /progress). Try another topic."
                )
            what = "that topic" if difficulty is None else "that topic and difficulty"
            return _error(f"There are no questions for {what} yet.")
        return await self._ask(learner, pick, now, note)

    async def _new_today(self, learner: int, now: datetime) -> int:
        tz = streaks.zone((await self.store.learner_settings(learner)).timezone)
        midnight = datetime.combine(now.astimezone(tz).date(), time(), tzinfo=tz)
        return await self.store.new_questions_since(learner, midnight.astimezone(UTC))

    async def answer(
        self,
        who: LearnerRef,
        text: str,
        question_id: str | None = None,
        order: tuple[int, ...] | None = None,
    ) -> Reply:
        """Grade an answer to the open question; the attempt is committed before this returns.

        ``question_id`` is the question the learner saw (e.g. carried by a button); an answer to
        anything but the open question is refused, so an old message cannot be answered twice.
        ``order``: the order of the choices the number refers to, as that message showed them
        (a button carries it; empty: file order); None: as stored with the open question.
        """
        if len(text) > MAX_ANSWER_CHARS:
            return _error(f"That answer is too long (at most {MAX_ANSWER_CHARS} characters).")
        learner = await self._id(who)
        current, refusal = await self._open(learner, question_id)
        if current is None:
            return refusal or _error(NO_OPEN_QUESTION)
        question = self.question(current.question_id)
        if question is None:
            # The content changed since it was asked; nothing sensible to grade against.
            await self.store.set_open_question(learner, None)
            return _error("That question was removed from the course. Type /quiz for another.")
        shown = current.order if order is None else order
        if not session.valid_order(question, shown):
            await self.store.set_open_question(learner, None)
            return _error("That question changed since it was asked. Type /quiz for another.")
        try:
            result = session.grade(question, text, shown)
        except InvalidAnswer as exc:
            return _error(str(exc))
        if is_practice(question.id):
            return await self._answer_practice(learner, current, question, result)
        now = self.now()
        elapsed_s = max(0.0, (now - current.asked_at).total_seconds())
        fast_s = review.fast_threshold_s(question)
        retention = (await self.store.learner_settings(learner)).desired_retention
        hinted = current.hinted or current.revealed

        def decide(before: CardState | None) -> tuple[NewAttempt, CardState]:
            # Runs inside the store's transaction, so two answers cannot both read the same
            # card: the schedule and the XP always follow from the card as stored.
            xp = session.xp_for(question, result.correct, hinted, before, now)
            rating = review.rating_for(result.correct, hinted, elapsed_s, fast_s)
            attempt = _attempt(question, result, current, now, xp, review.is_retry(before, now))
            return attempt, review.review(before, question.id, rating, now, retention)

        recorded = await self.store.record_answer(learner, current, decide)
        if recorded is None:
            return _error("That question was already answered. Type /quiz for a new one.")
        attempt, card = recorded
        assert card is not None  # a curriculum question is always scheduled
        leech = review.became_leech(card)
        outcome = session.Outcome(
            result, hinted, current.revealed, attempt.retry, attempt.points, card, leech
        )
        example = session.related_example(self.bank, question) if leech else None
        reply = session.feedback(question, outcome, example)
        return await self._in_set(learner, reply, now)

    async def _in_set(self, learner: int, reply: Reply, now: datetime) -> Reply:
        """Feedback within a set: how far along, or (its last answer) the set's summary, which
        ends it."""
        state = await self.store.study.state(learner)
        if state.set is None:
            return reply
        rows = await self.store.attempts(learner)
        in_set = [row for row in rows if row.answered_at >= state.set.started_at]
        if len(in_set) < state.set.total:
            line = f"Set: {len(in_set)} of {state.set.total} answered."
            return replace(reply, blocks=(*reply.blocks, Text(line)))
        await self.store.study.save_state(learner, replace(state, set=None))
        tz = streaks.zone((await self.store.learner_settings(learner)).timezone)
        days = streaks.streak(
            streaks.local_days((row.answered_at for row in rows), tz), now.astimezone(tz).date()
        ).days
        cards = await self.store.cards(learner)
        dues = sorted(c.due for qid, c in cards.items() if qid in {r.question_id for r in in_set})
        text = study.summary(
            len(in_set),
            sum(row.correct for row in in_set),
            sum(row.points for row in in_set),
            days,
            [session.when(due, now) for due in dues],
            await self._goal(learner, now),
        )
        return replace(reply, blocks=(*reply.blocks, Text(text)))

    async def _revealing(self, learner: int, code: str) -> tuple[OpenQuestion, Question] | None:
        """The learner's open question, if ``code`` is its own code (whose output shows the
        answer)."""
        current = await self.store.open_question(learner)
        question = self.question(current.question_id) if current else None
        if current is None or question is None or not question.code:
            return None
        if not session.runs_question_code(code, question.code):
            return None
        return current, question

    async def reveal(self, who: LearnerRef, code: str) -> Reply | None:
        """Before running ``code`` for a learner: if it is their open question's own code, what
        to tell them before it runs (its output shows the answer); None for any other code.
        Nothing is recorded until the output is shown (``ran``)."""
        found = await self._revealing(await self._id(who), code)
        return session.reveal_note(found[1]) if found else None

    async def ran(self, who: LearnerRef, code: str) -> None:
        """After ``code`` ran and its output was shown to the learner: if it was their open
        question's own code, they have seen the answer, and a right answer now counts as
        hinted (through /skip, Next and restarts, until the question is answered). A run that
        was refused, or ended after the answer, shows nothing and counts for nothing."""
        learner = await self._id(who)
        found = await self._revealing(learner, code)
        if found and not found[0].revealed:
            opened = replace(found[0], hinted=True, revealed=True)
            await self.store.set_open_question(learner, opened)

    async def hint(self, who: LearnerRef, question_id: str | None = None) -> Reply:
        """A hint for the open question. ``question_id``, as for ``answer``, is the question the
        learner saw (e.g. a Hint button on an old message): any other is refused."""
        learner = await self._id(who)
        current, refusal = await self._open(learner, question_id)
        question = self.question(current.question_id) if current else None
        if current is None or question is None:
            return refusal or _error(NO_OPEN_QUESTION)
        if not current.hinted:
            # Kept with the question, not with this asking of it, until it is answered.
            await self.store.set_open_question(learner, replace(current, hinted=True))
        return session.hint(question, already=current.hinted)

    async def skip(
        self, who: LearnerRef, topic: str | None = None, question_id: str | None = None
    ) -> Reply:
        """Put the open question aside (nothing is recorded) and ask another, within the
        learner's filters (``topic`` replaces theirs). ``question_id`` guards against skipping
        a newer question from an old message, as for ``answer``."""
        topic, refused = find_topic(self.bank.topics, topic)
        if refused is not None:
            return refused
        learner = await self._id(who)
        current, refusal = await self._open(learner, question_id)
        if current is None:
            return refusal or _error(NO_OPEN_QUESTION)
        await self.store.set_open_question(learner, None)
        if is_practice(current.question_id):  # skipping practice gives more practice
            return await self._practice_next(learner, topic, {current.question_id})
        state = await self.store.study.state(learner)
        if topic is not None:  # as for /quiz: the topic asked for stays in force
            state = replace(state, filters=state.filters.changed(topic))
            await self.store.study.save_state(learner, state)
        return await self._ask_next(learner, state, {current.question_id})

    # --- practice (tutor/practice_mode.py has the rules) -------------------------------------

    async def practice(self, who: LearnerRef, topic: str | None = None) -> Reply:
        """``/practice [topic]``: a generated question whose answer was computed by running it
        (replacing any open question, which is not counted)."""
        if self.practice_source is None:
            return _error(NO_PRACTICE)
        if refused := unknown_topic(self.practice_topics, topic):
            return refused
        learner = await self._id(who)
        current = await self.store.open_question(learner)
        avoid = {current.question_id} if current else set()
        return await self._practice_next(learner, topic, avoid)

    async def _practiced(self, learner: int) -> set[str]:
        """The practice variants the learner has answered (and not had reset)."""
        rows = await self.store.attempts(learner)
        return {r.question_id for r in rows if is_practice(r.question_id)}

    async def _practice_next(self, learner: int, topic: str | None, avoid: set[str]) -> Reply:
        if self.practice_source is None:
            return _error(NO_PRACTICE)
        if topic is not None and topic not in self.practice_topics:
            topic = None  # e.g. /skip with a curriculum topic that has no templates
        answered = await self._practiced(learner)
        try:
            question = await self.practice_source.next(topic, answered, avoid, self.rng)
        except PracticeUnavailable as exc:
            return _error(str(exc))
        if question is None:
            return _error("There are no practice questions for that topic yet.")
        now = self.now()
        await self.store.set_open_question(learner, OpenQuestion(question.id, now))
        opened = await self.store.open_question(learner)
        hinted = opened is not None and opened.hinted
        repeat = question.id in answered
        return practice_mode.ask(question, self.practice_xp_rate, hinted=hinted, repeat=repeat)

    async def _answer_practice(
        self, learner: int, current: OpenQuestion, question: Question, result: session.Grade
    ) -> Reply:
        """Grade a practice variant: reduced XP, once per variant, and no review card."""
        now = self.now()
        hinted = current.hinted or current.revealed
        # One open question per learner, closed atomically by record_answer: no other answer to
        # this variant can be stored between this read and that write.
        before = question.id in await self._practiced(learner)
        xp = practice_mode.xp_for(question, result.correct, hinted, before, self.practice_xp_rate)

        def decide(_card: CardState | None) -> tuple[NewAttempt, CardState | None]:
            return _attempt(question, result, current, now, xp, retry=before), None

        recorded = await self.store.record_answer(learner, current, decide)
        if recorded is None:
            return _error("That question was already answered. Type /practice for another.")
        outcome = session.Outcome(
            result, hinted, current.revealed, before, xp, None, False, self.practice_xp_rate
        )
        return session.feedback(question, outcome)

    async def progress(self, who: LearnerRef, picture: bool = True) -> Reply:
        """Progress in words, with the chart as a PNG (``picture``) once there is something to
        draw."""
        learner = await self._id(who)
        rows = await self.store.attempts(learner)
        cards = await self.store.cards(learner)
        tz = streaks.zone(await self.store.timezone(learner))
        now = self.now()
        stats = progress.compute(rows, cards, self.bank, tz, now)
        reply = progress.progress_reply(who.display_name, stats)
        if picture and rows:
            # Drawing takes ~0.1 s of CPU: keep it off the event loop.
            name = who.display_name
            png = await asyncio.to_thread(chart.progress_png, name, stats, rows, tz, now)
            reply = replace(reply, image=png)
        return reply

    async def set_timezone(self, who: LearnerRef, name: str) -> Reply:
        """``/settings timezone NAME``: the zone in which days count for the daily streak."""
        try:
            tz = streaks.find_zone(name)
        except streaks.UnknownZone as exc:
            typed = name.strip()
            typed = typed if len(typed) <= 40 else typed[:39] + "…"
            maybe = f" Did you mean {', '.join(exc.suggestions)}?" if exc.suggestions else ""
            return _error(
                f"Unknown time zone {verbatim(repr(typed))}.{maybe} Use a name such as UTC, "
                "Europe/Paris or America/New_York."
            )
        await self.store.set_timezone(await self._id(who), tz.key)
        local = self.now().astimezone(tz)
        return Reply(
            text=f"Time zone set to {tz.key} (it is {local:%H:%M} there). "
            "Your daily streak counts days in this zone.",
            kind=Kind.INFO,
            ephemeral=True,
        )

    async def settings(self, who: LearnerRef) -> Reply:
        """``/settings`` alone: what the learner chose, and how to change it."""
        chosen = await self.store.learner_settings(await self._id(who))
        return Reply(
            text=f"Time zone: {chosen.timezone} (/settings timezone NAME)\n"
            f"Desired retention: {chosen.desired_retention:.0%} (/settings retention "
            f"{review.MIN_RETENTION:.0%}-{review.MAX_RETENTION:.0%}): the chance of still "
            "knowing an answer when its review falls due; higher means more reviews.\n"
            f"New questions a day: at most {chosen.daily_new_limit} (/settings new "
            f"0-{MAX_NEW_PER_DAY}).",
            kind=Kind.INFO,
            title="Your settings",
            ephemeral=True,
        )

    async def set_learning(
        self,
        who: LearnerRef,
        *,
        retention: str | None = None,
        new_per_day: str | None = None,
    ) -> Reply:
        """``/settings retention R`` (0.7 to 0.97, or 70% to 97%) and ``/settings new N`` (0 to
        ``MAX_NEW_PER_DAY``), as typed: refused with a message when out of range."""
        learner = await self._id(who)
        chosen = await self.store.learner_settings(learner)
        kept, limit = chosen.desired_retention, chosen.daily_new_limit
        if retention is not None:
            value = parse_retention(retention)
            if value is None:
                low, high = review.MIN_RETENTION, review.MAX_RETENTION
                return _error(
                    f"Desired retention goes from {low:.0%} to {high:.0%} "
                    f"(e.g. /settings retention 0.9 or 90%)."
                )
            kept = value
        if new_per_day is not None:
            number = grading.parse_number(new_per_day)
            if number is None or number > MAX_NEW_PER_DAY:
                return _error(f"New questions a day: a whole number from 0 to {MAX_NEW_PER_DAY}.")
            limit = number
        await self.store.save_learning_settings(learner, kept, limit)
        return replace(await self.settings(who), title="Settings saved")

    async def leaderboard(
        self,
        who: LearnerRef,
        window: Window = Window.ALL,
        page: int = 1,
        topic: str | None = None,
    ) -> Reply:
        if refused := no_leaderboard_here(who) or unknown_topic(self.bank.topics, topic):
            return refused
        if page > MAX_PAGE:
            return _error(f"Pages go from 1 to {MAX_PAGE:,}.")
        page = max(1, page)
        # One row more than a page: whether another page follows, without counting them all.
        since = window.since(self.now())
        rows = await self.store.leaderboard(
            who.platform,
            who.guild_id,
            since,
            LEADERBOARD_PAGE_SIZE + 1,
            (page - 1) * LEADERBOARD_PAGE_SIZE,
            topic,
        )
        mine = await self.store.standing(who.platform, who.guild_id, since, topic, who.user_id)
        label = {Window.WEEK: "this week", Window.MONTH: "this month", Window.ALL: "all time"}
        about = f" · {topic}" if topic else ""
        return progress.leaderboard_reply(
            rows[:LEADERBOARD_PAGE_SIZE],
            f"Leaderboard{about} · {label[window]}",
            Page(page, has_more=len(rows) > LEADERBOARD_PAGE_SIZE),
            mine,
            LEADERBOARD_PAGE_SIZE,
            who.user_id,
        )
