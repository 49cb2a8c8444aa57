"""Daily streaks, counted in the learner's own time zone, with streak freezes.

A day counts when the learner answered at least one question that (local) day. Every 7th day of a
streak earns a freeze, and at most ``MAX_FREEZES`` are held; a missed day uses a freeze instead of
breaking the streak (the streak keeps its length but does not grow that day). Today never breaks a
streak: it is not over yet.

Everything is derived from answer times, so nothing here needs storing, and changing time zone
re-reads the same history in the new zone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS_PER_FREEZE = 7
MAX_FREEZES = 2


@dataclass(frozen=True)
class Streak:
    days: int  # current streak, in days
    best: int
    freezes: int  # held now
    active_today: bool


def zone(name: str) -> ZoneInfo:
    """The time zone called ``name`` (IANA, e.g. "Europe/Paris"); ValueError if unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"Unknown time zone {name!r}: use a name such as UTC, Europe/Paris or America/New_York."
        ) from None


def local_days(times: Iterable[datetime], tz: ZoneInfo) -> set[date]:
    return {t.astimezone(tz).date() for t in times}


def streak(active: set[date], today: date) -> Streak:
    if not active:
        return Streak(0, 0, 0, False)
    days = best = freezes = 0
    day = min(active)
    while day <= today:
        if day in active:
            days += 1
            if days % DAYS_PER_FREEZE == 0:
                freezes = min(MAX_FREEZES, freezes + 1)
        elif day < today:
            if freezes and days:
                freezes -= 1
            else:
                days = 0
        best = max(best, days)
        day += timedelta(days=1)
    return Streak(days, best, freezes, today in active)
