"""The Discord bot: a small ``AutoShardedBot`` subclass holding the shared services (built by
``bot.services``, the composition root), and the start-up/shut-down around it. Features live in
extensions (``bot.cogs``), loaded by name: nothing here imports them."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager, suppress
from typing import TYPE_CHECKING, Any, Final

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import ShuttingDown
from bot.runner.api import SnippetRunner
from bot.services import Services, Start, open_services
from bot.settings import Settings
from bot.tutor.content import Bank

if TYPE_CHECKING:
    from bot.web import WebServer
    from db import SqlStore

log = logging.getLogger(__name__)

ErrorAnswer = Callable[[discord.Interaction, app_commands.AppCommandError], Awaitable[None]]

EXTENSIONS: Final = (
    "bot.cogs.errors",  # first: the tree's error handler
    "bot.cogs.quiz",
    "bot.cogs.practice",
    "bot.cogs.reports",  # "Report a problem" under the quiz's feedback
    "bot.cogs.run",
    "bot.cogs.progress",
    "bot.cogs.help",
    "bot.cogs.moderation",
)


class TutorTree(app_commands.CommandTree):
    """The command tree. How a failed command is answered is the errors extension's business
    (``bot.cogs.errors`` sets ``answer_error``); until it is loaded, discord.py's default logs."""

    answer_error: ErrorAnswer | None = None

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        if self.answer_error is None:
            await super().on_error(interaction, error)
        else:
            await self.answer_error(interaction, error)


class TutorBot(commands.AutoShardedBot):
    """Holds the shared services; extensions get them from ``bot.services`` when they load,
    components from ``interaction.client``."""

    def __init__(
        self,
        settings: Settings,
        *,
        services: Services | None = None,
        bank: Bank | None = None,
        store: SqlStore | None = None,
        runner: SnippetRunner | Start | None = Start.NOW,
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
            **_shard_ids(settings),
        )
        self.settings = settings
        self._services = services
        self._given = (bank, store, runner)
        self.closing = False
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._web: WebServer | None = None
        # Discord's max_concurrency (IDENTIFY buckets): asked once, when the first shard
        # identifies through a shared Redis; tests may set it.
        self.identify_concurrency: int | None = None

    @property
    def services(self) -> Services:
        if self._services is None:
            raise RuntimeError("the bot is not set up yet (setup_hook has not run)")
        return self._services

    def answer_errors_with(self, answer: ErrorAnswer) -> None:
        """How failed commands are answered (the errors extension says so when it loads)."""
        assert isinstance(self.tree, TutorTree)
        self.tree.answer_error = answer

    async def setup_hook(self) -> None:
        if self._services is None:
            bank, store, runner = self._given
            self._services = await open_services(
                self.settings, bank=bank, store=store, runner=runner
            )
        if self.settings.web.port is not None:
            from bot.web import WebServer

            self._web = WebServer(self._services, self.settings.web)
            await self._web.start()
            log.info("web leaderboards and dashboard on %s", self.settings.web.base_url())
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        if self.settings.dev_guild_id is not None:
            # Development: guild commands update instantly. Global sync is an explicit step
            # (`python -m bot sync-commands`), never done on every start.
            synced = await sync_commands(self, self.settings.dev_guild_id)
            log.info("synced %d commands to guild %s", len(synced), self.settings.dev_guild_id)

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """Wait for this shard's turn to IDENTIFY. With a shared Redis the turns hold across
        every process of a shard cluster (bot.cluster.IdentifyLock); without, discord.py's
        own pacing of this process's shards (5 s between them)."""
        identify = self._services.identify if self._services is not None else None
        if identify is None:
            await super().before_identify_hook(shard_id, initial=initial)
            return
        if self.identify_concurrency is None:
            self.identify_concurrency = await self._max_concurrency()
        await identify.wait_turn(shard_id or 0, self.identify_concurrency)

    async def _max_concurrency(self) -> int:
        try:
            limits = await self.fetch_session_start_limits()
        except (discord.HTTPException, discord.GatewayNotFound, OSError) as exc:
            # One IDENTIFY at a time is always allowed.
            log.warning("could not ask Discord for max_concurrency (%s); using 1", exc)
            return 1
        return max(1, int(limits.max_concurrency))

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
        services = self._services
        if services is not None and services.runner is not None:
            # Snippets still running end now; their handlers answer with what they got.
            await services.runner.close()
            with suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), 2.0)
        await super().close()
        if self._web is not None:
            await self._web.stop()
        if services is not None:
            await services.close()
        else:  # never set up (e.g. the login failed): close what was given
            _, store, runner = self._given
            if runner is not None and not isinstance(runner, Start):
                await runner.close()
            if store is not None:
                await store.close()
        log.info("shut down cleanly")


def _shard_ids(settings: Settings) -> dict[str, Any]:
    """A shard cluster: this process runs only these shards (docs/deploy.md); else all."""
    ids = settings.discord.shard_ids
    return {"shard_ids": list(ids)} if ids is not None else {}


def create_bot(
    settings: Settings,
    *,
    services: Services | None = None,
    bank: Bank | None = None,
    store: SqlStore | None = None,
    runner: SnippetRunner | Start | None = Start.NOW,
) -> TutorBot:
    """The bot, not started. Without ``services``, ``setup_hook`` opens them from ``settings``
    (using the content, database or runner given); ``close()`` closes them either way."""
    return TutorBot(settings, services=services, bank=bank, store=store, runner=runner)


async def sync_commands(bot: commands.AutoShardedBot, guild_id: int | None = None) -> list[Any]:
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
