"""The Discord bot: a small ``AutoShardedBot`` subclass holding the tutor, the store and the
runner, and the start-up/shut-down around it. Features live in extensions (``bot.cogs``)."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager, suppress
from typing import Any, Final

import discord
from discord import app_commands
from discord.ext import commands

from bot.cogs.errors import ShuttingDown, TutorTree
from bot.cogs.snippets import RunGate, SnippetRunner
from bot.settings import Settings
from bot.tutor.content import Bank, load_bank
from bot.tutor.service import Tutor
from db import SqlStore, open_store

log = logging.getLogger(__name__)

EXTENSIONS: Final = (
    "bot.cogs.quiz",
    "bot.cogs.run",
    "bot.cogs.progress",
    "bot.cogs.help",
    "bot.cogs.moderation",
)


class _Auto:
    """Marker: build the runner from Settings.runner (tests pass a fake or None instead)."""


AUTO: Final = _Auto()


async def _start_runner(settings: Settings) -> SnippetRunner | None:
    """The sandboxed runner's pool, warming up in the background; None (and /run says so)
    when snippets cannot run on this machine (no bubblewrap)."""
    try:
        from bot.runner.cache import ResultCache
        from bot.runner.pool import Runner
        from bot.runner.sandbox import SandboxUnavailable
    except ImportError:
        log.warning("the snippet runner is not installed; /run is disabled")
        return None
    # Verified content snippets ("Run it" under a question) are answered from the cache.
    cache = ResultCache(settings.runner.cache_dir)  # type: ignore[attr-defined, unused-ignore]
    runner = Runner(settings.runner, cache=cache)
    try:
        await runner.start()
    except SandboxUnavailable as exc:
        log.warning("snippets cannot run here, /run is disabled: %s", exc)
        return None
    return runner


class TutorBot(commands.AutoShardedBot):
    """Holds the shared resources; extensions reach them as ``interaction.client.<name>``."""

    def __init__(
        self,
        settings: Settings,
        *,
        bank: Bank | None = None,
        store: SqlStore | None = None,
        runner: SnippetRunner | _Auto | None = AUTO,
    ) -> None:
        # The bot never joins voice: no warning about voice libraries it does not need.
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False
        super().__init__(
            command_prefix=commands.when_mentioned,
            help_command=None,
            # Slash commands and buttons need no privileged intent (no message content, no
            # member list); "guilds" keeps the channel and guild cache that interactions use.
            intents=discord.Intents(guilds=True),
            # Nothing the bot says may ping anyone, whatever a learner's snippet prints.
            allowed_mentions=discord.AllowedMentions.none(),
            tree_cls=TutorTree,
            allowed_contexts=app_commands.AppCommandContext(
                guild=True, dm_channel=True, private_channel=False
            ),
            allowed_installs=app_commands.AppInstallationType(guild=True, user=False),
            shard_count=settings.discord.shard_count,
        )
        self.settings = settings
        self.bank = bank
        self.store = store
        self._runner_choice = runner
        self.runner: SnippetRunner | None = None
        self.run_gate = RunGate(settings.discord.run_cooldown_s)
        self._tutor: Tutor | None = None
        self.closing = False
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def tutor(self) -> Tutor:
        if self._tutor is None:
            raise RuntimeError("the bot is not set up yet (setup_hook has not run)")
        return self._tutor

    async def setup_hook(self) -> None:
        if self.bank is None:
            self.bank = load_bank(self.settings.content_dir)
        if self.store is None:
            self.store = await open_store(self.settings.database_url.get_secret_value())
        self._tutor = Tutor(self.bank, self.store)
        choice = self._runner_choice
        self.runner = await _start_runner(self.settings) if isinstance(choice, _Auto) else choice
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        if self.settings.dev_guild_id is not None:
            # Development: guild commands update instantly. Global sync is an explicit step
            # (`python -m bot sync-commands`), never done on every start.
            synced = await sync_commands(self, self.settings.dev_guild_id)
            log.info("synced %d commands to guild %s", len(synced), self.settings.dev_guild_id)

    async def on_ready(self) -> None:
        user = self.user
        log.info(
            "connected as %s (id %s): %d guilds, %s shards",
            user,
            user.id if user else "?",
            len(self.guilds),
            self.shard_count,
        )

    @asynccontextmanager
    async def work(self) -> AsyncIterator[None]:
        """Wraps every handler that touches the store or the runner, so that shutting down can
        wait for them (an answer is committed and acknowledged, not cut off)."""
        if self.closing:
            raise ShuttingDown()
        self._in_flight += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._in_flight -= 1
            if not self._in_flight:
                self._idle.set()

    async def close(self) -> None:
        if self.closing:
            await super().close()
            return
        self.closing = True
        grace = self.settings.discord.shutdown_grace_s
        try:
            await asyncio.wait_for(self._idle.wait(), grace)
        except TimeoutError:
            log.warning("%d interactions still running after %.0f s", self._in_flight, grace)
        if self.runner is not None:
            # Snippets still running end now; their handlers answer with what they got.
            await self.runner.close()
            with suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), 2.0)
        await super().close()
        if self.store is not None:
            await self.store.close()
        log.info("shut down cleanly")


def create_bot(
    settings: Settings,
    *,
    bank: Bank | None = None,
    store: SqlStore | None = None,
    runner: SnippetRunner | _Auto | None = AUTO,
) -> TutorBot:
    """The bot, not started. Whatever is not given is opened in ``setup_hook`` from
    ``settings`` (content, database, runner) and closed by ``close()``."""
    return TutorBot(settings, bank=bank, store=store, runner=runner)


async def sync_commands(bot: commands.Bot, guild_id: int | None = None) -> list[Any]:
    """Publish the slash commands: to one guild (instant, for development) or globally."""
    if guild_id is None:
        return await bot.tree.sync()
    guild = discord.Object(id=guild_id)
    bot.tree.copy_global_to(guild=guild)
    return await bot.tree.sync(guild=guild)


async def run_until_stopped(
    bot: TutorBot,
    main: Coroutine[Any, Any, None],
    signals: tuple[signal.Signals, ...] = (signal.SIGTERM, signal.SIGINT),
) -> None:
    """Run ``main`` (``bot.start(token)``) until it ends or a signal arrives; then close the
    bot, which lets in-flight answers commit, stops the runner and closes the database."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    main_task = asyncio.create_task(main)
    stop_task = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({main_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
        if stop.is_set():
            log.info("signal received: shutting down")
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
        stop_task.cancel()
        await bot.close()
        if not main_task.done():
            main_task.cancel()
        with suppress(asyncio.CancelledError):
            await main_task  # re-raises a failed login or connection


async def serve(bot: TutorBot, token: str) -> None:
    """Connect to Discord and serve until SIGTERM or SIGINT."""
    async with bot:
        await run_until_stopped(bot, bot.start(token))
