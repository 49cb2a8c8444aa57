"""What one run of a snippet did, as a frozen value: the contract of ``run-snippet --json``.

Everything a snippet can do (succeed, raise, crash, hit a limit) ends up here; nothing about the
learner's code is ever raised to the caller as an exception.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

# CSI sequences (colours, cursor moves), OSC sequences (titles, links) and stray escapes, in
# their 7-bit (ESC [) and 8-bit (U+009B) forms.
_ANSI = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"
    r"|(?:\x1b\]|\x9d)[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)"
    r"|\x1b[@-_]?"
)
# Characters a terminal or Discord would act on instead of showing: C0 controls but tab and
# newline, DEL, C1 controls (U+0080-U+009F, which some terminals obey as escapes), and the
# invisible bidi marks that reorder what is shown (overrides, embeddings, isolates, LRM/RLM/ALM).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_LINE_BREAKS = re.compile("\r\n?|[\u2028\u2029]")


def clean_text(text: str) -> str:
    """What a snippet printed or named, safe to show: ANSI escapes and control and bidi
    characters removed (Keras colours its error messages), line breaks as plain newlines."""
    return _CONTROL.sub("", _LINE_BREAKS.sub("\n", _ANSI.sub("", text)))


def clean_line(text: str) -> str:
    """``clean_text`` for a one-line field (a class name, a variable name, a shape)."""
    return clean_text(text).replace("\n", " ").replace("\t", " ")


def _clean_fields(obj: object, *names: str, clean: Callable[[str], str] = clean_text) -> None:
    """Clean string fields of a frozen dataclass in place (from its ``__post_init__``)."""
    for name in names:
        value = getattr(obj, name)
        if isinstance(value, str):
            object.__setattr__(obj, name, clean(value))


# --- long messages: kept whole in the result, shortened where they are shown -------------------

# Lines that say what went wrong: kept first when a message must be shortened.
_KEY = re.compile(
    r"[Ee]xpected|[Rr]eceived|[Ii]ncompatible|\bmust\b|\bshould\b|valid range|[Ee]rror\b"
)
# A stack frame ('  File "...", line 3, in f'): graph-mode errors list the Python stack that
# created the failing op, dozens of lines before the sentence that matters.
_FRAME = re.compile(r'^\s*File "[^"]*", line \d+')
# A line of a printed array ("  [0. 0. 0.]", " ...", "[[1.4e-01 2.7e-01]"): Keras prints the
# whole input tensor in some shape errors.
_ARRAY = re.compile(r"^[\s\[\]().,:…+\-\deEnaif]*$")
_SENTENCE_END = re.compile(r"(?<=[.;:!?])\s+")
ELLIPSIS = "…"
MESSAGE_SHOWN = 1500  # characters of an exception message that render() shows
MIN_PIECE = 20  # a line cut shorter than this says nothing: leave it out instead


def shorten_message(message: str, limit: int) -> str:
    """``message`` in at most ``limit`` characters, cut at line or sentence boundaries only.

    First the noise goes (stack frames, array dumps: each run becomes one "…" line); if that is
    not enough, the first line and the lines that say what was expected or received are kept
    before the others, each whole if it fits, else down to the sentences that fit (a word cut
    only when not even one sentence fits the limit). So the sentence
    "Expected shape (None, 64, 64, 3), but input has incompatible shape (...)" survives a
    message of 40,000 characters.
    """
    if len(message) <= limit:
        return message
    lines = _without_noise(message.split("\n"))
    text = "\n".join(lines)
    if len(text) <= limit:
        return text
    first = next((i for i, line in enumerate(lines) if line.strip() and line != ELLIPSIS), 0)
    order = [first]
    order += [i for i, line in enumerate(lines) if i != first and _KEY.search(line)]
    order += [i for i in range(len(lines)) if i not in order]
    kept: dict[int, str] = {}
    for i in order:
        if not lines[i].strip() or lines[i] == ELLIPSIS:
            continue
        room = limit - len(_assemble(lines, kept | {i: ""}))
        line = lines[i] if len(lines[i]) <= room else _sentences(lines[i], room)
        useful = line == lines[i] or len(line.strip(ELLIPSIS + " ")) >= MIN_PIECE
        if useful and len(_assemble(lines, kept | {i: line})) <= limit:
            kept[i] = line
    if not kept:  # not even one sentence fits: the first line, cut after a word
        cut = lines[first][: max(0, limit - len(ELLIPSIS))].rsplit(" ", 1)[0]
        return cut + ELLIPSIS
    return _assemble(lines, kept)


def _assemble(lines: list[str], kept: dict[int, str]) -> str:
    """The kept lines in their order, one "…" line for each run of lines left out."""
    out: list[str] = []
    for i in range(len(lines)):
        if i in kept:
            out.append(kept[i])
        elif not out or out[-1] != ELLIPSIS:
            out.append(ELLIPSIS)
    return "\n".join(out)


def _without_noise(lines: list[str]) -> list[str]:
    out: list[str] = []
    for line in lines:
        noise = bool(_FRAME.match(line)) or (
            bool(_ARRAY.match(line)) and any(c.isdigit() or c in ".…" for c in line)
        )
        if noise or (not line.strip() and out and out[-1] in ("", ELLIPSIS)):
            if noise:
                if out and not out[-1].strip():
                    out.pop()
                if not out or out[-1] != ELLIPSIS:
                    out.append(ELLIPSIS)
            continue
        out.append(line)
    return out


def _sentences(line: str, room: int) -> str:
    """The sentences of ``line`` that fit in ``room``: those saying what was expected or
    received first, then the others; "…" where some were left out ("" if none fits)."""
    parts = _SENTENCE_END.split(line.strip())
    order = [i for i, part in enumerate(parts) if _KEY.search(part)]
    order += [i for i in range(len(parts)) if i not in order]
    chosen: set[int] = set()
    size = 0
    for i in order:
        if size + len(parts[i]) + len(ELLIPSIS) + 2 <= room:
            chosen.add(i)
            size += len(parts[i]) + len(ELLIPSIS) + 2
    if not chosen:
        return ""
    out: list[str] = []
    for i, part in enumerate(parts):
        if i in chosen:
            out.append(part)
        elif not out or out[-1] != ELLIPSIS:
            out.append(ELLIPSIS)
    return " ".join(out)


class Status(StrEnum):
    OK = "ok"
    ERROR = "error"
    TIMEOUT = "timeout"
    MEMORY_LIMIT = "memory_limit"
    OUTPUT_LIMIT = "output_limit"
    CRASHED = "crashed"
    # The runner (a fleet host, or the local runner service) stopped while it ran the snippet.
    # It is never run again: the snippet may be what brought the runner down.
    LOST = "lost"


@dataclass(frozen=True)
class ExceptionInfo:
    type: str  # the class name, e.g. "ValueError"
    message: str
    line: int | None  # the line in the snippet, not in TensorFlow

    def __post_init__(self) -> None:
        _clean_fields(self, "type", clean=clean_line)
        _clean_fields(self, "message")

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "message": self.message, "line": self.line}


Fact = bool | int | float | str


@dataclass(frozen=True)
class LayerInfo:
    """One row of a model's layer table (a nested model, e.g. a backbone, is one row)."""

    name: str
    type: str  # the layer's class, e.g. "Dense"
    output_shape: str | None  # as Python prints it, e.g. "(None, 7, 7, 1280)"
    params: int | None
    trainable: bool

    def __post_init__(self) -> None:
        _clean_fields(self, "name", "type", "output_shape", clean=clean_line)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "output_shape": self.output_shape,
            "params": self.params,
            "trainable": self.trainable,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LayerInfo:
        params = data.get("params")
        return cls(
            str(data.get("name", "?")),
            str(data.get("type", "?")),
            None if data.get("output_shape") is None else str(data["output_shape"]),
            params if isinstance(params, int) and not isinstance(params, bool) else None,
            bool(data.get("trainable", False)),
        )


