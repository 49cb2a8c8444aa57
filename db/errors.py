"""What can go wrong with the database, as exceptions whose message is one line, safe to show
(no credentials, no SQL), and whose class says what the operator can do about it.

The command line ends with ``exit_status`` (README, "Command line"); the Discord layer logs them
with an error id. A write that fails this way was not committed, and its caller never printed
an acknowledgement: nothing acknowledged is lost.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bot.logs import redact


class StoreError(Exception):
    """The database cannot be used (bad URL, missing driver, unusable path or file)."""

    exit_status = 1


class DatabaseFull(StoreError):
    """SQLITE_FULL: the disk (or a size limit) is full."""

    exit_status = 3


class DatabaseCorrupt(StoreError):
    """SQLITE_CORRUPT / SQLITE_NOTADB: a damaged file, or not a database at all."""

    exit_status = 4


class DatabaseReadOnly(StoreError):
    """SQLITE_READONLY (file, directory or file system), or a read-only server."""

    exit_status = 5


class DatabaseTooNew(StoreError):
    """The database was migrated by a newer version of the tutor (an unknown revision)."""

    exit_status = 6


class DatabaseBusy(StoreError):
    """Another process held the lock for longer than the busy timeout."""

    exit_status = 7


_FULL = (DatabaseFull, "the disk holding the database is full", "free some space and start again")
_DAMAGED = (
    DatabaseCorrupt,
    "the database file is damaged",
    "restore it from a backup (or try the sqlite3 shell's .recover)",
)
_READ_ONLY = (
    DatabaseReadOnly,
    "the database is read-only",
    "check the permissions of the file and of its directory (SQLite writes its -wal and -shm "
    "files there) and that the file system is mounted read-write",
)
_LOCKED = (DatabaseBusy, "the database is locked by another process", "try again")
# SQLite primary result codes (the low byte of the extended code): https://sqlite.org/rescode.html
_SQLITE = {
    13: _FULL,
    11: _DAMAGED,
    26: (
        DatabaseCorrupt,
        "the database file is not an SQLite database",
        "check the path, or restore the file from a backup",
    ),
    8: _READ_ONLY,
    3: _READ_ONLY,  # SQLITE_PERM
    5: _LOCKED,
    6: _LOCKED,
    14: (StoreError, "cannot open the database file", "check the path and its permissions"),
}
# PostgreSQL SQLSTATEs with the same meaning.
_SQLSTATE = {"53100": _FULL, "XX001": _DAMAGED, "XX002": _DAMAGED, "25006": _READ_ONLY}
_OTHER = (StoreError, "cannot use the database", "")
_UNREACHABLE = (
    StoreError,
    "cannot reach the database server",
    "check that it is running and that the URL's host and port are right",
)


def _driver_error(exc: BaseException) -> BaseException:
    """The driver's own exception inside SQLAlchemy's wrapper (and any adapter's)."""
    seen = exc
    for _ in range(4):
        inner = getattr(seen, "orig", None) or seen.__cause__
        if inner is None or inner is seen:
            break
        seen = inner
    return seen


def sqlstate_of(exc: BaseException) -> str | None:
    """The SQLSTATE of a database server's error (None for SQLite's and for others)."""
    orig: Any = _driver_error(exc)
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return state if isinstance(state, str) else None


def classify(exc: BaseException, where: str, secrets: Iterable[str] = ()) -> StoreError:
    """A StoreError for a driver or OS error met while using the database at ``where`` (a
    path or safe URL). Only the driver's first message line is kept (SQLAlchemy's adds the SQL
    statement and its parameters), with URL credentials and ``secrets`` hidden."""
    orig: Any = _driver_error(exc)
    code = getattr(orig, "sqlite_errorcode", None)
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    kind, what, advice = _OTHER
    if isinstance(code, int) and code & 0xFF in _SQLITE:
        kind, what, advice = _SQLITE[code & 0xFF]
    elif isinstance(sqlstate, str) and sqlstate in _SQLSTATE:
        kind, what, advice = _SQLSTATE[sqlstate]
    elif isinstance(orig, ConnectionError | TimeoutError | OSError) and code is None:
        kind, what, advice = _UNREACHABLE  # refused, no route, name not found, timed out
    detail = (str(orig).strip().splitlines() or [type(orig).__name__])[0]
    message = f"{what} ({where}: {detail})" + (f"; {advice}" if advice else "")
    return kind(redact(message, secrets))
