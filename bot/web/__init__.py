"""The web leaderboards and the moderator dashboard (docs/web.md): an ASGI app over the shared
services, served by uvicorn.

``python -m bot web`` runs it alone; ``python -m bot run`` starts it beside the Discord bot or the
terminal chat when ``TUTOR_WEB__PORT`` is set (``WebServer``). uvicorn's own access log is off and
its logging left to ours (bot/logs.py): the app logs each request itself, without tokens.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import uvicorn

    from bot.services import Services
    from bot.settings import WebSettings

log = logging.getLogger(__name__)


def _config(services: Services, settings: WebSettings) -> uvicorn.Config:
    import uvicorn

    from bot.web.app import create_app

    return uvicorn.Config(
        create_app(services, settings),
        host=settings.host,
        port=settings.port or 8080,
        access_log=False,  # it would show login links (their path is the token)
        log_config=None,  # keep our logging and its secret filter
        lifespan="off",
        server_header=False,
    )


async def serve(
    services: Services, settings: WebSettings, ready: Callable[[], None] = lambda: None
) -> None:
    """Serve until SIGINT or SIGTERM (``python -m bot web``); ``ready`` runs once it listens."""
    server = WebServer(services, settings)
    await server.start()
    ready()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    assert server.task is not None
    try:
        await asyncio.wait(
            {server.task, asyncio.create_task(stop.wait())}, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await server.stop()


class WebServer:
    """The web server as a background task of another command (``python -m bot run``)."""

    def __init__(self, services: Services, settings: WebSettings) -> None:
        import uvicorn

        class Quiet(uvicorn.Server):
            # Signals belong to the host command (the Discord bot, the chat); it stops us.
            @contextlib.contextmanager
            def capture_signals(self) -> Generator[None, None, None]:
                yield

        self.server: uvicorn.Server = Quiet(_config(services, settings))
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.task = asyncio.create_task(self.server.serve())
        # uvicorn has no event for "listening"; it sets ``started``.
        while not self.server.started and not self.task.done():  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        if self.task.done():
            self.task.result()  # raises what stopped it (e.g. the port is taken)
            raise OSError("the web server stopped at start")

    async def stop(self) -> None:
        if self.task is None:
            return
        self.server.should_exit = True
        with contextlib.suppress(Exception):
            await self.task