def rank(shape: str | None) -> int | None:
    """How many axes a shape as Python prints it has: "(None, 7, 7, 1280)" -> 4."""
    if not shape or not shape.startswith("(") or "(" in shape[1:]:
        return None
    inner = shape.strip("()").rstrip(", ")
    return len(inner.split(",")) if inner else 0


@dataclass(frozen=True)
class Surprise:
    """The first row of a layer table whose shape a learner would not expect, and why."""

    index: int
    reason: str


def surprise(layers: tuple[LayerInfo, ...]) -> Surprise | None:
    """A Dense layer on a feature map (4-D or more: it then runs on every position, and the
    head's output keeps the spatial axes), or an axis of size 0 (an image too small for the
    layers before)."""
    for i, layer in enumerate(layers):
        axes = rank(layer.output_shape)
        if layer.output_shape and re.search(r"[(,]\s*0\s*[,)]", layer.output_shape):
            return Surprise(i, f"{layer.name} has an axis of size 0: the input is too small")
        if layer.type == "Dense" and axes is not None and axes >= 4:
            return Surprise(
                i,
                f"{layer.name} is a Dense layer on a {axes}-D feature map: it runs on every "
                "position, so its output keeps the spatial axes. Put GlobalAveragePooling2D "
                "(or Flatten) before it.",
            )
    return None


