"""Practice templates: questions generated from a code template and a grid of values.

A template (``content/templates/*.yaml``) is a question whose code and prompt contain
``{placeholders}``; ``vary`` lists the values each placeholder takes. A *variant* is one
combination of them. The answer of a variant is never written by hand: the runner runs its code
and the answer is read from the result (``bot/runner/practice.py``): the model's output shape or
parameter count, or, when the code raises, the exception's class name. ``outcomes`` states which
outcomes the template claims to produce ("ok" and exception class names); ``content check
--execute`` runs every variant and fails when a claimed outcome never happens or an unclaimed
one does.

Learners get variants with ``/practice``; the rules for that are in ``practice_mode.py``.

Pure: no TensorFlow, no runner; rendering and choosing variants are deterministic functions of
the template and a seed.
"""

from __future__ import annotations

import hashlib
import itertools
import random
import string
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, HttpUrl, model_validator

from bot.tutor import safe_yaml
from bot.tutor.content import (
    PRACTICE_PREFIX,
    ContentError,
    Location,
    Problem,
    Question,
    Slug,
    Text,
    _Strict,
    validate_items,
)

OK = "ok"
# The answer of a variant that runs: its model's output shape or parameter count, or "runs".
AnswerKind = Literal["output_shape", "params", "trainable_params", "outcome"]
RUNS = "runs"
Value = str | int | float | bool | None
# Outcomes are "ok" or an exception class name, as the runner reports it.
Outcome = Annotated[str, Field(pattern=r"^(ok|[A-Za-z_][A-Za-z0-9_]*)$")]
# Under the content directory; not read as question files (those are only its *.yaml).
TEMPLATES_DIR = "templates"
# A template's grid is bounded: content check --execute runs every variant once.
MAX_VARIANTS = 64


def placeholders(text: str) -> set[str]:
    """The ``{names}`` used in ``text`` (``{{`` and ``}}`` are literal braces)."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


class Template(_Strict):
    id: Slug = Field(description="Unique among templates; variants are named after it.")
    topic: Slug
    difficulty: int = Field(ge=1, le=3)
    prompt: Text = Field(description="Shown to the learner, with {placeholders}.")
    code: Text = Field(description="A Python snippet with {placeholders}; {{ }} for braces.")
    vary: dict[Slug, tuple[Value, ...]] = Field(
        min_length=1, description="The values each placeholder takes."
    )
    answer: AnswerKind = Field(
        description="What the learner types when the code runs: the model's output_shape, "
        "params or trainable_params, or 'runs' (outcome). When it raises: the exception's name."
    )
    model: str | None = Field(
        default=None, description="The variable holding the model the answer is read from."
    )
    outcomes: tuple[Outcome, ...] = Field(
        min_length=1, description="'ok' and/or the exception class names the variants produce."
    )
    hint: Text
    explanation: Text = Field(description="Shown after the answer, with {placeholders}.")
    references: tuple[HttpUrl, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Template:
        for name, values in self.vary.items():
            if not values:
                raise ValueError(f"vary.{name} needs at least one value")
            if len(set(map(repr, values))) != len(values):
                raise ValueError(f"vary.{name} lists a value twice")
        used = placeholders(self.code) | placeholders(self.prompt)
        texts = {"prompt": self.prompt, "code": self.code, "hint": self.hint}
        texts["explanation"] = self.explanation
        for field_name, text in texts.items():
            unknown = placeholders(text) - set(self.vary)
            if unknown:
                raise ValueError(f"{field_name} uses {sorted(unknown)}, which vary does not list")
        unused = set(self.vary) - used
        if unused:
            raise ValueError(f"vary lists {sorted(unused)}, which neither code nor prompt uses")
        if placeholders(self.hint):
            raise ValueError("the hint is the same for every variant: no {placeholders}")
        count = self.variant_count
        if count > MAX_VARIANTS:
            raise ValueError(f"{count} variants; at most {MAX_VARIANTS} (every one is run)")
        if len(set(self.outcomes)) != len(self.outcomes):
            raise ValueError("outcomes lists one twice")
        return self

    @property
    def variant_count(self) -> int:
        count = 1
        for values in self.vary.values():
            count *= len(values)
        return count

    def combinations(self) -> Iterator[dict[str, Value]]:
        """Every variant's values, in a fixed order."""
        names = sorted(self.vary)
        for values in itertools.product(*(self.vary[n] for n in names)):
            yield dict(zip(names, values, strict=True))


