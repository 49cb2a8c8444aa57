"""Where and how a learner studies: the pure rules both frontends share.

- **Modes** (Discord): a study thread of the learner's own, ephemeral messages only they see, or
  plain messages in the channel. A server chooses its default and where studying happens; a
  learner may choose within what the server allows (``place``).
- **Filters**: the topic and difficulty a learner asked for stay in force (Next, Skip, Enter)
  until changed or cleared, and each question says which are on (``Filters.label``).
- **Sets**: ``/quiz count:10`` gives a session a shape: "question 3 of 10", a daily goal, and a
  summary at the end (``set_line``, ``daily_goal``, ``summary``).

Nothing here does I/O; the tutor service reads and stores the state, the frontends show it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from bot.tutor.moderator import Actor

DIFFICULTY_NAMES = {1: "easy", 2: "medium", 3: "hard"}
MAX_SET = 50  # questions in one set (/quiz count)


class Mode(StrEnum):
    THREAD = "thread"  # a study thread per learner and channel (private where allowed)
    EPHEMERAL = "ephemeral"  # messages only the learner sees
    CHANNEL = "channel"  # plain messages in the channel, feedback addressed to the learner


PRIVATE_MODES = frozenset({Mode.THREAD, Mode.EPHEMERAL})


@dataclass(frozen=True)
class ServerStudy:
    """A server's choices (``/mod settings study``). ``default`` None: a study thread where the
    bot may create threads, ephemeral messages otherwise."""

    default: Mode | None = None
    learners_choose: bool = True
    channels: tuple[str, ...] = ()  # where studying happens; empty: any channel

    def describe(self) -> str:
        default = self.default or "automatic (a study thread where I may create one, else private)"
        where = ", ".join(f"<#{c}>" for c in self.channels) or "any channel"
        choose = (
            "learners may choose a private mode with /settings study"
            if self.learners_choose
            else "learners may not choose their own mode"
        )
        return f"Study mode: {default}\nStudy channels: {where}\n{choose.capitalize()}."


# --- A server's settings in the moderator log -----------------------------------------------------
# A change of the study settings is a moderator action (/mod log, /mod undo): its log row keeps
# the settings before and after, as JSON, with each channel's name as it was then (the terminal
# and the web dashboard cannot look a Discord channel up, and a deleted one has no name left).

Names = Mapping[str, str]  # channel id -> its name


class SettingsRefused(Exception):
    """A change that cannot be made (too many study channels). Safe to show."""


def settings_json(server: ServerStudy, names: Names) -> dict[str, object]:
    return {
        "mode": server.default.value if server.default else None,
        "learners_choose": server.learners_choose,
        "channels": [[c, names.get(c, "")] for c in server.channels],
    }


def settings_of(saved: Mapping[str, Any]) -> ServerStudy:
    mode = saved.get("mode")
    return ServerStudy(
        Mode(mode) if mode in set(Mode) else None,
        bool(saved.get("learners_choose", True)),
        tuple(str(c) for c, _ in saved.get("channels", [])),
    )


def change_text(before: Mapping[str, Any], after: Mapping[str, Any]) -> str:
    """What a change did, for the log: "study mode: thread -> ephemeral; study channels: #a,
    #b -> #a" (only what changed; plain text: the frontend escapes it as a whole)."""

    def mode(saved: Mapping[str, Any]) -> str:
        return str(saved.get("mode") or "automatic")

    def choose(saved: Mapping[str, Any]) -> str:
        return "yes" if saved.get("learners_choose", True) else "no"

    def channels(saved: Mapping[str, Any]) -> str:
        shown = [f"#{name or channel}" for channel, name in saved.get("channels", [])]
        return ", ".join(shown) or "any channel"

    parts = [
        f"{label}: {old} -> {new}"
        for label, show in (
            ("study mode", mode),
            ("learners choose", choose),
            ("study channels", channels),
        )
        if (old := show(before)) != (new := show(after))
    ]
    return "; ".join(parts) or "no change"


@dataclass(frozen=True)
class Room:
    """Where a command came from, as the frontend sees it."""

    channel_id: str
    parent_id: str | None = None  # the channel a thread belongs to (None: not a thread)
    private_threads: bool = False  # the bot may create a private thread here
    public_threads: bool = False  # ... or a public one

    @property
    def in_thread(self) -> bool:
        return self.parent_id is not None


