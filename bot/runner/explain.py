"""Known TensorFlow errors -> short explanations a learner can act on.

The rules are data (``explanations.yaml`` beside this file) so that content authors can add
one without touching code; every rule carries an example snippet that the tests run.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import string
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.runner.result import RunResult, Status
from bot.tutor import safe_yaml

RULES_FILE = Path(__file__).with_name("explanations.yaml")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class When(_Strict):
    status: Status | None = None
    limit: str | None = None  # the name of the limit that ended the run, e.g. tmpfs_mb
    exception: str | None = None
    message: str | None = None
    stderr: str | None = None

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
        if result.limit is not None:
            fields["limit"] = f"{result.limit.value:g}"
        if exc is not None and exc.line is not None:
            fields["line"] = str(exc.line)
        return fields

    def render(self, fields: dict[str, str]) -> str:
        # Unknown or unmatched {names} (an alternative branch of the regex) render as "".
        names = [n for _, n, _, _ in string.Formatter().parse(self.explanation) if n]
        return self.explanation.format_map({n: fields.get(n, "") for n in names})


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
