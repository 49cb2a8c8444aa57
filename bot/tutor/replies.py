"""What the tutor says, as data. Each frontend (terminal, Discord) decides how to render it.

A Reply is not layout: its text is prose, and whatever has a shape (a table, bars, the command
list, a page of a longer list) is a structure the frontend lays out its own way. The terminal
aligns columns; Discord writes lines, code blocks and buttons. So a change of wording here never
changes how a frontend reads a reply (no frontend parses the text).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

# Around text that came from a person, inside a Reply's text or title (see ``verbatim``). Private
# use characters: they mean nothing anywhere else, and ``verbatim`` removes them from its input.
_OPEN, _CLOSE = "\ue000", "\ue001"

Span = tuple[int, int]  # [start, end) of a string


def verbatim(text: str) -> str:
    """``text``, which came from a person (a display name, a reason, something they typed),
    marked to be shown exactly as it is: a frontend that reads markup (Discord's markdown) must
    not read it there. Put it in a Reply's text or title, or in a table cell; they take the marks
    out and keep where they were (``Text.spans``), so the text stays plain for every frontend."""
    return _OPEN + text.replace(_OPEN, "").replace(_CLOSE, "") + _CLOSE


def counted(number: int, noun: str, plural: str | None = None) -> str:
    """``number`` and ``noun`` as a person says them: "1 answer", "2 answers", "0 answers"
    (``plural`` for nouns that do not just take an "s")."""
    return f"{number:,} {noun if number == 1 else plural or noun + 's'}"


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


@dataclass(frozen=True)
class Text:
    """A string, and which parts of it came from people (``spans``)."""

    plain: str
    spans: tuple[Span, ...] = ()

    @classmethod
    def of(cls, marked: str) -> Text:
        """From a string that may hold ``verbatim`` marks."""
        return cls(*_unmark(marked))

    def pieces(self) -> list[tuple[str, bool]]:
        return split(self.plain, self.spans)

    def __add__(self, other: Text) -> Text:
        shift = len(self.plain)
        moved = tuple((start + shift, end + shift) for start, end in other.spans)
        return Text(self.plain + other.plain, self.spans + moved)

    def __str__(self) -> str:
        return self.plain


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


class Align(StrEnum):
    LEFT = "left"
    RIGHT = "right"  # numbers, so that their digits line up


@dataclass(frozen=True)
class Column:
    align: Align = Align.LEFT
    # Written between this column's cell and the next one's (the last column's is not used).
    after: str = " · "


@dataclass(frozen=True, init=False)
class Table:
    """Rows of cells under columns. Cells are worded ("10 XP"): the columns say only how they
    line up, so a frontend may align them (a terminal) or write each row as a line (Discord)."""

    columns: tuple[Column, ...]
    rows: tuple[tuple[Text, ...], ...]
    caption: str | None
    # Per row, the platform id of the person the row is about (empty: none), whose name is in
    # column ``person_column``: a frontend that can (Discord) shows the person there instead.
    people: tuple[str, ...]
    person_column: int

    def __init__(
        self,
        columns: Sequence[Column],
        rows: Iterable[Sequence[str]],
        caption: str | None = None,
        people: Sequence[str] = (),
        person_column: int = 0,
    ) -> None:
        cells = tuple(tuple(Text.of(cell) for cell in row) for row in rows)
        if not columns or any(len(row) != len(columns) for row in cells):
            raise ValueError("every row needs one cell per column")
        if people and len(people) != len(cells):
            raise ValueError("people: one id per row")
        object.__setattr__(self, "columns", tuple(columns))
        object.__setattr__(self, "rows", cells)
        object.__setattr__(self, "caption", caption)
        object.__setattr__(self, "people", tuple(people))
        object.__setattr__(self, "person_column", person_column)

    def lines(self, person: Callable[[str], str] | None = None) -> tuple[Text, ...]:
        """Each row as one line: its cells joined by their columns' separators, unpadded.
        ``person``: how to show the person of a row (from their id) in place of their name."""
        out = []
        for i, row in enumerate(self.rows):
            cells = list(row)
            if person is not None and i < len(self.people) and self.people[i]:
                cells[self.person_column] = Text(person(self.people[i]))
            line = cells[0]
            for before, cell in zip(self.columns, cells[1:], strict=False):
                line = line + Text(before.after) + cell
            out.append(line)
        return tuple(out)


@dataclass(frozen=True)
class Bar:
    label: str  # the course's own text (a topic)
    done: int
    total: int

    def drawn(self, width: int = 10) -> str:
        filled = round(width * self.done / self.total) if self.total else 0
        return "█" * filled + "░" * (width - filled)


@dataclass(frozen=True)
class Bars:
    bars: tuple[Bar, ...]
    caption: str | None = None

    def lines(self) -> tuple[str, ...]:
        """One aligned line per bar, for a fixed-width font: ``label ███░░ done/total``."""
        width = max((len(b.label) for b in self.bars), default=0)
        return tuple(f"{b.label:<{width}} {b.drawn()} {b.done}/{b.total}" for b in self.bars)


@dataclass(frozen=True)
class Command:
    name: str
    args: str
    summary: str

    @property
    def usage(self) -> str:
        return f"/{self.name} {self.args}".strip()


@dataclass(frozen=True)
class Commands:
    """A list of commands, e.g. /help's."""

    commands: tuple[Command, ...]
    caption: str | None = None


# What a Reply may carry besides its text, shown after it, in order (``Text``: a paragraph).
Block = Table | Bars | Commands | Text


@dataclass(frozen=True)
class Page:
    """One page of a longer list: which, and whether another follows. Frontends build their
    navigation (buttons, a hint) from this alone."""

    number: int  # from 1
    has_more: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1


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
    # For a question: the file's index of each choice shown, in order (empty: file order);
    # buttons carry it, so a click is graded against the order it was shown in.
    order: tuple[int, ...] = ()
    run_id: str | None = None  # whose code Action.RUN runs (a question id)
    actions: tuple[Action, ...] = ()
    blocks: tuple[Block, ...] = ()  # tables, bars, command lists, paragraphs: after the text
    page: Page | None = None  # set when the reply is one page of a longer list
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

    @property
    def body(self) -> Text:
        return Text(self.text, self.verbatim)

    @property
    def heading(self) -> Text | None:
        return None if self.title is None else Text(self.title, self.title_verbatim)

    @property
    def empty(self) -> bool:
        """Nothing to show (e.g. the echo of a line typed into a multi-line /run)."""
        return not (self.text or self.blocks or self.code or self.choices)
