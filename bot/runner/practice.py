"""Practice variants answered by execution: run each variant's code, read its answer.

The answer of a variant (bot/tutor/practice.py) is what running it shows: the model's output
shape or parameter count, "runs" for an outcome question, or the exception's class name when the
code raises. Results are cached by code and library versions (ResultCache), so each variant is
computed once. ``check_templates`` runs every variant of every template and reports a template
whose claimed outcomes differ from what its variants do.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from bot.runner.cache import ResultCache
from bot.runner.pool import Runner
from bot.runner.result import RunResult, Status
from bot.runner.verify import run_or_cached
from bot.tutor.content import Problem, Question
from bot.tutor.practice import OK, RUNS, Template, Templates, Variant, render


def outcome_of(result: RunResult) -> str:
    """The outcome: "ok", the exception's class name, or the status of a run that did not finish."""
    if result.status is Status.OK:
        return OK
    if result.status is Status.ERROR and result.exception is not None:
        return result.exception.type
    return result.status.value


def answer_of(template: Template, result: RunResult) -> str | None:
    """What the learner must type for this result; None when the result has no answer (the
    run did not finish, or the model the template names is missing)."""
    outcome = outcome_of(result)
    if outcome != OK:
        return outcome if result.status is Status.ERROR else None
    if template.answer == "outcome":
        return RUNS
    model = result.model(template.model)
    if model is None:
        return None
    value = getattr(model, template.answer)
    return None if value is None else str(value)


@dataclass(frozen=True)
class Answered:
    variant: Variant
    result: RunResult
    answer: str | None

    @property
    def outcome(self) -> str:
        return outcome_of(self.result)

    def question(self) -> Question | None:
        if self.answer is None:
            return None
        return self.variant.question(self.answer, self.result.explanation)


async def answer_variants(
    variants: Sequence[Variant],
    runner: Runner,
    cache: ResultCache | None = None,
    *,
    use_cache: bool = True,
) -> list[Answered]:
    """Run (or find in the cache) each variant and read its answer."""
    room = asyncio.Semaphore(max(1, runner.settings.queue_limit))

    async def one(variant: Variant) -> Answered:
        result = await run_or_cached(runner, room, variant.code, variant.id, cache, use_cache)
        # Only finished runs are worth keeping: a timeout on a busy machine is not an answer.
        finished = result.status in (Status.OK, Status.ERROR)
        if cache is not None and finished and not result.cached:
            cache.put(variant.code, result)
        return Answered(variant, result, answer_of(variant.template, result))

    return list(await asyncio.gather(*(one(v) for v in variants)))


def coverage_problems(template: Template, answered: Sequence[Answered]) -> list[str]:
    """What differs between the outcomes ``template`` claims and those its variants produce."""
    seen = {a.outcome for a in answered}
    problems = []
    missing = [o for o in template.outcomes if o not in seen]
    if missing:
        problems.append(f"no variant produces the claimed outcome(s) {', '.join(missing)}")
    extra = sorted(seen - set(template.outcomes))
    for outcome in extra:
        example = next(a for a in answered if a.outcome == outcome)
        values = ", ".join(f"{k}={v!r}" for k, v in sorted(example.variant.values.items()))
        problems.append(f"{outcome} is not claimed, but {values} produces it")
    unanswered = [a for a in answered if a.answer is None and a.outcome in template.outcomes]
    if unanswered:
        problems.append(f"{len(unanswered)} variant(s) have no answer (no model to read it from)")
    return problems


async def check_templates(
    templates: Templates,
    runner: Runner,
    cache: ResultCache | None = None,
    *,
    use_cache: bool = True,
) -> list[Problem]:
    """Run every variant of every template; a Problem per template whose outcomes are off."""
    everything = [render(t, values) for t in templates.templates for values in t.combinations()]
    answered = await answer_variants(everything, runner, cache, use_cache=use_cache)
    problems = []
    for template in templates.templates:
        mine = [a for a in answered if a.variant.template is template]
        for message in coverage_problems(template, mine):
            problems.append(Problem(templates.locations[template.id], f"{template.id}: {message}"))
    return problems
