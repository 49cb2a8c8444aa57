"""What the tutor says, as data. Each frontend (terminal, Discord) decides how to render it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    QUESTION = "question"
    FEEDBACK = "feedback"
    HINT = "hint"
    INFO = "info"
    ERROR = "error"  # the learner's input could not be used; nothing was recorded
    PROGRESS = "progress"
    LEADERBOARD = "leaderboard"


class Action(StrEnum):
    """Follow-ups a frontend may offer as buttons or mention as commands."""

    NEXT = "next"
    HINT = "hint"
    SKIP = "skip"
    RUN = "run"


@dataclass(frozen=True)
class Attachment:
    name: str
    data: bytes


@dataclass(frozen=True)
class Reply:
    text: str
    kind: Kind = Kind.INFO
    title: str | None = None
    code: str | None = None
    choices: tuple[str, ...] = ()
    ephemeral: bool = False  # only the learner should see it (Discord: an ephemeral message)
    image: bytes | None = None  # a PNG, e.g. the progress chart
    attachment: Attachment | None = None  # a file to send along, e.g. a CSV export
    question_id: str | None = None
    correct: bool | None = None  # for feedback: was the answer right
    actions: tuple[Action, ...] = ()
