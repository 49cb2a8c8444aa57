"""Known TensorFlow errors -> short explanations a learner can act on.

The rules are data (``explanations.yaml`` beside this file) so that content authors can add
one without touching code. Every rule carries an example snippet that must trigger it and a
near miss that must not; the tests run both in the real sandbox.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import string
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.runner.result import ModelInfo, RunResult, Status
from bot.tutor import safe_yaml

RULES_FILE = Path(__file__).with_name("explanations.yaml")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Between(_Strict):
    """A numeric fact within bounds (either may be left out)."""

    at_least: float | None = None
    at_most: float | None = None

    def test(self, value: object) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        low, high = self.at_least, self.at_most
        return (low is None or value >= low) and (high is None or value <= high)


FactTest = bool | int | float | str | Between


def _fact_matches(test: FactTest, value: object) -> bool:
    if isinstance(test, Between):
        return test.test(value)
    # True must not equal 1: compare types as well as values.
    return type(value) is type(test) and value == test


class When(_Strict):
    status: Status | None = None
    limit: str | None = None  # the name of the limit that ended the run, e.g. tmpfs_mb
    exception: str | None = None
    message: str | None = None
    stderr: str | None = None
    # Facts of a model left in the namespace (ModelInfo.facts): some model must have them all.
    model: dict[str, FactTest] | None = None

    @field_validator("message", "stderr")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:  # not a ValueError: pydantic would let it escape unpositioned
                raise ValueError(f"not a regular expression: {exc}") from None
        return value


class Rule(_Strict):
    id: str = Field(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
    when: When
    explanation: str = Field(min_length=1)
    example: str = Field(min_length=1, description="A snippet that triggers this rule.")
    near_miss: str = Field(
        min_length=1, description="A snippet close to the example that must not trigger it."
    )

    def match(self, result: RunResult) -> dict[str, str] | None:
        """The values for the explanation's {fields} if the rule applies, else None."""
        w = self.when
        if w.status is not None and result.status is not w.status:
            return None
        if w.limit is not None and (result.limit is None or result.limit.name != w.limit):
            return None
        exc = result.exception
        if w.exception is not None and (exc is None or exc.type != w.exception):
            return None
        fields: dict[str, str] = {}
        for pattern, text in ((w.message, exc.message if exc else None), (w.stderr, result.stderr)):
            if pattern is None:
                continue
            if text is None or (found := re.search(pattern, text)) is None:
                return None
            fields |= {k: v for k, v in found.groupdict().items() if v is not None}
        if w.model is not None:
            model = _model_with(w.model, result.models)
            if model is None:
                return None
            fields["model"] = model.name
            fields |= {k: _show(v) for k, v in model.facts.items()}
        if result.limit is not None:
            fields["limit"] = f"{result.limit.value:g}"
        if exc is not None and exc.line is not None:
            fields["line"] = str(exc.line)
        return fields

    def render(self, fields: dict[str, str]) -> str:
        # Unknown or unmatched {names} (an alternative branch of the regex) render as "".
        names = [n for _, n, _, _ in string.Formatter().parse(self.explanation) if n]
        return self.explanation.format_map({n: fields.get(n, "") for n in names})


def _model_with(tests: dict[str, FactTest], models: tuple[ModelInfo, ...]) -> ModelInfo | None:
    for model in models:
        if all(k in model.facts and _fact_matches(t, model.facts[k]) for k, t in tests.items()):
            return model
    return None


def _show(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


class RuleFile(_Strict):
    rules: list[Rule]


@dataclasses.dataclass(frozen=True)
class Explainer:
    rules: tuple[Rule, ...]

    @classmethod
    def load(cls, path: Path = RULES_FILE) -> Explainer:
        """The rules in ``path``, read like content: bounded, or ContentError at path:line:col."""
        doc = safe_yaml.load(path)
        problems = list(doc.problems)
        if () not in doc.reported:
            try:
                rules = RuleFile.model_validate(doc.data).rules
            except ValidationError as exc:
                problems.extend(doc.problems_of(exc.errors()))
            else:
                if not problems:
                    return cls(tuple(rules))
        raise safe_yaml.ContentError(problems)

    def rule_for(self, result: RunResult) -> tuple[Rule, dict[str, str]] | None:
        for rule in self.rules:
            fields = rule.match(result)
            if fields is not None:
                return rule, fields
        return None

    def explain(self, result: RunResult) -> RunResult:
        """``result`` with its explanation filled in (unchanged when no rule matches)."""
        found = self.rule_for(result)
        if found is None:
            return result
        rule, fields = found
        return dataclasses.replace(result, explanation=rule.render(fields))


@functools.cache
def default_explainer() -> Explainer:
    return Explainer.load()