def study_default(name: str) -> Mode | None:
    """The bot-wide default mode from its settings ("auto": None)."""
    return None if name == "auto" else Mode(name)


def outside_study_channels(server: ServerStudy, room: Room) -> str | None:
    """The refusal when this server studies elsewhere; None where studying may happen (a
    thread counts as its channel)."""
    if not server.channels:
        return None
    if (room.parent_id or room.channel_id) in server.channels:
        return None
    where = ", ".join(f"<#{c}>" for c in server.channels)
    return f"On this server, studying happens in {where}. Try /quiz there."


def allowed_modes(server: ServerStudy) -> frozenset[Mode]:
    """What a learner may choose: the private modes (if the server lets learners choose), and
    the channel mode only on a server whose default it is (a learner cannot flood a channel
    the server keeps quiet)."""
    if not server.learners_choose:
        return frozenset()
    return PRIVATE_MODES | ({Mode.CHANNEL} if server.default is Mode.CHANNEL else set())


def choice_refusal(server: ServerStudy, wanted: Mode | None) -> str | None:
    """Why a learner may not choose ``wanted`` here (None: back to the server's default, or
    allowed)."""
    if wanted is None or wanted in allowed_modes(server):
        return None
    if not server.learners_choose:
        return "On this server the moderators choose how studying happens."
    return "This server keeps its channels quiet: choose thread or ephemeral."


def place(server: ServerStudy, chosen: Mode | None, room: Room) -> Mode:
    """The mode a question is asked in. The learner's choice if the server allows it, else
    the server's default, else automatic; a thread where none can be made becomes ephemeral,
    and inside a thread the question stays there (CHANNEL: the thread is already a place)."""
    mode = chosen if chosen in allowed_modes(server) else server.default
    can_thread = room.private_threads or room.public_threads
    if mode is None:
        mode = Mode.THREAD if can_thread or room.in_thread else Mode.EPHEMERAL
    if mode is Mode.THREAD:
        if room.in_thread:
            return Mode.CHANNEL
        if not can_thread:
            return Mode.EPHEMERAL
    return mode


def thread_name(display_name: str) -> str:
    """A study thread's name (Discord allows 100 characters; names show no markdown, and
    invisible or control characters are left out)."""
    shown = "".join(ch for ch in display_name if ch.isprintable())
    name = " ".join(shown.split())[:60] or "learner"
    return f"📚 {name}'s study"


# --- Filters ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    topic: str | None = None
    difficulty: int | None = None  # 1 to 3

    def label(self) -> str:
        """As each question shows them: "fine-tuning · hard" (empty: no filter)."""
        parts = [self.topic] if self.topic else []
        if self.difficulty is not None:
            parts.append(DIFFICULTY_NAMES[self.difficulty])
        return " · ".join(parts)

    def changed(
        self, topic: str | None = None, difficulty: int | None = None, *, clear: bool = False
    ) -> Filters:
        """The filters after a /quiz: what it names, if it names a topic or a difficulty
        ("/quiz topic:shapes" after "/quiz difficulty:hard" asks any shapes question); the same
        ones if it names neither; none with ``clear``."""
        if topic is not None or difficulty is not None:
            return Filters(topic, difficulty)
        return Filters() if clear else self


def find_topic(topics: Sequence[str], typed: str) -> tuple[str | None, tuple[str, ...]]:
    """The topic ``typed`` means: an exact name in any case, else the one topic it begins (or,
    failing that, contains). Returns (topic, ()) when found, (None, candidates) when not: the
    topics it could mean (several) or none."""
    wanted = typed.strip().lower()
    exact = [t for t in topics if t.lower() == wanted]
    if exact:
        return exact[0], ()
    for matches in (
        [t for t in topics if t.lower().startswith(wanted)],
        [t for t in topics if wanted in t.lower()],
    ):
        if len(matches) == 1:
            return matches[0], ()
        if matches:
            return None, tuple(matches)
    return None, ()


def difficulty_of(typed: str) -> int | None:
    """``easy``/``medium``/``hard`` (any case, or a unique prefix) as 1 to 3."""
    wanted = typed.strip().lower()
    found = [n for n, name in DIFFICULTY_NAMES.items() if wanted and name.startswith(wanted)]
    return found[0] if len(found) == 1 else None


