"""Bounded, positioned YAML reading for content authors (question banks, the runner's rules).

PyYAML (libyaml's ``CSafeLoader`` where the wheel has it) produces the events; this module builds
plain Python values from them itself, so that it can refuse what content never needs and what
makes a loader hostile: anchors and aliases (the "billion laughs" bomb), explicit tags, nesting
beyond ``MAX_DEPTH``, more than ``MAX_NODES`` values, scalars over ``MAX_SCALAR_CHARS``, integers
too long for ``int()``, control and bidi characters, duplicate keys and YAML 1.1's yes/no/on/off.
Each becomes a ``Problem`` at ``path:line:column``; nothing escapes as a traceback, and the work
is bounded by the file's size, which the reader bounds too.

Scalars are resolved as YAML 1.2's core schema (what the files were written for): unquoted text
stays text, except ``true``/``false``, ``null``/``~``/empty and numbers. Keys are always text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic_core import ErrorDetails

# libyaml parses ~10x faster than the pure-Python parser; both give the same events and marks.
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

MAX_FILE_BYTES = 1024 * 1024  # the biggest shipped file is ~27 KB
MAX_TOTAL_BYTES = 16 * 1024 * 1024
MAX_FILES = 200
MAX_DEPTH = 20  # a question file nests 6 deep
MAX_NODES = 50_000  # per file; a shipped file has ~700
MAX_SCALAR_CHARS = 10_000  # the longest shipped text is ~830 characters
MAX_INT_DIGITS = 30  # int() refuses more than 4,300 digits; no count here needs more than 12

NodePath = tuple[str | int, ...]


@dataclass(frozen=True)
class Location:
    path: str
    line: int  # 1-based
    column: int  # 1-based

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Problem:
    location: Location
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


class ContentError(Exception):
    """The content is invalid; ``problems`` lists every problem found."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__(self.report())

    def report(self) -> str:
        return "\n".join(str(p) for p in self.problems)


# C0 controls but tab and newline, DEL, C1 controls, bidi embeddings/overrides/isolates (they
# reorder what a reader sees: "Trojan Source") and lone surrogates (they cannot be encoded).
# A carriage return is allowed in the file (CRLF line ends) but not in a value; the file must not
# hold the noncharacters U+FFFE/U+FFFF either (YAML readers refuse them, less clearly).
_FORBIDDEN_IN_VALUE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
_FORBIDDEN_IN_FILE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff]"
)
_MAX_CHARACTER_PROBLEMS = 10

_NULL = frozenset({"", "~", "null", "Null", "NULL"})
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
# YAML 1.1 (and so PyYAML's own loader) reads these as booleans, YAML 1.2 as text: an author
# cannot know which one they get, so they must say.
_AMBIGUOUS = re.compile(r"[yYnN]|[Yy]es|YES|[Nn]o|NO|[Oo]n|ON|[Oo]ff|OFF")
_INT = re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+")
_FLOAT = re.compile(
    r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)"
)


def _character_name(char: str) -> str:
    if "\u202a" <= char <= "\u2069":
        return f"the invisible text-direction control U+{ord(char):04X}"
    if char >= "\ud800":
        return f"the non-character U+{ord(char):04X}"
    return f"the control character U+{ord(char):04X}"


@dataclass
class Document:
    """One YAML file as plain values, with the position of every key and list item."""

    path: str
    data: Any = None
    empty: bool = True
    problems: list[Problem] = field(default_factory=list)
    # (key, index, ...) -> 0-based (line, column) of that key, or of that list item
    positions: dict[NodePath, tuple[int, int]] = field(default_factory=dict)
    # Paths of values the reader reported; schema errors about them would only repeat it.
    reported: list[NodePath] = field(default_factory=list)

    def location(self, loc: Iterable[str | int]) -> Location:
        """Where the deepest existing node along ``loc`` is (the file's start if none is)."""
        line, col = self.positions.get((), (0, 0))
        prefix: NodePath = ()
        for part in loc:
            prefix = (*prefix, part)
            if prefix not in self.positions:
                break
            line, col = self.positions[prefix]
        return Location(self.path, line + 1, col + 1)

    def problems_of(self, errors: Iterable[ErrorDetails], prefix: NodePath = ()) -> list[Problem]:
        """pydantic's errors for the value at ``prefix``, each at its position in the file."""
        found = []
        for err in errors:
            loc = (*prefix, *err["loc"])
            # An error at or around a value the reader reported is its consequence: a question
            # with `correct: No` also "has no correct choice".
            if any(loc[: len(seen)] == seen or seen[: len(loc)] == loc for seen in self.reported):
                continue
            found.append(Problem(self.location(loc), validation_message(err)))
        return found


