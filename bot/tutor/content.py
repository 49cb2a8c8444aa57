"""Question banks: YAML files -> validated, immutable Question objects.

The pydantic models below are the single source of truth for the content format; ``schema.json``
in the content directory is exported from them (``python -m bot content schema``). Every problem is
reported with the file, line and column it comes from, and all of them are reported at once, so an
author can fix a file in one pass.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationError, model_validator
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from bot.tutor.grading import format_shape, parse_shape

Slug = Annotated[str, Field(pattern=r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$", max_length=60)]
Text = Annotated[str, Field(min_length=1)]


class _Strict(BaseModel):
    # Unknown keys are errors: a typo such as "explanaton" must not silently drop a field.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Choice(_Strict):
    """One option of a multiple-choice question."""

    text: Text
    correct: bool = False
    feedback: str | None = Field(
        default=None, description="Why this option is right or wrong, shown when it is chosen."
    )


class ExpectedError(_Strict):
    type: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.]*$")] = Field(
        description="Exception class name, e.g. ValueError."
    )
    message: str | None = Field(
        default=None, description="A fragment the exception message must contain."
    )


class Expect(_Strict):
    """What the question's snippet does when run; ``content check --execute`` verifies it."""

    output_shape: str | None = Field(
        default=None, description='Output shape of the snippet\'s model, e.g. "(None, 5)".'
    )
    model: str | None = Field(
        default=None,
        description="Name of the variable holding the model, when the snippet leaves several.",
    )
    params: int | None = Field(default=None, ge=0, description="Total parameter count.")
    trainable_params: int | None = Field(default=None, ge=0)
    error: ExpectedError | None = Field(default=None, description="The exception it raises.")
    stdout: str | None = Field(default=None, description="A fragment its output must contain.")

    @model_validator(mode="after")
    def _consistent(self) -> Expect:
        if self.error is not None and (self.output_shape or self.params is not None):
            raise ValueError("expect: a snippet cannot both raise and produce a model")
        if self.output_shape is not None:
            shape = parse_shape(self.output_shape)
            if shape is None:
                raise ValueError(f"expect.output_shape {self.output_shape!r} is not a shape")
            if format_shape(shape) != self.output_shape:
                raise ValueError(
                    f"expect.output_shape must be written as Python prints it: "
                    f"{format_shape(shape)!r}"
                )
        if not any(
            v is not None
            for v in (
                self.output_shape,
                self.params,
                self.trainable_params,
                self.error,
                self.stdout,
            )
        ):
            raise ValueError("expect needs at least one of output_shape, params, error, stdout")
        return self


class Question(_Strict):
    id: Slug = Field(description="Unique across all files; answers are stored under it.")
    topic: Slug
    difficulty: int = Field(ge=1, le=3)
    kind: Literal["multiple_choice", "short_answer"]
    prompt: Text
    code: str | None = Field(default=None, description="A Python snippet shown as a code block.")
    choices: tuple[Choice, ...] | None = Field(default=None, min_length=2, max_length=5)
    accept: tuple[Text, ...] | None = Field(
        default=None,
        min_length=1,
        description="Accepted short answers; shapes and case/spacing are normalised.",
    )
    hint: Text
    explanation: Text
    expect: Expect | None = None
    references: tuple[HttpUrl, ...] = ()

    @model_validator(mode="after")
    def _kind_fields(self) -> Question:
        if self.kind == "multiple_choice":
            if not self.choices:
                raise ValueError("a multiple_choice question needs choices")
            n_correct = sum(c.correct for c in self.choices)
            if n_correct != 1:
                raise ValueError(f"exactly one choice must be correct, found {n_correct}")
            if self.accept is not None:
                raise ValueError("accept is for short_answer questions; mark a choice correct")
        else:
            if not self.accept:
                raise ValueError("a short_answer question needs accept")
            if self.choices is not None:
                raise ValueError("choices are for multiple_choice questions")
        if self.expect is not None and not self.code:
            raise ValueError("expect describes the snippet, but there is no code")
        return self

    @property
    def correct_index(self) -> int | None:
        if not self.choices:
            return None
        return next(i for i, c in enumerate(self.choices) if c.correct)

    @property
    def correct_answer(self) -> str:
        """The right answer as a learner should read it."""
        if self.choices:
            return self.choices[self.correct_index or 0].text
        return (self.accept or ("",))[0]


class QuestionFile(_Strict):
    """One YAML file: a list of questions under ``questions``."""

    questions: list[Question] = Field(min_length=1)


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


@dataclass(frozen=True)
class Bank:
    """All questions, in file order, with where each was defined."""

    questions: tuple[Question, ...]
    locations: Mapping[str, Location] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {q.id: q for q in self.questions})

    def get(self, question_id: str) -> Question | None:
        return self._by_id.get(question_id)  # type: ignore[attr-defined]

    @property
    def topics(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(q.topic for q in self.questions))

    def __len__(self) -> int:
        return len(self.questions)


# --- parsing ------------------------------------------------------------------------------------


def _plain(node: Any) -> Any:
    """ruamel's round-trip nodes -> plain Python values (the nodes keep their positions)."""
    if isinstance(node, Mapping):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    return node


