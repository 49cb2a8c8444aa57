"""Question banks: YAML files -> validated, immutable Question objects.

The pydantic models below are the single source of truth for the content format; ``schema.json``
in the content directory is exported from them (``python -m bot content schema``). Every problem is
reported with the file, line and column it comes from, and all of them are reported at once, so an
author can fix a file in one pass.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationError, model_validator

from bot.tutor import safe_yaml
from bot.tutor.grading import format_shape, parse_shape

# Re-exported: the rest of the bot knows them as part of the content API.
from bot.tutor.safe_yaml import ContentError as ContentError
from bot.tutor.safe_yaml import Location as Location
from bot.tutor.safe_yaml import Problem as Problem

M = TypeVar("M", bound=BaseModel)
Slug = Annotated[str, Field(pattern=r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$", max_length=60)]
# Generated practice questions (bot/tutor/practice_mode.py) are stored under ids with this
# prefix, so that their attempts are told apart in SQL too; no question file may use it.
PRACTICE_PREFIX = "practice-"


def is_practice(question_id: str) -> bool:
    """Whether ``question_id`` names a generated practice variant, not a curriculum question."""
    return question_id.startswith(PRACTICE_PREFIX)
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
    pinned: bool = Field(
        default=False,
        description="Keep this choice at its place in the list when the others are shuffled "
        '(e.g. "All of the above" last).',
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


def parse_text(text: str, path: str) -> tuple[list[Question], list[Problem], dict[str, Location]]:
    """Parse one YAML document. Returns the valid questions, every problem, and locations."""
    return _questions(safe_yaml.parse(text, path))


def _questions(
    doc: safe_yaml.Document,
) -> tuple[list[Question], list[Problem], dict[str, Location]]:
    problems = doc.problems
    if () in doc.reported:
        return [], problems, {}  # the reader stopped: nothing below is worth checking
    root = doc.data
    if doc.empty:
        return (
            [],
            [*problems, Problem(doc.location(()), "the file is empty; expected 'questions:'")],
            {},
        )
    if not isinstance(root, dict):
        where = doc.location(())
        return (
            [],
            [*problems, Problem(where, "expected a mapping with a 'questions' list at the top")],
            {},
        )

    questions: list[Question] = []
    locations: dict[str, Location] = {}
    valid, item_problems = validate_items(doc, root, "questions", QuestionFile, Question)
    problems.extend(item_problems)
    for question, here in valid:
        if question.id in locations:
            problems.append(_duplicate(question.id, here, locations[question.id]))
            continue
        if is_practice(question.id):
            message = f"{question.id!r}: ids starting {PRACTICE_PREFIX!r} are for practice variants"
            problems.append(Problem(here, message))
            continue
        questions.append(question)
        locations[question.id] = here
    return questions, problems, locations


def validate_items(
    doc: safe_yaml.Document,
    root: dict[str, Any],
    key: str,
    file_model: type[BaseModel],
    item_model: type[M],
) -> tuple[list[tuple[M, Location]], list[Problem]]:
    """The valid items of the list under ``key``, each with its place, and every problem.

    Each item is validated separately, so that one broken item does not hide the others'
    errors; the rest of the file is validated against ``file_model`` with a placeholder item."""
    problems: list[Problem] = []
    raw_items = root.get(key)
    try:
        file_model.model_validate({**root, key: [{}] if raw_items else []})
    except ValidationError as exc:
        # Errors inside the placeholder item are skipped: real ones are checked below.
        errors = [e for e in exc.errors() if e["loc"][:1] != (key,) or len(e["loc"]) < 2]
        problems.extend(doc.problems_of(errors))
    valid: list[tuple[M, Location]] = []
    if isinstance(raw_items, list):
        for index, raw in enumerate(raw_items):
            try:
                item = item_model.model_validate(raw)
            except ValidationError as exc:
                problems.extend(doc.problems_of(exc.errors(), (key, index)))
                continue
            valid.append((item, doc.location((key, index))))
    elif raw_items is not None:
        problems.append(Problem(doc.location((key,)), f"'{key}' must be a list"))
    return valid, problems


def _duplicate(question_id: str, here: Location, first: Location) -> Problem:
    return Problem(here, f"duplicate id {question_id!r} (first defined at {first})")


def content_files(content_dir: Path) -> list[Path]:
    return sorted([*content_dir.glob("*.yaml"), *content_dir.glob("*.yml")])


def load_bank(content_dir: Path) -> Bank:
    """Read and validate every YAML file in ``content_dir``; raise ContentError if any fail.

    Bounded in time and memory: at most ``MAX_FILES`` files of ``MAX_FILE_BYTES`` each and
    ``MAX_TOTAL_BYTES`` in all, each read by ``safe_yaml`` (no aliases, bounded depth and size).
    """
    start = Location(str(content_dir), 1, 1)
    if not content_dir.is_dir():
        raise ContentError([Problem(start, "content directory not found")])
    files = content_files(content_dir)
    if not files:
        raise ContentError([Problem(start, "no question files (*.yaml) in the content directory")])
    if len(files) > safe_yaml.MAX_FILES:
        message = f"{len(files)} question files; at most {safe_yaml.MAX_FILES} are allowed"
        raise ContentError([Problem(start, message)])

    problems: list[Problem] = []
    questions: list[Question] = []
    locations: dict[str, Location] = {}
    total = 0
    for path in files:
        text = safe_yaml.read(path)
        if isinstance(text, Problem):
            problems.append(text)
            continue
        total += len(text)
        if total > safe_yaml.MAX_TOTAL_BYTES:
            message = f"more than {safe_yaml.MAX_TOTAL_BYTES // 2**20} MiB of question files"
            problems.append(Problem(Location(str(path), 1, 1), message))
            break
        doc = safe_yaml.parse(text, str(path))
        found, file_problems, file_locations = _questions(doc)
        problems.extend(file_problems)
        for question in found:
            first = locations.get(question.id)
            if first is not None:
                problems.append(_duplicate(question.id, file_locations[question.id], first))
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