@dataclass(frozen=True)
class FileInfo:
    """A file the snippet wrote in its working directory, returned with the result."""

    name: str  # its path relative to the working directory, e.g. "plots/loss.png"
    media_type: str
    data: bytes = field(repr=False)

    def __post_init__(self) -> None:
        _clean_fields(self, "name", clean=clean_line)

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def is_image(self) -> bool:
        return self.media_type in IMAGE_TYPES

    @property
    def safe_name(self) -> str:
        """The name as one plain file name, for a folder on disk or a Discord attachment:
        "plots/loss.png" -> "plots_loss.png"; only letters, digits, ".", "-" and "_"; never
        hidden, never "..", at most 100 characters (the suffix kept)."""
        parts = self.name.replace("\\", "/").split("/")
        flat = "_".join(p for p in parts if p not in ("", ".", ".."))
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", flat).lstrip(".") or "file"
        if len(safe) > 100:
            dot = safe.rfind(".")
            suffix = safe[dot:] if dot > 0 and len(safe) - dot <= 10 else ""
            safe = safe[: 100 - len(suffix)] + suffix
        return safe

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "media_type": self.media_type,
            "size": self.size,
            "data": base64.b64encode(self.data).decode("ascii"),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FileInfo:
        content = base64.b64decode(str(data.get("data", "")), validate=True)
        name = str(data.get("name", "file"))
        return cls(name, media_type(name, content), content)


# The types a frontend shows as pictures; every other file is offered as an attachment.
IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}
_MAGIC = {
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
    b"GIF87a": "image/gif",
    b"GIF89a": "image/gif",
}
_BY_SUFFIX = {
    ".svg": "image/svg+xml",
    ".pdf": "application/pdf",
    ".txt": "text/plain",
    ".log": "text/plain",
    ".csv": "text/csv",
    ".json": "application/json",
    ".html": "text/html",
    ".md": "text/markdown",
    ".py": "text/x-python",
}


def media_type(name: str, data: bytes) -> str:
    """Decided here, not by the snippet: pictures by their first bytes (a "plot.png" that is
    not a PNG is not shown as one), other files by their suffix."""
    for magic, kind in _MAGIC.items():
        if data.startswith(magic):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    suffix = name[name.rfind(".") :].lower() if "." in name else ""
    return _BY_SUFFIX.get(suffix, "application/octet-stream")


@dataclass(frozen=True)
class ModelInfo:
    """A Keras model left in the snippet's namespace, under the variable ``name``."""

    name: str
    input_shape: str | None  # as Python prints it, e.g. "(None, 128, 128, 3)"
    output_shape: str | None
    params: int | None
    trainable_params: int | None
    # What explanation rules may test (worker.model_facts): output_activation, output_units,
    # loss, trainable_changed_since_compile, trainable_changed_since_fit,
    # fit_used_old_trainable, input_min, input_max, backbone, backbone_input_range. Unknown
    # facts are absent.
    facts: Mapping[str, Fact] = field(default_factory=dict, hash=False)
    # Its own layers, for the layer table a learner asks for (not compared by equality tests).
    layers: tuple[LayerInfo, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        _clean_fields(self, "name", "input_shape", "output_shape", clean=clean_line)
        object.__setattr__(
            self,
            "layers",
            tuple(x if isinstance(x, LayerInfo) else LayerInfo.from_dict(x) for x in self.layers),
        )
        # Facts can come from a cache file or a remote runner: keep only plain values.
        cleaned = {
            clean_line(str(k)): clean_line(v) if isinstance(v, str) else v
            for k, v in dict(self.facts or {}).items()
            if isinstance(v, bool | int | float | str)
        }
        object.__setattr__(self, "facts", cleaned)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "input_shape": self.input_shape,
            "output_shape": self.output_shape,
            "params": self.params,
            "trainable_params": self.trainable_params,
            "facts": dict(self.facts),
            "layers": [layer.to_dict() for layer in self.layers],
        }

    @property
    def surprise(self) -> Surprise | None:
        return surprise(self.layers)