@dataclass(frozen=True)
class QuizRequest:
    """What a typed ``/quiz`` asks for (the terminal; Discord has options for each)."""

    topic: str | None = None
    difficulty: int | None = None
    count: int | None = None
    clear: bool = False


def quiz_request(words: Sequence[str]) -> QuizRequest:
    """``/quiz [topic] [easy|medium|hard] [N] [clear]``, in any order: a level's whole name, a
    number (a set of N questions) and ``clear`` are those; the other words name the topic."""
    level = count = None
    clear = False
    rest = []
    for word in words:
        lowered = word.lower()
        if lowered in DIFFICULTY_NAMES.values():
            level = difficulty_of(lowered)
        elif word.isdigit():
            count = int(word)
        elif lowered == "clear":
            clear = True
        else:
            rest.append(word)
    return QuizRequest(" ".join(rest) or None, level, count, clear)


# --- Sets and the day's goal -------------------------------------------------------------------


@dataclass(frozen=True)
class StudySet:
    """A set of questions a learner asked for (/quiz count:10), from ``started_at`` on."""

    total: int
    started_at: datetime


@dataclass(frozen=True)
class StudyState:
    """What the store keeps per learner between commands."""

    mode: Mode | None = None  # their own choice (None: the server's)
    filters: Filters = field(default_factory=Filters)
    set: StudySet | None = None


def question_line(filters: Filters, study_set: StudySet | None, answered: int) -> str:
    """The line under each question: its filters and its place in a set, e.g.
    "fine-tuning · hard · question 3 of 10" (empty: neither)."""
    parts = [filters.label()] if filters.label() else []
    if study_set is not None:
        parts.append(f"question {min(answered + 1, study_set.total)} of {study_set.total}")
    if not parts:
        return ""
    undo = " (/quiz clear to ask from every topic and level)" if filters.label() else ""
    return "🎯 " + " · ".join(parts) + undo


@dataclass(frozen=True)
class Goal:
    reviews_due: int
    new_today: int
    new_limit: int

    def line(self) -> str:
        left = max(0, self.new_limit - self.new_today)
        reviews = f"{self.reviews_due} review{'s' * (self.reviews_due != 1)} due"
        return f"📅 Today: {reviews} · {left} of {self.new_limit} new questions left"


def comes_back(dues: Iterable[str]) -> str:
    """"2 in 10 minutes, 1 in 3 days" from each answered question's ``when`` (soonest first,
    in the order given)."""
    counted = Counter(dues)
    return ", ".join(f"{n} {when}" for when, n in counted.items())


def summary(
    total: int, right: int, xp: int, streak_days: int, dues: Sequence[str], goal: Goal
) -> str:
    """The end of a set, in a few lines."""
    lines = [
        f"🏁 Set done: {right} of {total} right, +{xp} XP.",
        f"🔥 Streak: {streak_days} day{'s' * (streak_days != 1)}.",
    ]
    if dues:
        lines.append(f"🔁 Coming back: {comes_back(dues)}.")
    lines.append(goal.line())
    return "\n".join(lines)


class StudyStore(Protocol):
    """What the tutor keeps about studying (``store.study``)."""

    async def server(self, platform: str, guild_id: str) -> ServerStudy: ...

    async def save_server(self, platform: str, guild_id: str, server: ServerStudy) -> None: ...

    async def change_server(
        self,
        actor: Actor,
        change: Callable[[ServerStudy], ServerStudy],
        names: Names,
        reason: str,
        now: datetime,
    ) -> tuple[ServerStudy, int | None]:
        """A moderator's change: ``change`` (which may raise SettingsRefused) applied to the
        actor's server's settings as they are in the transaction that saves the result and logs
        it (ActionKind.STUDY, before and after). Returns the new settings and the action's id
        (None: nothing changed, nothing logged)."""
        ...

    async def state(self, learner_id: int) -> StudyState: ...

    async def save_state(self, learner_id: int, state: StudyState) -> None: ...

    async def last_question(self, learner_id: int) -> tuple[str, str] | None:
        """(channel id, message id) of the learner's last public question."""
        ...

    async def save_last_question(self, learner_id: int, where: tuple[str, str] | None) -> None: ...

    async def thread(self, learner_id: int, channel_id: str) -> str | None: ...

    async def save_thread(
        self, learner_id: int, channel_id: str, thread_id: str | None
    ) -> None: ...
