"""The verified-results cache, built in the background when a runner starts: so that "Run it"
on a fresh deployment answers at once, without anyone having run ``content check --execute``.

One content snippet at a time, each only when the pool is free (a warm worker waiting and no
learner's snippet queued, in the pool's queue or, on a fleet host, in the fleet's): learners
never wait behind it for more than the one snippet a worker is already running. A result is
stored only when it matches its question's ``expect`` (as ``content check --execute`` stores
it); snippets without an ``expect`` are not verified, so not stored.
"""

from __future__ import annotations

import asyncio
import logging

from bot.runner.cache import ResultCache
from bot.runner.pool import Runner, RunRefused
from bot.runner.sandbox import SandboxUnavailable
from bot.runner.verify import compare
from bot.tutor.content import Bank, iter_snippets

log = logging.getLogger(__name__)

USER = "prefill"  # the pool's "user" for these runs: one at a time, like a learner
RETRY_S = 30.0  # after a refusal (the pool recovering), try that snippet again this much later


async def fill_cache(pool: Runner, bank: Bank, cache: ResultCache) -> int:
    """Run every content snippet with an ``expect`` whose verified result is not stored yet;
    store those that match. Returns how many were stored."""
    todo = [q for q, _ in iter_snippets(bank) if q.expect and not cache.get(q.code or "")]
    if todo:
        log.info("verifying %d content snippet(s) in the background for the cache", len(todo))
    stored = 0
    for question in todo:
        code = question.code or ""
        assert question.expect is not None
        while True:
            await pool.wait_free(background=True)
            try:
                result = await pool.run(code, USER, use_cache=False)
                break
            except RunRefused as exc:
                log.info("cache prefill waits: %s", exc)
                await asyncio.sleep(RETRY_S)
            except SandboxUnavailable as exc:
                log.warning("cache prefill stopped: %s", exc)
                return stored
        problems = compare(question.expect, result)
        if problems:
            log.warning("%s does not match its expect: %s", question.id, "; ".join(problems))
            continue
        cache.put(code, result)
        stored += 1
    if todo:
        log.info("cache prefill done: %d of %d snippet(s) verified and stored", stored, len(todo))
    return stored


def start_filling(pool: Runner, bank: Bank | None) -> asyncio.Task[int] | None:
    """The background task for a runner process (service or fleet host), if it has a bank
    and the cache setting is on; None otherwise."""
    if bank is None or not pool.settings.prefill_cache or pool.cache is None:
        return None
    return asyncio.create_task(fill_cache(pool, bank, pool.cache), name="cache prefill")
