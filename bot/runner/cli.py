"""The runner's command-line commands: ``run-snippet``, ``content check --execute``,
``weights fetch``. Called by ``bot.__main__`` with the Settings it built."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import uuid
from pathlib import Path

from bot.runner.cache import ResultCache
from bot.runner.files import describe_saved, files_dir_of, save_files
from bot.runner.pool import Runner, RunRefused
from bot.runner.practice import answer_variants, check_templates
from bot.runner.result import RunResult
from bot.runner.sandbox import SandboxUnavailable
from bot.runner.verify import Checked, check_snippets
from bot.runner.weights import DEFAULT_MODELS, fetch, models_in
from bot.settings import Settings
from bot.tutor.content import Bank, iter_snippets, load_bank
from bot.tutor.practice import Templates, render, variants

log = logging.getLogger(__name__)


def _refused(exc: Exception) -> str:
    # RunnerRecovering speaks to a learner; here the cause (why workers fail to start) matters.
    cause = f"\n{exc.__cause__}" if isinstance(exc, RunRefused) and exc.__cause__ else ""
    return f"error: {exc}{cause}"


def run_snippet(settings: Settings, source: str, as_json: bool, layers: bool = False) -> int:
    """Exit 0 when the snippet ran without error, 1 when it did not, 2 when it could not run.
    With ``layers``, each model's layer table follows the result; without ``as_json``, the
    files the snippet wrote are saved next to the database and their paths printed."""
    try:
        code = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"error: cannot read {source}: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(_run_snippet(settings, code, as_json, layers))


async def _run_snippet(settings: Settings, code: str, as_json: bool, layers: bool) -> int:
    try:
        if settings.runner.url is not None:
            result = await _through_fleet(settings, code)
        else:
            s = settings.runner.model_copy(update={"workers": 1, "warmup_models": ()})
            async with Runner(s, spawn_limit=1) as runner:
                result = await runner.run(code, user="cli", use_cache=False)
    except (SandboxUnavailable, RunRefused) as exc:
        print(_refused(exc), file=sys.stderr)
        return 2
    if as_json:
        # Everything, layers and files included: a program reads it and picks.
        print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
        return 0 if result.ok else 1
    print(result.render())
    if layers:
        print("\n" + (result.layer_tables() or "No Keras model was left in the namespace."))
    if result.files:
        try:
            paths = save_files(result, files_dir_of(settings.database_url.get_secret_value()))
        except OSError as exc:
            print(f"Could not save the files the snippet wrote: {exc}", file=sys.stderr)
        else:
            print("\n" + describe_saved(paths))
    return 0 if result.ok else 1


async def _through_fleet(settings: Settings, code: str) -> RunResult:
    from redis.exceptions import RedisError

    from bot.runner.fleet import FleetRunner

    runner = FleetRunner(settings.runner)
    try:
        # Its own "user": a command-line run never waits for a learner's lock or cooldown.
        return await runner.run(code, user=f"cli:{uuid.uuid4().hex}", use_cache=False)
    except RedisError as exc:
        raise SandboxUnavailable(f"cannot reach the runner fleet: {exc}") from None
    finally:
        await runner.close()


def serve(settings: Settings, group: str | None, name: str | None, exit_with_stdin: bool) -> int:
    """``runner serve``: the local service on its socket, or a fleet host with a URL."""
    bank = _prefill_bank(settings)
    if settings.runner.url is not None:
        from bot.runner.host import serve_fleet

        return asyncio.run(serve_fleet(settings.runner, name, bank))
    from bot.runner.service import serve_socket

    s = settings.runner
    service = serve_socket(
        s, s.socket_path, group=group, exit_with_stdin=exit_with_stdin, bank=bank
    )
    return asyncio.run(service)


def _prefill_bank(settings: Settings) -> Bank | None:
    """The content whose snippets the runner verifies in the background, if it can read it (a
    runner host may have no content: then it only serves)."""
    if not settings.runner.prefill_cache:
        return None
    try:
        return load_bank(settings.content_dir)
    except Exception as exc:  # ContentError, a missing folder: serve anyway
        where = settings.content_dir
        log.warning("no cache prefill: the content at %s cannot be read: %s", where, exc)
        return None


async def check_execute(
    settings: Settings, bank: Bank, templates: Templates | None = None, use_cache: bool = True
) -> int:
    templates = templates or Templates()
    snippets = list(iter_snippets(bank))
    cache = ResultCache(settings.runner.cache_dir)
    codes = [q.code or "" for q, _ in snippets] + [
        render(t, values).code for t in templates.templates for values in t.combinations()
    ]
    to_run = [code for code in codes if not (use_cache and cache.get(code))]
    workers = max(1, min(settings.runner.workers, len(to_run)))
    # Every snippet needs its own single-use worker; no warm-up, no spare ones left over.
    s = settings.runner.model_copy(update={"workers": workers, "warmup_models": ()})

    def report(checked: Checked) -> None:
        r = checked.result
        how = "cached" if r.cached else f"{r.duration_s:.1f} s"
        verdict = "ok" if not checked.problems else "MISMATCH"
        print(f"  {checked.question.id}: {r.status.value} ({how}) {verdict}", file=sys.stderr)

    # Started by its first run: when every snippet was verified before, no sandbox is needed.
    runner = Runner(s, spawn_limit=len(to_run))
    try:
        results = await check_snippets(bank, runner, cache, use_cache=use_cache, on_checked=report)
        template_problems = await check_templates(templates, runner, cache, use_cache=use_cache)
    except (SandboxUnavailable, RunRefused) as exc:
        print(_refused(exc), file=sys.stderr)
        return 1
    finally:
        await runner.close()
    problems = [p for checked in results for p in checked.problems] + template_problems
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"{len(problems)} snippet problem(s).", file=sys.stderr)
        return 1
    variants = sum(t.variant_count for t in templates.templates)
    print(
        f"{len(bank)} questions valid; {len(results)} snippets ran as their questions expect; "
        f"{variants} variants of {len(templates)} practice templates produce what they claim."
    )
    return 0


async def practice(
    settings: Settings, templates: Templates, count: int, seed: int, topic: str | None
) -> int:
    """Print ``count`` generated questions, each with the answer its run computed."""
    chosen = variants(templates.templates, count, seed, topic)
    if not chosen:
        where = f" of topic {topic!r}" if topic else ""
        print(f"error: no practice templates{where}", file=sys.stderr)
        return 1
    cache = ResultCache(settings.runner.cache_dir)
    to_run = [v for v in chosen if not cache.get(v.code)]
    s = settings.runner.model_copy(
        update={"workers": max(1, min(settings.runner.workers, len(to_run))), "warmup_models": ()}
    )
    runner = Runner(s, spawn_limit=len(to_run))
    try:
        answered = await answer_variants(chosen, runner, cache)
    except (SandboxUnavailable, RunRefused) as exc:
        print(_refused(exc), file=sys.stderr)
        return 1
    finally:
        await runner.close()
    for number, item in enumerate(answered, 1):
        question = item.question()
        print(f"--- {number}. {item.variant.id} ({item.variant.template.topic})")
        print(item.variant.prompt)
        print()
        print(item.variant.code.rstrip())
        print()
        if question is None:
            print(f"(no answer: the run ended with {item.outcome})")
        else:
            print(f"Answer: {question.correct_answer}")
        print()
    return 0 if all(a.answer is not None for a in answered) else 1


def weights_fetch(settings: Settings, models: list[str], bank: Bank | None) -> int:
    if not models:
        used = models_in(q.code or "" for q, _ in iter_snippets(bank)) if bank else []
        models = used or list(DEFAULT_MODELS)
    print(f"Fetching ImageNet weights for {', '.join(models)} into {settings.runner.weights_dir}")
    return fetch(models, settings.runner.weights_dir)
