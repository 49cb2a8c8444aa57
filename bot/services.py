"""The composition root: the services both frontends use, built in one place.

``open_services`` opens the content, the database and the snippet runner from Settings (or takes
the ones a caller already has) and builds the tutor, the moderator and the run gate over them. The
Discord bot (``bot.client``) and the terminal chat (``bot.console``) receive the result; neither
they nor the cogs build a service or open the database themselves.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.runner.api import RunRefused, SandboxUnavailable, SnippetRunner
from bot.runner.cache import ResultCache
from bot.runner.gate import Gate, RunGate
from bot.runner.local import LocalService
from bot.runner.practice import VariantBank
from bot.settings import Settings
from bot.tutor.content import Bank, load_bank
from bot.tutor.dashboard import WebAccess
from bot.tutor.moderator import Moderator
from bot.tutor.practice import TEMPLATES_DIR, Templates, load_templates
from bot.tutor.reports import Reports
from bot.tutor.service import Tutor
from bot.tutor.study import study_default
from db import SqlStore, open_store

if TYPE_CHECKING:
    from bot.cluster import IdentifyLock
    from bot.runner.fleet import FleetRunner

log = logging.getLogger(__name__)


class Start(Enum):
    """When the real runner starts its sandboxed workers."""

    NOW = "now"  # warming up in the background from the start (the Discord bot)
    ON_FIRST_RUN = "on first run"  # when the first snippet comes (the terminal chat)


@dataclass
class Services:
    """What the frontends share. ``runner`` is None where snippets cannot run (no bubblewrap);
    it is a plain attribute so that a benchmark can swap it while the bot runs."""

    bank: Bank
    store: SqlStore
    tutor: Tutor
    moderator: Moderator
    runner: SnippetRunner | None
    run_gate: Gate
    practice: VariantBank  # /practice's variants and their answers
    web: WebAccess  # the web leaderboard switch and dashboard links (bot/web/)
    reports: Reports  # learners' reports on questions, per-question statistics
    # With a shared Redis (several bot processes, docs/deploy.md): the IDENTIFY turns, and
    # the client behind them and the run gate (closed with the services).
    identify: IdentifyLock | None = None
    redis: Any = None

    @property
    def files_dir(self) -> Path:
        """Where files for the user go (charts, exports): next to a SQLite database, else
        data/."""
        url = self.store.url
        database = url.database if url.get_backend_name() == "sqlite" else None
        return Path(database).parent if database else Path("data")

    async def close(self) -> None:
        """Stop computing practice variants, stop the runner (snippets still running end now),
        then close the database."""
        await self.practice.close()
        if self.runner is not None:
            await self.runner.close()
        if self.redis is not None:
            await self.redis.aclose()
        await self.store.close()


def build_runner(settings: Settings) -> LocalService | FleetRunner:
    """The bot's runner client, not started. The bot process never spawns a sandbox: by default
    it talks to the runner service on ``runner.socket_path`` (bot.runner.local starts one as a
    child when none answers there, and restarts it if it dies); with ``runner.url`` it sends
    jobs to a runner fleet through Redis (bot.runner.fleet). Verified content snippets ("Run it"
    under a question) are answered from the runner's results cache."""
    if settings.runner.url is not None:
        from bot.runner.fleet import FleetRunner  # redis-py: only for a fleet (0.2 s to import)

        return FleetRunner(settings.runner, cooldown_s=settings.discord.run_cooldown_s)
    return LocalService(settings.runner)


async def start_runner(settings: Settings) -> LocalService | FleetRunner | None:
    """The runner, warming up in the background; None (and /run says so) when snippets cannot
    run on this machine (no bubblewrap)."""
    runner = build_runner(settings)
    try:
        await runner.start()
    except SandboxUnavailable as exc:
        log.warning("snippets cannot run here, /run is disabled: %s", exc)
        await runner.close()
        return None
    except RunRefused as exc:
        # Not started yet (the runner or Redis is slow or down): each /run tries again.
        log.warning("the runner is not ready yet: %s", exc)
    return runner


async def open_services(
    settings: Settings,
    *,
    bank: Bank | None = None,
    store: SqlStore | None = None,
    runner: SnippetRunner | Start | None = Start.NOW,
    templates: Templates | None = None,
) -> Services:
    """Everything not given is opened from ``settings``; ``Services.close`` closes it all,
    given or not. ``runner``: one to use (tests: a fake, or None for none), or when to start
    the real one."""
    bank = bank if bank is not None else load_bank(settings.content_dir)
    store = (
        store if store is not None else await open_store(settings.database_url.get_secret_value())
    )
    warm_up = runner is Start.NOW and settings.practice.warm_up
    if runner is Start.NOW:
        runner = await start_runner(settings)
    elif runner is Start.ON_FIRST_RUN:
        runner = build_runner(settings)
    # Answers already computed are read from the results cache (shared with `content check
    # --execute`); without a runner, only those are offered.
    if templates is None:
        templates = load_templates(settings.content_dir / TEMPLATES_DIR)
    cache = ResultCache(settings.runner.cache_dir)
    practice = await asyncio.to_thread(VariantBank, templates, cache, runner)
    if warm_up:
        practice.start_warming()
    cooldown_s = settings.discord.run_cooldown_s
    run_gate: Gate = RunGate(cooldown_s)
    identify = redis = None
    shared = settings.shared_redis_url()
    if shared is not None:
        # Several bot processes: what must hold across them lives in Redis (bot.cluster).
        from bot.cluster import IdentifyLock, SharedRunGate, connect

        redis = connect(shared)
        run_gate, identify = SharedRunGate(redis, cooldown_s), IdentifyLock(redis)
    return Services(
        bank=bank,
        store=store,
        tutor=Tutor(
            bank,
            store,
            shuffle=settings.quiz.shuffle_choices,
            study_default=study_default(settings.discord.study_mode),
            practice=practice,
            practice_xp_rate=settings.practice.xp_rate,
        ),
        moderator=Moderator(bank, store.moderation),
        runner=runner,
        run_gate=run_gate,
        practice=practice,
        web=build_web_access(settings, store),
        reports=build_reports(bank, store),
        identify=identify,
        redis=redis,
    )


def build_reports(bank: Bank, store: SqlStore) -> Reports:
    from db.reports import ReportQueries

    return Reports(bank, ReportQueries(store.database, store.learner_id), store.moderation)


def build_web_access(settings: Settings, store: SqlStore) -> WebAccess:
    from db.web import WebQueries

    web = settings.web
    return WebAccess(WebQueries(store.database), web.base_url(), timedelta(seconds=web.link_ttl_s))