class TemplateFile(_Strict):
    templates: list[Template] = Field(min_length=1)


@dataclass(frozen=True)
class Variant:
    """One rendered combination: what the runner runs and the learner reads."""

    template: Template
    values: Mapping[str, Value]
    prompt: str
    code: str

    @property
    def id(self) -> str:
        # Stable across runs and machines: the template and the code it produced.
        digest = hashlib.sha256(self.code.encode()).hexdigest()[:10]
        return f"{PRACTICE_PREFIX}{self.template.id[:30].rstrip('-_')}-{digest}"

    def question(self, answer: str, explanation: str | None = None) -> Question:
        """The variant as a short-answer question whose one accepted answer is ``answer``."""
        text = _fill(self.template.explanation, self.values)
        if explanation:
            text = f"{text}\n\n{explanation}"
        return Question(
            id=self.id,
            topic=self.template.topic,
            difficulty=self.template.difficulty,
            kind="short_answer",
            prompt=self.prompt,
            code=self.code,
            accept=(answer,),
            hint=self.template.hint,
            explanation=text,
            references=self.template.references,
        )


def _fill(text: str, values: Mapping[str, Value]) -> str:
    # A template writes {name!r} where it wants the Python literal (None, 'avg') in code.
    return text.format_map(dict(values))


def render(template: Template, values: Mapping[str, Value]) -> Variant:
    return Variant(
        template, dict(values), _fill(template.prompt, values), _fill(template.code, values)
    )


def variants(
    templates: Sequence[Template], count: int, seed: int, topic: str | None = None
) -> list[Variant]:
    """``count`` distinct variants, drawn with ``seed`` from the templates (of ``topic``).

    Round-robin over the templates in a seeded order, each template's combinations in a seeded
    order, so that a small count still shows several templates; the same seed gives the same
    list. Fewer than ``count`` when the templates have fewer combinations."""
    chosen = [t for t in templates if topic is None or t.topic == topic]
    rng = random.Random(seed)
    queues = []
    for template in sorted(chosen, key=lambda t: t.id):
        combos = list(template.combinations())
        rng.shuffle(combos)
        queues.append((template, combos))
    rng.shuffle(queues)
    out: list[Variant] = []
    while len(out) < count and any(combos for _, combos in queues):
        for template, combos in queues:
            if combos and len(out) < count:
                out.append(render(template, combos.pop()))
    return out


# --- loading ------------------------------------------------------------------------------------


def template_files(directory: Path) -> list[Path]:
    return sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])


@dataclass(frozen=True)
class Templates:
    """All templates, in file order, with where each was defined."""

    templates: tuple[Template, ...] = ()
    locations: Mapping[str, Location] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.templates)


def load_templates(directory: Path) -> Templates:
    """Every template in ``directory`` (none if it does not exist); ContentError lists every
    problem with its file, line and column, as for question files."""
    if not directory.is_dir():
        return Templates()
    problems: list[Problem] = []
    templates: list[Template] = []
    seen: dict[str, Location] = {}
    for path in template_files(directory)[: safe_yaml.MAX_FILES]:
        text = safe_yaml.read(path)
        if isinstance(text, Problem):
            problems.append(text)
            continue
        doc = safe_yaml.parse(text, str(path))
        problems.extend(doc.problems)
        if () in doc.reported:
            continue
        root = doc.data if isinstance(doc.data, dict) else {}
        valid, item_problems = validate_items(doc, root, "templates", TemplateFile, Template)
        problems.extend(item_problems)
        for template, here in valid:
            if template.id in seen:
                message = f"duplicate template id {template.id!r} (first at {seen[template.id]})"
                problems.append(Problem(here, message))
                continue
            seen[template.id] = here
            templates.append(template)
            for values in template.combinations():
                try:
                    render(template, values)
                except (KeyError, ValueError, IndexError, AttributeError) as exc:
                    message = f"{template.id}: cannot render {dict(values)}: {exc!r}"
                    problems.append(Problem(here, message))
                    break
    if problems:
        raise ContentError(problems)
    return Templates(tuple(templates), seen)
