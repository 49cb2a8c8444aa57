"""``content check --execute``: run every content snippet and compare with its ``expect``.

A mismatch is a Problem at the question's file:line:column, like any other content error.
Results that match are stored in the ResultCache, so "Run it" on that snippet answers at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from bot.runner.cache import ResultCache
from bot.runner.pool import Runner
from bot.runner.result import RunResult, Status
from bot.tutor.content import Bank, Expect, Location, Problem, Question, iter_snippets


@dataclass(frozen=True)
class Checked:
    question: Question
    location: Location
    result: RunResult
    problems: tuple[Problem, ...]


def _type_matches(expected: str, actual: str) -> bool:
    # "ValueError" or a dotted name ending in the class name, e.g. "tf.errors.InvalidArgumentError"
    return actual == expected or expected.endswith("." + actual)


def compare(expect: Expect, result: RunResult) -> list[str]:
    """What differs between ``expect`` and ``result`` (empty when they agree)."""
    exc = result.exception
    if result.status not in (Status.OK, Status.ERROR):
        limit = f" ({result.limit.describe()})" if result.limit else ""
        return [f"the snippet did not finish: {result.status.value}{limit}"]
    problems: list[str] = []
    if expect.error is not None:
        if exc is None:
            problems.append(f"expected {expect.error.type} but the snippet ran without error")
        else:
            if not _type_matches(expect.error.type, exc.type):
                problems.append(
                    f"expected {expect.error.type} but it raised {exc.type}: {exc.message}"
                )
            if expect.error.message and expect.error.message not in exc.message:
                problems.append(
                    f"the {exc.type} message does not contain {expect.error.message!r}: "
                    f"{exc.message!r}"
                )
    elif exc is not None:
        where = f" at line {exc.line}" if exc.line else ""
        problems.append(f"the snippet raised {exc.type}{where}: {exc.message}")
    if (
        expect.output_shape is not None
        or expect.params is not None
        or (expect.trainable_params is not None)
    ):
        model = result.model(expect.model)
        if model is None:
            names = ", ".join(m.name for m in result.models) or "none"
            wanted = f"named {expect.model!r}" if expect.model else "to check (name it `model`)"
            problems.append(f"no model {wanted}; models found: {names}")
        else:
            for key in ("output_shape", "params", "trainable_params"):
                want, got = getattr(expect, key), getattr(model, key)
                if want is not None and want != got:
                    problems.append(f"{model.name}: expected {key} {want}, got {got}")
    if expect.stdout is not None and expect.stdout not in result.stdout:
        problems.append(f"stdout does not contain {expect.stdout!r}")
    return problems


async def run_or_cached(
    runner: Runner,
    room: asyncio.Semaphore,
    code: str,
    user: str,
    cache: ResultCache | None,
    use_cache: bool,
) -> RunResult:
    """The cached result of ``code``, or a fresh run once ``room`` lets it into the pool's
    queue. Storing the result is the caller's decision (only results that check out)."""
    result = cache.get(code) if cache is not None and use_cache else None
    if result is None:
        async with room:
            result = await runner.run(code, user=user, use_cache=False)
    return result


async def check_snippets(
    bank: Bank,
    runner: Runner,
    cache: ResultCache | None = None,
    *,
    use_cache: bool = True,
    on_checked: Callable[[Checked], None] | None = None,
) -> list[Checked]:
    """Run (or find in the cache) every snippet of ``bank``; return each with its problems.

    The one entry point for content verification: ``content check --execute`` calls it, and so
    does the test suite, once per session (tests/runner/conftest.py), sharing the results with
    the equality test; so a caller that needs content results should take them from here."""
    # The pool refuses more waiting jobs than its queue holds; the bank may have more snippets.
    room = asyncio.Semaphore(max(1, runner.settings.queue_limit))

    async def one(question: Question, location: Location) -> Checked:
        code = question.code or ""
        # One "user" per question: the pool runs them side by side, one per worker.
        result = await run_or_cached(runner, room, code, f"content:{question.id}", cache, use_cache)
        messages = compare(question.expect, result) if question.expect else []
        if question.expect and not messages and cache is not None and not result.cached:
            cache.put(code, result)
        checked = Checked(
            question,
            location,
            result,
            tuple(Problem(location, f"{question.id}: {m}") for m in messages),
        )
        if on_checked is not None:
            on_checked(checked)
        return checked

    return list(await asyncio.gather(*(one(q, loc) for q, loc in iter_snippets(bank))))