def validation_message(error: Mapping[str, Any]) -> str:
    loc = list(error["loc"])
    kind = error["type"]
    where = ".".join(str(p) for p in loc if not isinstance(p, int))
    if kind == "extra_forbidden":
        return f"unknown key {str(loc[-1])!r}"
    if kind == "missing":
        return f"missing required field {str(loc[-1])!r}"
    msg = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}: {msg}" if where and not msg.startswith(where) else msg


class _Refused(Exception):
    """Stop reading this file: what follows cannot be read safely."""

    def __init__(self, mark: Any, message: str) -> None:
        super().__init__(message)
        self.mark = mark
        self.message = message


class _Builder:
    """Events -> plain values, refusing what content does not need (see the module docstring)."""

    def __init__(self, loader: Any, doc: Document) -> None:
        self.loader = loader
        self.doc = doc
        self.nodes = 0

    def problem(self, mark: Any, message: str, path: NodePath | None) -> None:
        self.doc.problems.append(
            Problem(Location(self.doc.path, mark.line + 1, mark.column + 1), message)
        )
        if path is not None:
            self.doc.reported.append(path)

    def next_event(self) -> Any:
        event = self.loader.get_event()
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _Refused(event.start_mark, f"more than {MAX_NODES} values in one file")
        what = "alias" if isinstance(event, yaml.AliasEvent) else "anchor"
        if getattr(event, "anchor", None) is not None:
            sign = "*" if what == "alias" else "&"
            raise _Refused(
                event.start_mark,
                f"{what} '{sign}{event.anchor}': anchors and aliases are not allowed in content; "
                "write the value out",
            )
        if getattr(event, "tag", None) not in (None, "!"):
            raise _Refused(
                event.start_mark, f"YAML tag {event.tag!r} is not allowed; quote text instead"
            )
        return event

    def value(self, path: NodePath | None, depth: int) -> Any:
        """The next node's value; ``path`` None for a value that is dropped (a duplicate key)."""
        event = self.next_event()
        if isinstance(event, yaml.ScalarEvent):
            return self.scalar(event, path)
        if depth >= MAX_DEPTH:
            raise _Refused(event.start_mark, f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(event, yaml.SequenceStartEvent):
            return self.sequence(path, depth)
        return self.mapping(path, depth)

    def sequence(self, path: NodePath | None, depth: int) -> list[Any]:
        items: list[Any] = []
        while not self.loader.check_event(yaml.SequenceEndEvent):
            item_path = None
            if path is not None:
                item_path = (*path, len(items))
                mark = self.loader.peek_event().start_mark
                self.doc.positions[item_path] = (mark.line, mark.column)
            items.append(self.value(item_path, depth + 1))
        self.loader.get_event()
        return items

    def mapping(self, path: NodePath | None, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        while not self.loader.check_event(yaml.MappingEndEvent):
            event = self.next_event()
            mark = event.start_mark
            if not isinstance(event, yaml.ScalarEvent):
                raise _Refused(mark, "a key must be text, not a list or a mapping")
            # Keys are text as written: "1" or "on" as a key stays a string.
            key: str = event.value
            if self.text_problem(event, None):
                key = f"{key[:40]}..."
            if key in result:
                message = f"duplicate key {key!r} (first at line {first_line[key]})"
                self.problem(mark, message, None)
                self.value(None, depth + 1)
                continue
            first_line[key] = mark.line + 1
            key_path = None
            if path is not None:
                key_path = (*path, key)
                self.doc.positions[key_path] = (mark.line, mark.column)
            result[key] = self.value(key_path, depth + 1)
        self.loader.get_event()
        return result

    def text_problem(self, event: Any, path: NodePath | None) -> bool:
        """Report a scalar too long or carrying a forbidden character; True if there was one."""
        text: str = event.value
        if len(text) > MAX_SCALAR_CHARS:
            message = f"text of {len(text)} characters; at most {MAX_SCALAR_CHARS} are allowed"
            self.problem(event.start_mark, message, path)
            return True
        if found := _FORBIDDEN_IN_VALUE.search(text):
            # Such characters written raw were refused before parsing: this came from an escape.
            message = f"{_character_name(found.group())} (written as an escape) is not allowed"
            self.problem(event.start_mark, message, path)
            return True
        return False

    def scalar(self, event: Any, path: NodePath | None) -> Any:
        text: str = event.value
        if self.text_problem(event, path):
            return None
        if event.style not in (None, "") or event.tag == "!":
            return text  # quoted or block scalar: always text
        if text in _NULL:
            return None
        if text in _BOOL:
            return _BOOL[text]
        if _AMBIGUOUS.fullmatch(text):
            message = (
                f"{text!r} is a boolean to some YAML readers and text to others: "
                f'quote it ("{text}") for text, or write true/false'
            )
            self.problem(event.start_mark, message, path)
            return text
        if _INT.fullmatch(text):
            digits = len(text.lstrip("+-"))
            if digits > MAX_INT_DIGITS:
                message = f"a number of {digits} digits; at most {MAX_INT_DIGITS} are allowed"
                self.problem(event.start_mark, message, path)
                return None
            if text[:2] in ("0o", "0x"):
                return int(text[2:], 8 if text[1] == "o" else 16)
            return int(text)
        if _FLOAT.fullmatch(text):
            special = text.lower().lstrip("+-") in (".inf", ".nan")
            return float(text.replace(".", "", 1) if special else text)
        return text


def _mark_of(exc: yaml.YAMLError, text: str) -> tuple[int, int]:
    """0-based (line, column) of a PyYAML error."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        if mark is not None:
            return mark.line, mark.column
    position = getattr(exc, "position", None)  # a ReaderError: a character index
    if isinstance(position, int):
        return _line_col(text, position)
    return 0, 0


def _line_col(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index)
    return line, index - (text.rfind("\n", 0, index) + 1)


def _raw_character_problems(text: str, path: str) -> list[Problem]:
    problems = []
    for found in _FORBIDDEN_IN_FILE.finditer(text):
        line, col = _line_col(text, found.start())
        message = f"{_character_name(found.group())} is not allowed; delete it"
        problems.append(Problem(Location(path, line + 1, col + 1), message))
        if len(problems) == _MAX_CHARACTER_PROBLEMS:
            break
    return problems


def parse(text: str, path: str) -> Document:
    """One YAML document as plain values; every problem found is in ``problems``."""
    doc = Document(path)
    if problems := _raw_character_problems(text, path):
        doc.problems.extend(problems)
        doc.reported.append(())
        return doc
    loader = _Loader(text)
    builder = _Builder(loader, doc)
    try:
        loader.get_event()  # StreamStart
        if loader.check_event(yaml.StreamEndEvent):
            return doc
        loader.get_event()  # DocumentStart
        mark = loader.peek_event().start_mark
        doc.positions[()] = (mark.line, mark.column)
        doc.data = builder.value((), 0)
        doc.empty = False
        loader.get_event()  # DocumentEnd
        if not loader.check_event(yaml.StreamEndEvent):
            mark = loader.peek_event().start_mark
            builder.problem(mark, "a second YAML document ('---'); one per file", ())
    except _Refused as refused:
        builder.problem(refused.mark, refused.message, ())
    except yaml.YAMLError as exc:
        line, col = _mark_of(exc, text)
        parts = (getattr(exc, "context", None), getattr(exc, "problem", None))
        what = " ".join(str(s) for s in parts if s) or str(exc)
        where = Location(path, line + 1, col + 1)
        # One line per problem: PyYAML's own text spreads over several.
        doc.problems.append(Problem(where, f"YAML syntax error: {' '.join(what.split())}"))
        doc.reported.append(())
    finally:
        loader.dispose()
    return doc


def read(path: Path, limit: int = MAX_FILE_BYTES) -> str | Problem:
    """The file's text, or why it cannot be used (not a file, too big, not UTF-8)."""
    start = Location(str(path), 1, 1)
    try:
        if not path.is_file():
            return Problem(start, "not a regular file")
        with path.open("rb") as file:
            raw = file.read(limit + 1)  # never more: the file may grow, or be a device
    except OSError as exc:
        return Problem(start, f"cannot read file: {exc.strerror or exc}")
    if len(raw) > limit:
        return Problem(start, f"the file is over {limit // 1024} KiB; split it")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start)
        head = raw[raw.rfind(b"\n", 0, exc.start) + 1 : exc.start]
        col = len(head.decode("utf-8", "replace"))
        where = Location(str(path), line + 1, col + 1)
        return Problem(where, f"not UTF-8: byte 0x{raw[exc.start]:02x}; save the file as UTF-8")


def load(path: Path) -> Document:
    """``read`` and ``parse`` one file."""
    text = read(path)
    if isinstance(text, Problem):
        return Document(str(path), problems=[text], reported=[()])
    return parse(text, str(path))
