"""Logging set-up, called once by the command line, and the one place that renders URLs and
text safely. Other modules only ``getLogger(__name__)``.

Credentials hide in more places than ``user:password@``: query parameters (``?password=``,
``?sslpassword=``, ``?passfile=``, tokens), percent-encoded or not. ``safe_url`` and
``redact`` are the only ways a URL reaches a message or a log line; the logging filter applies
``redact`` to every record as a last line of defence.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus, unquote_plus

HIDDEN = "***"
REDACTED = "[redacted]"

# Query parameters whose values are shown; every other value is hidden, whatever its name or
# spelling (a denylist would miss the next driver's "sslkeypassword").
SAFE_QUERY_KEYS = frozenset(
    {
        "application_name",
        "cache",
        "charset",
        "check_same_thread",
        "connect_timeout",
        "driver",
        "immutable",
        "mode",
        "nolock",
        "ssl",
        "sslmode",
        "target_session_attrs",
        "timeout",
        "uri",
    }
)
# Shorter literal secrets are not searched for in free text (they would blank out common
# words); inside a URL they are hidden whatever their length.
MIN_SECRET_CHARS = 4

# scheme://anything up to whitespace or a quote, less trailing punctuation ("URL: reason")
_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.\-]*://(?:[^\s'\"<>`]*[^\s'\"<>`:;,.)\]])?")


def _redact_one_url(url: str) -> str:
    scheme, _, rest = url.partition("://")
    rest, hash_, fragment = rest.partition("#")
    location, question, query = rest.partition("?")
    # The userinfo ends at the *last* "@" before the query: a password may hold "/" or "@".
    if "@" in location:
        userinfo, _, after = location.rpartition("@")
        user, colon, _password = userinfo.partition(":")
        location = f"{user}{colon and ':' + HIDDEN}@{after}"
    if question:
        params = []
        for param in re.split(r"([&;])", query):
            key, equals, _value = param.partition("=")
            if equals and unquote_plus(key).strip().lower() not in SAFE_QUERY_KEYS:
                param = f"{key}={HIDDEN}"
            params.append(param)
        query = "".join(params)
    return f"{scheme}://{location}{question}{query}{hash_}{fragment and HIDDEN}"


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with the credentials of every URL in it hidden, and each of ``secrets``
    replaced wherever it appears."""
    for secret in sorted({s for s in secrets if len(s) >= MIN_SECRET_CHARS}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return _URL.sub(lambda m: _redact_one_url(m.group(0)), text)


def safe_url(url: object) -> str:
    """A database URL (a string or SQLAlchemy ``URL``) for a message: no password, no query
    value but the harmless ones. Never raises."""
    from sqlalchemy.engine import make_url

    try:
        text = make_url(url).render_as_string(hide_password=True)  # type: ignore[arg-type]
    except Exception:
        return "(an invalid URL)"
    return redact(text)


def url_secrets(url: str) -> list[str]:
    """The secret parts of ``url`` as they may appear in free text: the URL itself, its
    password and hidden query values, decoded and percent-encoded. A URL with none of those
    (a SQLite path, a server reached without a password) is no secret: messages name it."""
    if "@" not in url and "?" not in url:
        # No user info and no query: nothing to hide, and no need to import SQLAlchemy
        # (commands such as `content check` never load it).
        return []
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:
        return [url]
    values = [parsed.password] if parsed.password else []
    for key, value in parsed.query.items():
        if key.lower() not in SAFE_QUERY_KEYS:
            values.extend([value] if isinstance(value, str) else value)
    pieces = [url] if values else []
    for value in values:
        pieces += [str(value), quote(str(value), safe=""), quote_plus(str(value))]
    return pieces


class RedactSecrets(logging.Filter):
    """Hides URL credentials and replaces any known secret in a log record: a last line of
    defence, should a token or URL end up in an exception message or a third-party log line."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg, record.args = redact(record.getMessage(), self.secrets), ()
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self.secrets)
        return True


def setup(level: int = logging.INFO, secrets: Iterable[str] = ()) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Warnings (e.g. SQLAlchemy's about URL query arguments) go through the same filter.
    logging.captureWarnings(True)
    for noisy in ("sqlalchemy.engine", "alembic", "aiosqlite"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
