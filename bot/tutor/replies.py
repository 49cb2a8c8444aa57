"""What the tutor says, as data. Each frontend (terminal, Discord) decides how to render it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# Around text that came from a person, inside a Reply's text or title (see ``verbatim``). Private
# use characters: they mean nothing anywhere else, and ``verbatim`` removes them from its input.
_OPEN, _CLOSE = "\ue000", "\ue001"

Span = tuple[int, int]  # [start, end) of a string


def verbatim(text: str) -> str:
    """``text``, which came from a person (a display name, a reason, something they typed),
    marked to be shown exactly as it is: a frontend that reads markup (Discord's markdown) must
    not read it there. Put it in a Reply's text or title; the Reply takes the marks out and
    keeps where they were (``Reply.verbatim``), so ``text`` stays plain for every frontend."""
    return _OPEN + text.replace(_OPEN, "").replace(_CLOSE, "") + _CLOSE


def _unmark(marked: str) -> tuple[str, tuple[Span, ...]]:
    """The text without marks, and the spans that were marked (an open mark with no close runs
    to the end: safe, since it only means that more is shown as it is)."""
    out: list[str] = []
    spans: list[Span] = []
    start: int | None = None
    for ch in marked:
        if ch == _OPEN:
            start = len(out) if start is None else start
        elif ch == _CLOSE:
            if start is not None and len(out) > start:
                spans.append((start, len(out)))
            start = None
        else:
            out.append(ch)
    if start is not None and len(out) > start:
        spans.append((start, len(out)))
    return "".join(out), tuple(spans)


def split(text: str, spans: tuple[Span, ...]) -> list[tuple[str, bool]]:
    """``text`` as (piece, came from a person) pieces, in order, by a Reply's spans."""
    pieces: list[tuple[str, bool]] = []
    at = 0
    for start, end in spans:
        if start > at:
            pieces.append((text[at:start], False))
        pieces.append((text[start:end], True))
        at = end
    if at < len(text):
        pieces.append((text[at:], False))
    return pieces


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
    # Where ``text`` and ``title`` hold text from a person (marked with ``verbatim``, filled in
    # by the Reply itself). Everything else in them was written by us or the course's authors.
    verbatim: tuple[Span, ...] = ()
    title_verbatim: tuple[Span, ...] = ()

    def __post_init__(self) -> None:
        # Frozen: set through object.__setattr__, once, while the Reply is being built.
        if _OPEN in self.text or _CLOSE in self.text:
            text, spans = _unmark(self.text)
            object.__setattr__(self, "text", text)
            object.__setattr__(self, "verbatim", spans)
        if self.title is not None and (_OPEN in self.title or _CLOSE in self.title):
            title, spans = _unmark(self.title)
            object.__setattr__(self, "title", title)
            object.__setattr__(self, "title_verbatim", spans)