@dataclass(frozen=True)
class Limit:
    """The limit that ended a run: the RunnerSettings field name and its value."""

    name: str
    value: float | int

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value}

    def describe(self) -> str:
        labels = {
            "wall_timeout_s": ("time limit", "s"),
            "cpu_time_s": ("CPU time limit", " CPU-s"),
            "memory_mb": ("memory limit", " MiB"),
            "output_limit_bytes": ("output limit", " bytes"),
            "max_processes": ("thread/process limit", ""),
            "file_size_mb": ("file size limit", " MiB"),
            "tmpfs_mb": ("in-memory /tmp and home limit", " MiB"),
        }
        label, unit = labels.get(self.name, (self.name, ""))
        return f"{label} ({self.value:g}{unit})"


@dataclass(frozen=True)
class RunResult:
    status: Status
    stdout: str = ""
    stderr: str = ""
    exception: ExceptionInfo | None = None
    models: tuple[ModelInfo, ...] = ()
    limit: Limit | None = None
    explanation: str | None = None
    notes: tuple[str, ...] = ()
    duration_s: float = 0.0
    # MiB (2**20 bytes) everywhere: the worker's peak resident memory while the snippet ran,
    # and what the warm worker held just before it started (TensorFlow imported, warmed up).
    peak_memory_mb: float | None = None
    baseline_memory_mb: float | None = None
    files: tuple[FileInfo, ...] = ()
    # Not part of the JSON contract: the result came from the verified-content cache.
    cached: bool = field(default=False, compare=False)

    def __post_init__(self) -> None:
        # The one place every result passes through, from the sandbox, the cache or a remote
        # runner: whatever came from a snippet is cleaned here, once, for every frontend.
        _clean_fields(self, "stdout", "stderr", "explanation")
        object.__setattr__(self, "notes", tuple(clean_text(str(n)) for n in self.notes))

    @property
    def ok(self) -> bool:
        return self.status is Status.OK

    @property
    def snippet_memory_mb(self) -> float | None:
        """The snippet's own peak: the worker's peak over its warm baseline."""
        if self.peak_memory_mb is None or self.baseline_memory_mb is None:
            return None
        return round(max(0.0, self.peak_memory_mb - self.baseline_memory_mb), 1)

    def memory_text(self) -> str | None:
        """One wording for every frontend: "memory 45 MiB over the warm worker's 310 MiB"."""
        own, base = self.snippet_memory_mb, self.baseline_memory_mb
        if own is not None and base is not None:
            return f"memory {own:,.0f} MiB over the warm worker's {base:,.0f} MiB"
        if self.peak_memory_mb is not None:
            return f"peak memory {self.peak_memory_mb:,.0f} MiB"
        return None

    def model(self, name: str | None = None) -> ModelInfo | None:
        """The model called ``name``; without a name the only model, else the one named
        ``model`` (the rule ``content check --execute`` uses for ``expect``)."""
        if name is not None:
            return next((m for m in self.models if m.name == name), None)
        if len(self.models) == 1:
            return self.models[0]
        return next((m for m in self.models if m.name == "model"), None)

    def to_dict(self) -> dict[str, Any]:
        """Exactly the fields of the ``run-snippet --json`` contract (DESIGN.md)."""
        return {
            "status": self.status.value,
            "stdout": self.stdout,
            "stderr": self.stderr,
            "exception": self.exception.to_dict() if self.exception else None,
            "models": [m.to_dict() for m in self.models],
            "limit": self.limit.to_dict() if self.limit else None,
            "explanation": self.explanation,
            "notes": list(self.notes),
            "duration_s": self.duration_s,
            "peak_memory_mb": self.peak_memory_mb,
            "baseline_memory_mb": self.baseline_memory_mb,
            "snippet_memory_mb": self.snippet_memory_mb,
            "files": [f.to_dict() for f in self.files],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, cached: bool = False) -> RunResult:
        exc = data.get("exception")
        limit = data.get("limit")
        return cls(
            status=Status(data["status"]),
            stdout=data.get("stdout", ""),
            stderr=data.get("stderr", ""),
            exception=ExceptionInfo(exc["type"], exc["message"], exc.get("line")) if exc else None,
            models=tuple(ModelInfo(**m) for m in data.get("models", ())),
            limit=Limit(limit["name"], limit["value"]) if limit else None,
            explanation=data.get("explanation"),
            notes=tuple(data.get("notes", ())),
            duration_s=float(data.get("duration_s", 0.0)),
            peak_memory_mb=data.get("peak_memory_mb"),
            baseline_memory_mb=data.get("baseline_memory_mb"),
            files=tuple(FileInfo.from_dict(f) for f in data.get("files", ())),
            cached=cached,
        )

    def render(self) -> str:
        """The result as a person wants to read it in a terminal."""
        headline = {
            Status.OK: "Ran successfully",
            Status.ERROR: "Raised an error",
            Status.TIMEOUT: "Stopped: it ran out of time",
            Status.MEMORY_LIMIT: "Stopped: it ran out of memory",
            Status.OUTPUT_LIMIT: "Stopped: it printed too much",
            Status.CRASHED: "The Python process crashed",
            Status.LOST: "The runner was lost",
        }[self.status]
        timing = f"{self.duration_s:.2f} s"
        memory = self.memory_text()
        if memory is not None:
            timing += f", {memory}"
        out = [f"{headline} ({timing})."]
        if self.limit:
            out.append(f"Limit reached: {self.limit.describe()}.")
        if self.exception:
            where = f" (line {self.exception.line})" if self.exception.line else ""
            message = shorten_message(self.exception.message, MESSAGE_SHOWN)
            out.append(f"{self.exception.type}{where}: {message}")
        for m in self.models:
            out.append(
                f"Model `{m.name}`: input {m.input_shape or '?'} -> output "
                f"{m.output_shape or '?'}; {_count(m.params)} params "
                f"({_count(m.trainable_params)} trainable)"
            )
        if self.stdout:
            out += ["", "Output:", self.stdout.rstrip("\n")]
        if self.stderr and not self.ok:
            out += ["", "Errors and warnings:", self.stderr.rstrip("\n")]
        elif self.stderr:
            out += ["", "Warnings:", self.stderr.rstrip("\n")]
        if self.explanation:
            out += ["", "What it means: " + self.explanation]
        out += [f"Note: {note}" for note in self.notes]
        return "\n".join(out)

    def layer_tables(self) -> str:
        """Every model's layer table as fixed-width text, the surprising row marked."""
        return "\n\n".join(layer_table(m) for m in self.models if m.layers)


