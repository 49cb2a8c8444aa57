"""Practice variants answered by execution: run each variant's code, read its answer.

The answer of a variant (bot/tutor/practice.py) is what running it shows: the model's output
shape or parameter count, "runs" for an outcome question, or the exception's class name when the
code raises. Results are cached by code and library versions (ResultCache), so each variant is
computed once. ``check_templates`` runs every variant of every template and reports a template
whose claimed outcomes differ from what its variants do.

``VariantBank`` is what /practice draws from (the tutor's PracticeSource). The cache is the
runner's results directory (``runner.cache_dir``, next to the database by default), shared with
``content check --execute``: a deployment whose check ran has every answer at once, and a
variant computed by the bot is not run again by the check, nor after a restart. On a fresh
deployment the bot computes the missing variants in the background, one at a time (one worker
of the pool at most); a /practice that finds none of its topic ready waits for one run only
(as long as a /run), never for the whole grid.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from bot.runner.api import RunRefused, SandboxUnavailable, SnippetRunner
from bot.runner.cache import ResultCache
from bot.runner.pool import Runner
from bot.runner.result import RunResult, Status
from bot.runner.verify import run_or_cached
from bot.tutor.content import Problem, Question
from bot.tutor.practice import OK, RUNS, Template, Templates, Variant, render, variants
from bot.tutor.practice_mode import PracticeUnavailable, choose

log = logging.getLogger(__name__)


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


# A /practice that finds nothing ready computes at most this many variants before giving up
# (each that gives no answer, e.g. a timeout on a busy machine, is set aside until a restart).
COMPUTE_ATTEMPTS = 3
# After the runner refuses a background run (busy queue, workers recovering), wait this long.
WARM_RETRY_S = 30.0


class VariantBank:
    """Generated questions whose answers come from runs: the tutor's PracticeSource.

    Every variant of every template is known by id from the start (rendering is cheap); its
    answer is read from the results cache, or computed by running it (at most once at a time
    per variant: a second learner asking for it waits for the same run)."""

    def __init__(
        self, templates: Templates, cache: ResultCache, runner: SnippetRunner | None
    ) -> None:
        self.cache = cache
        self.runner = runner
        self.all = [render(t, v) for t in templates.templates for v in t.combinations()]
        self._by_id = {v.id: v for v in self.all}
        # Round-robin over templates: warming up makes every template (and topic) usable soon.
        self._warm_order = variants(templates.templates, len(self.all), seed=0)
        self.topics = tuple(dict.fromkeys(t.topic for t in templates.templates))
        self._known: dict[str, Question] = {}
        self._unusable: set[str] = set()  # ran, and gave no answer: not offered until a restart
        self._computing: dict[str, asyncio.Future[Question | None]] = {}
        self._warming: asyncio.Task[None] | None = None
        self.runs = 0  # sandbox runs started by this bank (for /practice and the warm-up)
        for variant in self.all:
            self._learn(variant, cache.get(variant.code))

    @property
    def ready(self) -> int:
        """How many variants have a known answer."""
        return len(self._known)

    def _learn(self, variant: Variant, result: RunResult | None) -> Question | None:
        if result is None:
            return None
        answered = Answered(variant, result, answer_of(variant.template, result))
        question = answered.question()
        if question is None:
            self._unusable.add(variant.id)
        else:
            self._known[variant.id] = question
        return question

    def question(self, question_id: str) -> Question | None:
        found = self._known.get(question_id)
        variant = self._by_id.get(question_id)
        if found is None and variant is not None and question_id not in self._unusable:
            # Computed since we looked (by `content check --execute`, or another process).
            found = self._learn(variant, self.cache.get(variant.code))
        return found

    async def next(
        self, topic: str | None, seen: Collection[str], avoid: Collection[str], rng: random.Random
    ) -> Question | None:
        for _ in range(COMPUTE_ATTEMPTS):
            pick = choose(self.all, self._known, self._unusable, topic, seen, avoid, rng)
            if pick.compute is None:
                return pick.question
            question = await self._compute(pick.compute)
            if question is not None:
                return question
        raise PracticeUnavailable(
            "The practice questions of this topic could not be computed just now (the sandbox "
            "is busy). Try again in a minute, or /quiz meanwhile."
        )

    async def _compute(self, variant: Variant) -> Question | None:
        """The variant's question once its run has finished (None: the run gave no answer)."""
        if self.runner is None:
            raise PracticeUnavailable(
                "Practice questions are computed in the sandbox, which is not available here, "
                "and none is ready yet."
            )
        running = self._computing.get(variant.id)
        if running is None:
            running = asyncio.ensure_future(self._run(self.runner, variant))
            self._computing[variant.id] = running
            running.add_done_callback(lambda _: self._computing.pop(variant.id, None))
        # Shielded: a learner's interaction ending early does not cancel a run others await.
        return await asyncio.shield(running)

    async def _run(self, runner: SnippetRunner, variant: Variant) -> Question | None:
        self.runs += 1
        try:
            # One "user" per variant: the pool runs one snippet per user at a time.
            result = await runner.run(variant.code, user=f"practice:{variant.id}")
        except (RunRefused, SandboxUnavailable) as exc:
            raise PracticeUnavailable(str(exc)) from exc
        if result.status not in (Status.OK, Status.ERROR):
            # A timeout or a limit on a busy machine is not an answer: not cached, and not
            # offered again until a restart.
            log.warning("practice variant %s gave no answer: %s", variant.id, result.status.value)
            self._unusable.add(variant.id)
            return None
        if not result.cached:
            await asyncio.to_thread(self.cache.put, variant.code, result)
        return self._learn(variant, result)

    def start_warming(self) -> None:
        """Compute the variants without a known answer in the background, one at a time."""
        if self._warming is None and self.runner is not None:
            self._warming = asyncio.create_task(self._warm(), name="practice warm-up")

    async def _warm(self) -> None:
        for variant in self._warm_order:
            while variant.id not in self._known and variant.id not in self._unusable:
                try:
                    await self._compute(variant)
                except PracticeUnavailable as exc:
                    log.info("practice warm-up waits %.0f s: %s", WARM_RETRY_S, exc)
                    await asyncio.sleep(WARM_RETRY_S)
        log.info("practice: %d of %d variants have answers", self.ready, len(self.all))

    async def close(self) -> None:
        """Stop computing (before the runner stops)."""
        pending = [t for t in (self._warming, *self._computing.values()) if t is not None]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
