"""The bot's side of the local runner service (bot.runner.service): a SnippetRunner that sends
each job over the Unix socket, and, in the embedded default, keeps the service running.

``LocalService.start`` attaches to a runner already answering on the socket (one an operator
runs as root, say) or starts ``python -m bot runner serve`` as a child; a child that dies is
started again, with backoff. The child gets the runner settings and none of the bot's secrets.
A runner that dies mid-job answers that job ``lost`` (bot.runner.result.lost_result); it is
never run again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import time
from collections.abc import Awaitable

from bot.runner.pool import PositionCallback, RunnerClosed, RunRefused
from bot.runner.result import RunResult, lost_result
from bot.runner.sandbox import SandboxUnavailable
from bot.runner.service import READY
from bot.runner.wire import MAX_LINE, BadMessage, Job, decode, encode, final
from bot.settings import RunnerSettings

log = logging.getLogger(__name__)

# Never passed to the runner: it needs no token and no database.
SECRET_VARIABLES = ("DISCORD_TOKEN", "TUTOR_DATABASE_URL", "TUTOR_DISCORD_TOKEN")
RESTART_BACKOFF_S = (1.0, 30.0)  # first and longest pause before starting a dead runner again
HEALTHY_AFTER_S = 60.0  # a runner that lived this long starts again without a pause


class RunnerRestarting(RunRefused):
    def __init__(self) -> None:
        super().__init__("The runner is restarting; try again in a few seconds.")


class LocalService:
    """A SnippetRunner over the runner service's socket. See the module docstring.

    ``spawn`` (default: ``settings.spawn``): start (and restart) a child runner when none
    answers; False only attaches."""

    def __init__(
        self, settings: RunnerSettings, *, spawn: bool | None = None, start_within_s: float = 60.0
    ) -> None:
        self.settings = settings
        self.path = settings.socket_path
        self.spawn = settings.spawn if spawn is None else spawn
        self.start_within_s = start_within_s
        self.child: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()
        self._watcher: asyncio.Task[None] | None = None
        self._closed = False
        self._started = False
        self._callbacks: set[asyncio.Future[None]] = set()

    async def start(self) -> None:
        """Attach to the runner on the socket, or start one. Raises SandboxUnavailable when
        snippets cannot run on this machine (the runner says so; it is stopped again)."""
        async with self._lock:
            await self._ensure_running()

    async def ping(self) -> dict[str, int] | None:
        """The runner's pool stats, or None when nobody answers on the socket."""
        try:
            reader, writer = await asyncio.open_unix_connection(self.path, limit=MAX_LINE)
        except OSError:
            return None
        try:
            writer.write(encode({"ping": True}))
            message = decode(await reader.readuntil(b"\n"))
        except (OSError, asyncio.IncompleteReadError, BadMessage):
            return None
        finally:
            writer.close()
        if "unavailable" in message:
            raise SandboxUnavailable(str(message["unavailable"]))
        return dict(message.get("pong") or {})

    async def run(
        self,
        code: str,
        user: str,
        on_position: PositionCallback | None = None,
        *,
        use_cache: bool = True,
    ) -> RunResult:
        if self._closed:
            raise RunnerClosed()
        try:
            connection = await asyncio.open_unix_connection(self.path, limit=MAX_LINE)
        except OSError:
            # Not started yet (the terminal chat starts it on the first /run), or restarting.
            await self.start()
            try:
                connection = await asyncio.open_unix_connection(self.path, limit=MAX_LINE)
            except OSError:
                raise RunnerRestarting() from None
        reader, writer = connection
        started = time.monotonic()
        accepted = False
        try:
            try:
                writer.write(encode(Job(code, user, use_cache).to_dict()))
                await writer.drain()
            except ConnectionError:
                raise RunnerRestarting() from None
            while True:
                try:
                    line = await reader.readuntil(b"\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    if not accepted:  # it never reached a runner (one dying as we connected)
                        raise RunnerRestarting() from None
                    # The runner died with our job: never sent again (it may be what killed it).
                    log.error("the runner service stopped while running a snippet")
                    return lost_result(time.monotonic() - started)
                message = decode(line)
                result = final(message)
                if result is not None:
                    return result
                if message.get("accepted"):
                    accepted = True
                elif on_position is not None:
                    self._notify(on_position, int(message["position"]))
        finally:
            writer.close()  # if we gave up (cancelled), the runner stops the job

    def _notify(self, on_position: PositionCallback, place: int) -> None:
        """Tell the caller its place without holding up the result (a Discord edit can be
        slow); a failing callback is logged, as the pool does."""
        try:
            outcome = on_position(place)
        except Exception:
            log.exception("on_position callback failed")
            return
        if outcome is not None:
            task = asyncio.ensure_future(_logged(outcome))
            self._callbacks.add(task)
            task.add_done_callback(self._callbacks.discard)

    async def wait_idle(self, count: int | None = None, within_s: float = 300) -> None:
        """Wait until ``count`` (default: all) of the runner's workers are warm (benchmarks)."""
        want = self.settings.workers if count is None else count
        async with asyncio.timeout(within_s):
            # The pool is in another process: ask it, a few times a second.
            while ((await self.ping()) or {}).get("idle", 0) < want:  # noqa: ASYNC110
                await asyncio.sleep(0.2)

    async def close(self) -> None:
        self._closed = True
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        await self._stop_child()

    # --- the child ---------------------------------------------------------------------------

    async def _ensure_running(self) -> None:
        if self._closed:
            raise RunnerClosed()
        if await self.ping() is not None:
            if self.child is None and not self._started:
                log.info("using the runner service already on %s", self.path)
            self._started = True
            return
        if not self.spawn:
            raise RunnerRestarting()
        if self.child is not None and self.child.returncode is None:
            # Ours, but not answering: dying (the watcher has not seen it yet), or hung.
            try:
                await asyncio.wait_for(asyncio.shield(self.child.wait()), 2.0)
            except TimeoutError:
                await self._stop_child()
        await self._spawn()
        self._started = True
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.ensure_future(self._watch())

    async def _spawn(self) -> None:
        env = {k: v for k, v in os.environ.items() if not _runner_variable_or_secret(k)}
        # Exactly the bot's runner settings (the environment's, or a test's), as one value.
        env["TUTOR_RUNNER"] = self.settings.model_copy(update={"url": None}).model_dump_json()
        self.child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "runner", "serve", "--exit-with-stdin",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=env,
            # Its own session: Ctrl-C in the terminal stops the bot, which then stops the
            # runner in order (a closed stdin stops it too, even after kill -9 of the bot).
            start_new_session=True,
        )  # fmt: skip
        assert self.child.stdout is not None
        try:
            async with asyncio.timeout(self.start_within_s):
                line = await self.child.stdout.readline()
        except TimeoutError:
            line = b""
        if line != READY:
            await self._stop_child()
            raise RunnerRestarting()
        log.info("runner service started (pid %d) on %s", self.child.pid, self.path)
        try:
            await self.ping()
        except SandboxUnavailable:
            await self._stop_child()
            raise

    async def _watch(self) -> None:
        """Start our runner again whenever it dies (after a pause, longer each time it dies
        young), until closed; stop watching if another runner took the socket."""
        pause = RESTART_BACKOFF_S[0]
        while True:
            child = self.child
            if child is not None:
                born = time.monotonic()
                status = await child.wait()
                if self._closed:
                    return
                log.error("the runner service exited (status %s); starting it again", status)
                if time.monotonic() - born >= HEALTHY_AFTER_S:
                    pause = RESTART_BACKOFF_S[0]
            await asyncio.sleep(pause)
            pause = min(pause * 2, RESTART_BACKOFF_S[1])
            async with self._lock:
                if self._closed:
                    return
                if self.child is not None and self.child.returncode is None:
                    continue  # a run() started it again meanwhile
                try:
                    if await self.ping() is not None:
                        self.child = None
                        return  # another runner serves the socket now: use it
                    await self._spawn()
                except (RunRefused, SandboxUnavailable, OSError) as exc:
                    log.error("starting the runner service again failed: %s", exc)

    async def _stop_child(self) -> None:
        child, self.child = self.child, None
        if child is None or child.returncode is not None:
            return
        if child.stdin is not None:
            child.stdin.close()  # the runner stops on end of input
        with contextlib.suppress(ProcessLookupError):
            child.terminate()
        try:
            await asyncio.wait_for(child.wait(), 15)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                child.kill()
            await child.wait()


async def _logged(outcome: Awaitable[object]) -> None:
    try:
        await outcome
    except Exception:
        log.exception("on_position callback failed")


def _runner_variable_or_secret(name: str) -> bool:
    return name in SECRET_VARIABLES or name.upper().startswith("TUTOR_RUNNER")