def layer_table(model: ModelInfo) -> str:
    """One model's layers: name, class, output shape, parameters, trainable; "▶" marks the first
    surprising row, explained under the table."""
    rows = [("", "layer", "type", "output shape", "params", "trainable")]
    found = model.surprise
    for i, layer in enumerate(model.layers):
        mark = "▶" if found is not None and found.index == i else ""
        rows.append(
            (mark, layer.name, layer.type, layer.output_shape or "?", _count(layer.params),
             "yes" if layer.trainable else "no")
        )  # fmt: skip
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    right = {4}
    lines = [
        " ".join(
            (cell.rjust(widths[c]) if c in right else cell.ljust(widths[c]))
            for c, cell in enumerate(row)
        ).rstrip()
        for row in rows
    ]
    out = [f"Model `{model.name}`", *lines]
    if found is not None:
        out.append(f"▶ {found.reason}")
    return "\n".join(out)


LOST_MESSAGE = (
    "The runner was lost: the machine running your snippet stopped before it finished. "
    "It was not run again (the snippet itself may have stopped it); run it again if you like."
)


def lost_result(duration_s: float = 0.0) -> RunResult:
    """What a caller gets when the runner that took its snippet died mid-run."""
    return RunResult(Status.LOST, explanation=LOST_MESSAGE, duration_s=duration_s)


def _count(value: int | None) -> str:
    return "?" if value is None else f"{value:,}"
