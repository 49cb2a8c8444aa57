"""What every response and every token check goes through: security headers (CSP), an access log
that never shows a token, a rate limit on token checks, and CSRF tokens for forms.

The rate limit is a ``TokenCheckLimit``: ``RateLimit`` here keeps it in this process's memory;
``bot.web.shared_limit.RedisRateLimit`` keeps it in Redis, one budget per client for every web
process. ``bot.web.app.token_check_limit`` chooses; the routes only see the protocol."""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import Response

log = logging.getLogger(__name__)

# Styles from our own stylesheet only; no scripts at all (the pages work without JavaScript);
# charts are inline SVG, which is markup, not a script or an image load.
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # A dashboard page must never send its address (a login link) to another site.
    "Referrer-Policy": "no-referrer",
}
LOGIN_PREFIX = "/dashboard/login/"


def loggable_path(path: str) -> str:
    """The request path with any token cut off: a login link's path is its token."""
    if path.startswith(LOGIN_PREFIX):
        return LOGIN_PREFIX + "…"
    return path


class SecurityHeaders(BaseHTTPMiddleware):
    """Security headers on every response, no caching of dashboard pages, and an access log
    line (method, path without token, status)."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        response.headers.update(HEADERS)
        if request.url.path.startswith("/dashboard"):
            response.headers["Cache-Control"] = "no-store"
        log.info("%s %s %d", request.method, loggable_path(request.url.path), response.status_code)
        return response


class TokenCheckLimit(Protocol):
    """The budget of dashboard token checks (login links, failed cookies) per client."""

    async def check(self, client: str) -> bool:
        """True, and counted, when ``client`` may check one more token now; False: refuse."""
        ...


class RateLimit:
    """At most ``limit`` events per ``period_s`` per key (a sliding window), in this process's
    memory; the clock is injected so tests move it by hand."""

    def __init__(
        self,
        limit: int,
        period_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 10_000,
    ) -> None:
        self.limit = limit
        self.period_s = period_s
        self.clock = clock
        self.max_keys = max_keys
        self._events: dict[str, deque[float]] = {}

    def allow(self, key: str) -> bool:
        now = self.clock()
        events = self._events.get(key)
        if events is None:
            if len(self._events) >= self.max_keys:
                self._forget_idle(now)
            events = self._events[key] = deque()
        while events and events[0] <= now - self.period_s:
            events.popleft()
        if len(events) >= self.limit:
            return False
        events.append(now)
        return True

    async def check(self, client: str) -> bool:
        return self.allow(client)

    def _forget_idle(self, now: float) -> None:
        for key in [k for k, e in self._events.items() if not e or e[-1] <= now - self.period_s]:
            del self._events[key]
        if len(self._events) >= self.max_keys:  # all busy: an attack; start over
            self._events.clear()


def csrf_token(session_token: str) -> str:
    """The form token of a dashboard session: derived from its secret token, so only someone
    who holds the session can know it, and nothing needs storing."""
    key = session_token.encode("utf-8", "surrogateescape")
    return hmac.new(key, b"csrf", hashlib.sha256).hexdigest()


def csrf_ok(session_token: str, given: str) -> bool:
    return hmac.compare_digest(csrf_token(session_token), given.encode("ascii", "replace").decode())
