"""``python -m bot runner serve``: the pool as its own process, on a Unix socket.

The pool (warm workers, sandbox, fair queue, explanations, results cache) lives here, so the
process that holds the Discord token and the database never spawns bubblewrap, and a snippet
that brings TensorFlow (or this whole process) down cannot touch the gateway connection.
One connection carries one job (bot.runner.wire); a client that hangs up cancels its job.

With ``--url redis://...`` the same pool serves a fleet instead (bot.runner.host).
"""

from __future__ import annotations

import asyncio
import contextlib
import grp
import logging
import os
import signal
import socket
import sys
from pathlib import Path

from bot.runner.cache import ResultCache
from bot.runner.pool import Runner
from bot.runner.prefill import start_filling
from bot.runner.sandbox import SandboxUnavailable
from bot.runner.wire import MAX_LINE, BadMessage, Job, decode, encode, outcome
from bot.settings import RunnerSettings
from bot.tutor.content import Bank

log = logging.getLogger(__name__)

READY = b"listening\n"  # on stdout once the socket accepts jobs (bot.runner.local waits for it)


def build_pool(settings: RunnerSettings) -> Runner:
    """The pool every runner process serves: verified content is answered from the cache."""
    return Runner(settings, cache=ResultCache(settings.cache_dir))


class SocketService:
    """Serves one pool on a Unix socket. ``unavailable``: why snippets cannot run here (no
    bubblewrap); every job is then answered with that, so the bot can say so."""

    def __init__(self, pool: Runner, unavailable: SandboxUnavailable | None = None) -> None:
        self.pool = pool
        self.unavailable = unavailable

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._serve(reader, writer)
        except (ConnectionError, BadMessage, ValueError) as exc:
            log.debug("a client left: %s", exc)
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = decode(await reader.readuntil(b"\n"))
        if self.unavailable is not None:
            writer.write(encode(outcome(self.unavailable)))
            return await writer.drain()
        if request.get("ping"):
            writer.write(encode({"pong": self.pool.stats()}))
            return await writer.drain()
        job = Job.from_dict(request)
        # From here on the job is ours: if we die now, the client answers it "lost".
        writer.write(encode({"accepted": True}))

        async def on_position(place: int) -> None:
            writer.write(encode({"position": place}))
            await writer.drain()

        run = asyncio.ensure_future(
            self.pool.run(job.code, job.user, on_position, use_cache=job.use_cache)
        )
        # A client sends nothing after its job: end of file means it hung up (gave up).
        hangup = asyncio.ensure_future(reader.read(1))
        await asyncio.wait({run, hangup}, return_when=asyncio.FIRST_COMPLETED)
        hangup.cancel()
        if not run.done():
            run.cancel()  # the pool stops the sandbox or takes the job out of the queue
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await run
            return None
        error = run.exception()
        if error is not None and not isinstance(error, Exception):
            raise error
        writer.write(encode(outcome(error if error is not None else run.result())))
        return await writer.drain()


def _unlink_stale(path: Path) -> None:
    """Remove a socket file nobody answers on (a runner that was killed); refuse to start next
    to a live one."""
    if not path.exists():
        return
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except OSError:
        path.unlink()
    else:
        raise SystemExit(f"error: a runner already serves {path}")
    finally:
        probe.close()


async def serve_socket(
    settings: RunnerSettings,
    path: Path,
    *,
    group: str | None = None,
    exit_with_stdin: bool = False,
    bank: Bank | None = None,
) -> int:
    """Serve until SIGTERM/SIGINT (or, with ``exit_with_stdin``, until the parent that started
    us closes our standard input: a bot killed with -9 takes its runner with it). With
    ``bank``, its snippets' verified results are cached in the background (bot.runner.prefill)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _unlink_stale(path)
    pool = build_pool(settings)
    unavailable = None
    try:
        await pool.start()
    except SandboxUnavailable as exc:
        log.warning("snippets cannot run here: %s", exc)
        unavailable = exc
    service = SocketService(pool, unavailable)
    server = await asyncio.start_unix_server(service.handle, path=str(path), limit=MAX_LINE)
    # Owner and group only: whoever can connect can run code in the sandbox.
    os.chmod(path, 0o660)
    if group is not None:
        try:
            os.chown(path, -1, grp.getgrnam(group).gr_gid)
        except KeyError:
            server.close()
            await pool.close()
            raise SystemExit(f"error: there is no group {group!r} (--socket-group)") from None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    watch = asyncio.ensure_future(_watch_stdin(stop)) if exit_with_stdin else None
    log.info("runner service on %s (%d workers)", path, settings.workers)
    sys.stdout.buffer.write(READY)
    sys.stdout.flush()
    filling = start_filling(pool, bank) if unavailable is None else None
    try:
        await stop.wait()
    finally:
        if watch is not None:
            watch.cancel()
        if filling is not None:
            filling.cancel()
        server.close()
        await pool.close()
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # noqa: ASYNC240  (once, on the way out)
    return 0


async def _watch_stdin(stop: asyncio.Event) -> None:
    reader = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while await reader.read(4096):
        pass
    log.info("the bot that started this runner is gone: stopping")
    stop.set()
