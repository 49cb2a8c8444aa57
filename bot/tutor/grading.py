"""Answer matching: choice numbers, tensor shapes, counts and short free-text answers.

The rules, with a table of examples in tests/test_grading.py:

- A shape may be written with any brackets (``()``, ``[]``, ``{}``, ``<>``) or none, its sizes
  separated by commas, by ``x``, a multiplication sign or ``*`` (``14x14x512``) or by spaces,
  and the batch dimension as ``None``, ``null`` or ``?``. Equal shapes are equal however
  written.
- A shape that differs from the expected one only by a missing or extra batch dimension, a batch
  size where the model has ``None``, a channels-first order or swapped axes is wrong, with an
  "almost" note that says which (``shape_note``).
- A count may be written with thousands separators (``3,843``, ``3 843``, ``3_843``, ``3'843``,
  ``3.843``) in any script's digits; a number that cannot be read as a whole number (``½``,
  ``Ⅻ``, ``38,43``) is refused with a message saying how to write it, and nothing is recorded.
- Anything else is compared as text, ignoring case, spacing, quotes and final punctuation.

How an answer is read depends on what the question accepts: "3 843" is a count where a count is
expected and a shape where a shape is.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

Shape = tuple[int | None, ...]

# One dimension as a learner might type it: a size, or the batch axis (None).
_BATCH_WORDS = frozenset({"none", "null", "?"})
_DIM = re.compile(r"none|null|\?|\d+", re.IGNORECASE)
_BRACKETS = {"(": ")", "[": "]", "{": "}", "<": ">"}
_CROSS = re.compile(r"\s*[x×*]\s*", re.IGNORECASE)
# More digits than any count a person types here: longer numbers are refused before int() reads
# them (whose cost grows with the length, and which refuses past 4,300 digits).
MAX_NUMBER_DIGITS = 9
MAX_COUNT_DIGITS = 15  # parameter counts run to billions; with separators, still bounded
MAX_DIMS = 8


def _strip_brackets(text: str) -> tuple[str, bool]:
    """``text`` without one pair of brackets around it (a typo such as ``(None, 5]`` or a
    missing one is forgiven), and whether there was any."""
    had = False
    if text[:1] in _BRACKETS:
        text, had = text[1:], True
    if text[-1:] in _BRACKETS.values():
        text, had = text[:-1], True
    return text.strip(), had


def parse_shape(text: str) -> Shape | None:
    """Read a shape such as ``(None, 5)``, ``None,5``, ``[None, 5]``, ``None x 5``,
    ``14x14x512`` or ``{14 14 512}``.

    Returns None when the text is not a shape. A bare word or number without a separator or
    bracket (``5``, ``none``) is not a shape, so that ordinary short answers stay text.
    """
    stripped = unicodedata.normalize("NFKC", text).strip()
    if not stripped:
        return None
    inner, bracketed = _strip_brackets(stripped)
    if not inner:
        return () if bracketed else None
    if "," in inner:
        parts = [p.strip() for p in inner.split(",")]
        if parts[-1] == "" and len(parts) > 1:
            parts.pop()  # (3,) as Python writes a one-dimensional shape
    elif _CROSS.search(inner):
        parts = _CROSS.split(inner)
    else:
        parts = inner.split()
        if len(parts) < 2 and not bracketed:
            return None
    if len(parts) > MAX_DIMS or not all(_DIM.fullmatch(p) for p in parts):
        return None
    if any(p.isdecimal() and len(p) > MAX_NUMBER_DIGITS for p in parts):
        return None
    return tuple(None if p.lower() in _BATCH_WORDS else int(p) for p in parts)


def format_shape(shape: Shape) -> str:
    """Format a shape exactly as Python prints a tuple: ``(None, 5)``, ``(3,)``, ``()``."""
    return repr(tuple(shape))


def _sort_key(dim: int | None) -> tuple[bool, int]:
    return dim is not None, dim or 0


def shape_note(given: Shape, expected: Shape) -> str | None:
    """Why ``given`` is almost ``expected``, or None when it is not close (or equal)."""
    if given == expected or not given or not expected:
        return None
    if expected[0] is None and given == expected[1:]:
        return (
            "Almost: that is one example's shape. A model's output shape starts with the "
            "batch dimension, None."
        )
    if given[1:] == expected and given[0] is None:
        return "Almost: there is one dimension too many. This shape has no batch dimension."
    if expected[0] is None and len(given) == len(expected) and given[1:] == expected[1:]:
        return (
            "Almost: the batch dimension of a model's shape is None (any batch size), not a number."
        )
    # Compare what follows the batch dimension, when both have one.
    batch = expected[0] is None and given[:1] == (None,)
    g, e = (given[1:], expected[1:]) if batch else (given, expected)
    if len(g) >= 3 and len(g) == len(e) and g == (e[-1], *e[:-1]):
        return (
            "Almost: that is channels-first. Keras puts the channels last: "
            "(…, height, width, channels)."
        )
    if len(g) == len(e) and sorted(g, key=_sort_key) == sorted(e, key=_sort_key):
        return "Almost: the right sizes, but in the wrong order."
    return None


def normalize_text(text: str) -> str:
    """Case-, space- and punctuation-insensitive form of a free-text answer."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = re.sub(r"[`'\"“”‘’]", "", text)
    text = re.sub(r"\s+", " ", text).strip()
    return text.rstrip(".!?;:").strip()


def normalize_answer(text: str) -> str:
    """The canonical form of an accepted answer: a shape if it is one, else text."""
    # NFKC first, so that digits typed in another form (superscript ², full-width or circled)
    # read as the digits they look like, in shapes as in text.
    text = unicodedata.normalize("NFKC", text)
    shape = parse_shape(text)
    return format_shape(shape) if shape is not None else normalize_text(text)


class Unreadable(ValueError):
    """The answer cannot be read as what the question asks for (e.g. ``½`` for a count).
    Its message says how to write it; such an answer is refused, not graded."""


# Digits grouped by thousands with one separator throughout: 3,843 · 3 843 · 1.234.567 · 3'843.
_GROUPED = re.compile(r"\d{1,3}(?P<sep>[,_' .])\d{3}(?:(?P=sep)\d{3})*")
HOW_TO_WRITE_A_COUNT = (
    "Write a whole number with the digits 0-9, grouped by thousands if you like: 3843 or 3,843."
)


def parse_count(text: str) -> int | None:
    """A whole number, digits optionally grouped by thousands (``3,843``, ``3 843``), in any
    script's digits; None when ``text`` has no digits at all (then it is text).

    Raises Unreadable for something numeric that is not a whole number written so: a fraction
    (``½``), a numeral that is not digits (``Ⅻ``), digits grouped other than by three
    (``38,43``), or more digits than any count here.
    """
    raw = text.strip()
    # Superscript, circled and full-width digits become digits under NFKC; a fraction, a Roman
    # numeral or a CJK numeral do not, and a count written so is refused rather than misread.
    if any(_numeral_not_digits(c) for c in raw):
        raise Unreadable(HOW_TO_WRITE_A_COUNT)
    digits = unicodedata.normalize("NFKC", raw).strip()
    if not any(c.isdecimal() for c in digits):
        return None
    if not digits.isdecimal():
        grouped = _GROUPED.fullmatch(digits)
        if grouped is None:
            if re.fullmatch(r"[\d,_' .]+", digits):
                raise Unreadable(HOW_TO_WRITE_A_COUNT)
            return None  # text with digits in it ("resnet50"): compared as text
        digits = digits.replace(grouped["sep"], "")
    if len(digits) > MAX_COUNT_DIGITS:
        raise Unreadable(HOW_TO_WRITE_A_COUNT)
    return int(digits)


def _numeral_not_digits(char: str) -> bool:
    return (
        unicodedata.numeric(char, None) is not None
        and not unicodedata.normalize("NFKC", char).isdecimal()
    )


def _count_of(accepted: str) -> int | None:
    try:
        return parse_count(accepted)
    except Unreadable:
        return None


@dataclass(frozen=True)
class Match:
    """How a typed answer compares with a question's accepted answers."""

    correct: bool
    # For a wrong answer that is close (a shape with a missing batch dimension...): what is off.
    note: str | None = None


def check(answer: str, accepted: Sequence[str]) -> Match:
    """Compare ``answer`` with every accepted answer, each in its own kind (shape, count, text).

    Raises Unreadable when a count is expected and ``answer`` is numeric but not a count.
    """
    counts = [c for c in map(_count_of, accepted) if c is not None]
    # "3,843" reads as a shape too: an accepted answer that is a count is not one.
    shapes = [s for a in accepted if _count_of(a) is None and (s := parse_shape(a)) is not None]
    if counts and not shapes:
        given_count = parse_count(answer)
        if given_count is not None:
            return Match(given_count in counts)
    given_text = normalize_answer(answer)
    if any(given_text == normalize_answer(a) for a in accepted):
        return Match(True)
    given_shape = parse_shape(answer)
    if given_shape is not None:
        for expected in shapes:
            note = shape_note(given_shape, expected)
            if note is not None:
                return Match(False, note)
    return Match(False)


def matches(answer: str, accepted: Sequence[str]) -> bool:
    """True when ``answer`` equals any accepted answer (see ``check``)."""
    try:
        return check(answer, accepted).correct
    except Unreadable:
        return False


def parse_number(text: str) -> int | None:
    """A whole number a person typed (``3``, `` 12 ``, ``²``, ``٣``), or None if it is
    not one.

    ``str.isdigit`` is no test for this: it is true for ``²`` and ``①``, which ``int`` refuses.
    NFKC turns such look-alikes into digits (``½`` into 1, a fraction slash and 2: not a
    number), then only decimal digits (``isdecimal``: every script's 0-9, all of which ``int``
    reads) are read.
    """
    digits = unicodedata.normalize("NFKC", text).strip()
    if not digits.isdecimal() or len(digits) > MAX_NUMBER_DIGITS:
        return None
    return int(digits)


def parse_choice(text: str, n_choices: int) -> int | None:
    """The 0-based index of a choice typed as its 1-based number, or None if it is not a number.

    Raises ValueError when it is a number outside 1..n_choices.
    """
    stripped = unicodedata.normalize("NFKC", text).strip().rstrip(".)")
    if not stripped.isdecimal():
        return None
    number = parse_number(stripped)
    if number is None or not 1 <= number <= n_choices:
        raise ValueError(f"Choose a number from 1 to {n_choices}.")
    return number - 1
