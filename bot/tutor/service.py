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

from bot.tutor import chart, grading, progress, review, session, streaks
from bot.tutor.content import Bank, Question
from bot.tutor.progress import AttemptRow, LeaderRow, Standing
from bot.tutor.replies import Kind, Page, Reply, verbatim
from bot.tutor.review import CardState
from bot.tutor.session import InvalidAnswer, OpenQuestion

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
Decide = Callable[["CardState | None"], "tuple[NewAttempt, CardState]"]


class Window(StrEnum):
    WEEK = "week"
    MONTH = "month"
    ALL = "all"

    def since(self, now: datetime) -> datetime | None:
        days = {Window.WEEK: 7, Window.MONTH: 30}.get(self)
        return now - timedelta(days=days) if days else None


class Store(Protocol):
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
    ) -> tuple[NewAttempt, CardState] | None:
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


def _error(text: str) -> Reply:
    return Reply(text=text, kind=Kind.ERROR, ephemeral=True)


NO_OPEN_QUESTION = "No question is open. Type /quiz to get one."
NOT_OPEN = "That question is no longer open. Type /quiz for a new one."


# Checks a frontend may need before it acknowledges a command (Discord answers them privately
# at once, before deferring): pure, so that the frontend and the core apply one rule, with one
# message.


def unknown_topic(topics: Sequence[str], topic: str | None) -> Reply | None:
    """The refusal of a topic the course does not have; None for no topic or a known one."""
    if topic is None or topic in topics:
        return None
    return _error(f"Unknown topic {verbatim(repr(topic))}. Topics: {', '.join(topics)}")


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
    ) -> None:
        """``shuffle``: show each learner the choices in an order of their own, each time a
        question is asked (``rng`` draws it); off, in file order."""
        self.bank = bank
        self.store = store
        self.now = now
        self.rng = rng or random.Random()
        self.shuffle = shuffle

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
        self, who: LearnerRef, topic: str | None = None, difficulty: int | None = None
    ) -> Reply:
        """Ask the next question (replacing any open one, which is not counted): due reviews
        first, then new questions from the weakest topic (see session.choose_next).
        ``difficulty`` (1 to 3) restricts the choice to questions of that difficulty."""
        if refused := unknown_topic(self.bank.topics, topic):
            return refused
        learner = await self._id(who)
        current = await self.store.open_question(learner)
        avoid = {current.question_id} if current else set()
        return await self._ask_next(learner, topic, avoid, difficulty)

    async def review(self, who: LearnerRef, topic: str | None = None) -> Reply:
        """Ask a question whose review is due, if any."""
        if refused := unknown_topic(self.bank.topics, topic):
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

    async def _ask_next(
        self, learner: int, topic: str | None, avoid: set[str], difficulty: int | None = None
    ) -> Reply:
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
        question = self.bank.get(current.question_id)
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
            attempt = NewAttempt(
                question.id,
                question.topic,
                result.answer,
                result.correct,
                hinted,
                xp,
                int(elapsed_s * 1000),
                now,
                revealed=current.revealed,
                retry=review.is_retry(before, now),
            )
            return attempt, review.review(before, question.id, rating, now, retention)

        recorded = await self.store.record_answer(learner, current, decide)
        if recorded is None:
            return _error("That question was already answered. Type /quiz for a new one.")
        attempt, card = recorded
        leech = review.became_leech(card)
        outcome = session.Outcome(
            result, hinted, current.revealed, attempt.retry, attempt.points, card, leech
        )
        example = session.related_example(self.bank, question) if leech else None
        return session.feedback(question, outcome, example)

    async def _revealing(self, learner: int, code: str) -> tuple[OpenQuestion, Question] | None:
        """The learner's open question, if ``code`` is its own code (whose output shows the
        answer)."""
        current = await self.store.open_question(learner)
        question = self.bank.get(current.question_id) if current else None
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
        question = self.bank.get(current.question_id) if current else None
        if current is None or question is None:
            return refusal or _error(NO_OPEN_QUESTION)
        if not current.hinted:
            # Kept with the question, not with this asking of it, until it is answered.
            await self.store.set_open_question(learner, replace(current, hinted=True))
        return session.hint(question, already=current.hinted)

    async def skip(
        self, who: LearnerRef, topic: str | None = None, question_id: str | None = None
    ) -> Reply:
        """Put the open question aside (nothing is recorded) and ask another. ``question_id``
        guards against skipping a newer question from an old message, as for ``answer``."""
        learner = await self._id(who)
        current, refusal = await self._open(learner, question_id)
        if current is None:
            return refusal or _error(NO_OPEN_QUESTION)
        await self.store.set_open_question(learner, None)
        return await self._ask_next(learner, topic, {current.question_id})

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