def _position(root: Any, loc: Iterable[str | int]) -> tuple[int, int]:
    """0-based (line, column) of the deepest node along ``loc`` that exists in the YAML tree."""
    node = root
    line, col = (node.lc.line, node.lc.col) if hasattr(node, "lc") else (0, 0)
    for key in loc:
        if isinstance(node, CommentedMap) and key in node:
            line, col = node.lc.key(key)
            node = node[key]
        elif isinstance(node, CommentedSeq) and isinstance(key, int) and key < len(node):
            line, col = node.lc.item(key)
            node = node[key]
        else:
            break
    return line, col


def _message(error: Mapping[str, Any]) -> str:
    loc = list(error["loc"])
    if loc[:1] == ["questions"] and len(loc) > 1:
        loc = loc[1:]  # "questions.3.hint" reads better as "hint" at question 3's position
    kind = error["type"]
    where = ".".join(str(p) for p in loc if not isinstance(p, int))
    if kind == "extra_forbidden":
        return f"unknown key {str(loc[-1])!r}"
    if kind == "missing":
        return f"missing required field {str(loc[-1])!r}"
    msg = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}: {msg}" if where and not msg.startswith(where) else msg


def parse_text(text: str, path: str) -> tuple[list[Question], list[Problem], dict[str, Location]]:
    """Parse one YAML document. Returns the valid questions, every problem, and locations."""
    yaml = YAML(typ="rt")
    try:
        root = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line, mark.column) if mark else (0, 0)
        what = " ".join(str(s) for s in (exc.context, exc.problem) if s)
        return [], [Problem(Location(path, line + 1, col + 1), f"YAML syntax error: {what}")], {}

    if root is None:
        return [], [Problem(Location(path, 1, 1), "the file is empty; expected 'questions:'")], {}
    if not isinstance(root, CommentedMap):
        line, col = (root.lc.line, root.lc.col) if hasattr(root, "lc") else (0, 0)
        where = Location(path, line + 1, col + 1)
        return [], [Problem(where, "expected a mapping with a 'questions' list at the top")], {}

    problems: list[Problem] = []
    questions: list[Question] = []
    locations: dict[str, Location] = {}
    # Validate each question separately so one broken question does not hide the others' errors.
    top = {k: v for k, v in _plain(root).items() if k != "questions"}
    raw_questions = root.get("questions")
    try:
        QuestionFile.model_validate({**top, "questions": [{}] if raw_questions else []})
    except ValidationError as exc:
        for err in exc.errors():
            if err["loc"][:1] == ("questions",) and len(err["loc"]) > 1:
                continue  # the placeholder question; real ones are checked below
            line, col = _position(root, err["loc"])
            problems.append(Problem(Location(path, line + 1, col + 1), _message(err)))
    if isinstance(raw_questions, CommentedSeq):
        for index, raw in enumerate(raw_questions):
            line, col = raw_questions.lc.item(index)
            here = Location(path, line + 1, col + 1)
            try:
                question = Question.model_validate(_plain(raw))
            except ValidationError as exc:
                for err in exc.errors():
                    ql, qc = _position(raw, err["loc"]) if hasattr(raw, "lc") else (line, col)
                    problems.append(Problem(Location(path, ql + 1, qc + 1), _message(err)))
                continue
            questions.append(question)
            locations[question.id] = here
    elif raw_questions is not None:
        line, col = root.lc.key("questions")
        problems.append(Problem(Location(path, line + 1, col + 1), "'questions' must be a list"))
    return questions, problems, locations


def content_files(content_dir: Path) -> list[Path]:
    return sorted([*content_dir.glob("*.yaml"), *content_dir.glob("*.yml")])


def load_bank(content_dir: Path) -> Bank:
    """Read and validate every YAML file in ``content_dir``; raise ContentError if any fail."""
    if not content_dir.is_dir():
        raise ContentError(
            [Problem(Location(str(content_dir), 1, 1), "content directory not found")]
        )
    files = content_files(content_dir)
    if not files:
        where = Location(str(content_dir), 1, 1)
        raise ContentError([Problem(where, "no question files (*.yaml) in the content directory")])

    problems: list[Problem] = []
    questions: list[Question] = []
    locations: dict[str, Location] = {}
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(Problem(Location(str(path), 1, 1), f"cannot read file: {exc}"))
            continue
        found, file_problems, file_locations = parse_text(text, str(path))
        problems.extend(file_problems)
        for question in found:
            first = locations.get(question.id)
            if first is not None:
                problems.append(
                    Problem(
                        file_locations[question.id],
                        f"duplicate id {question.id!r} (first defined at {first})",
                    )
                )
                continue
            questions.append(question)
            locations[question.id] = file_locations[question.id]
    if problems:
        raise ContentError(problems)
    return Bank(tuple(questions), locations)


def json_schema() -> str:
    """The JSON Schema of a question file, for editors (YAML language servers)."""
    schema = QuestionFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Transfer-learning tutor question file"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def iter_snippets(bank: Bank) -> Iterator[tuple[Question, Location]]:
    """Questions that carry code, with where they are defined (for ``content check --execute``)."""
    for question in bank.questions:
        if question.code:
            yield question, bank.locations[question.id]
