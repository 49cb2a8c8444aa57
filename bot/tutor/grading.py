"""Answer matching: choice numbers, tensor shapes and short free-text answers."""

from __future__ import annotations

import re
import unicodedata

# One dimension of a shape as a learner might type it: a size, or None for the batch axis.
_DIM = r"(?:none|null|\d+)"
_SHAPE = re.compile(
    rf"""^\s*[\(\[]?\s*                        # optional opening bracket
        ({_DIM}(?:\s*,\s*{_DIM})*)?\s*,?\s*    # dimensions, optional trailing comma
        [\)\]]?\s*$""",
    re.IGNORECASE | re.VERBOSE,
)


def parse_shape(text: str) -> tuple[int | None, ...] | None:
    """Read a shape such as ``(None, 5)``, ``None,5``, ``[None, 5]`` or ``(none,5)``.

    Returns None when the text is not a shape. A bare word or number without a comma or bracket
    (``5``, ``none``) is not treated as a shape, so that ordinary short answers stay text.
    """
    stripped = text.strip()
    if not stripped or not ("," in stripped or stripped[0] in "([" or stripped[-1] in ")]"):
        return None
    if not _SHAPE.match(stripped):
        return None
    # Brackets must pair up: "(None, 5]" is a typo we forgive, "None, 5)" too.
    dims = [d for d in re.split(r"\s*,\s*", stripped.strip("()[] \t")) if d]
    return tuple(None if d.lower() in ("none", "null") else int(d) for d in dims)


def format_shape(shape: tuple[int | None, ...]) -> str:
    """Format a shape exactly as Python prints a tuple: ``(None, 5)``, ``(3,)``, ``()``."""
    return repr(tuple(shape))


def normalize_text(text: str) -> str:
    """Case-, space- and punctuation-insensitive form of a free-text answer."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = re.sub(r"[`'\"“”‘’]", "", text)
    text = re.sub(r"\s+", " ", text).strip()
    return text.rstrip(".!?;:").strip()


def normalize_answer(text: str) -> str:
    """The canonical form two answers are compared in: a shape if it is one, else text."""
    # NFKC first, so that digits typed in another form (superscript ², full-width or circled)
    # read as the digits they look like, in shapes as in text.
    text = unicodedata.normalize("NFKC", text)
    shape = parse_shape(text)
    return format_shape(shape) if shape is not None else normalize_text(text)


def matches(answer: str, accepted: list[str]) -> bool:
    """True when ``answer`` equals any accepted answer after normalisation."""
    given = normalize_answer(answer)
    return any(given == normalize_answer(a) for a in accepted)


# More digits than any count a person types here: longer numbers are refused before int() reads
# them (whose cost grows with the length, and which refuses past 4,300 digits).
MAX_NUMBER_DIGITS = 9


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
