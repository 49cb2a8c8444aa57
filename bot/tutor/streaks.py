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
from difflib import get_close_matches
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

DAYS_PER_FREEZE = 7
MAX_FREEZES = 2


@dataclass(frozen=True)
class Streak:
    days: int  # current streak, in days
    best: int
    freezes: int  # held now
    active_today: bool


# Longer than any IANA name (the longest has 32 characters): not looked at further.
MAX_ZONE_CHARS = 64
SUGGESTIONS = 3


class UnknownZone(ValueError):
    """A time zone name that is not one; ``suggestions``: known names close to it."""

    def __init__(self, typed: str, suggestions: list[str]) -> None:
        super().__init__(f"Unknown time zone {typed[:MAX_ZONE_CHARS]!r}")
        self.typed = typed
        self.suggestions = suggestions


@cache
def zone_names() -> frozenset[str]:
    """Every IANA time zone name (from tzdata), without "localtime": the host's own zone."""
    return frozenset(available_timezones() - {"localtime"})


def zone(name: str) -> ZoneInfo:
    """The time zone stored as ``name``; UnknownZone if it cannot be read. Typed names go
    through ``find_zone``: ``ZoneInfo`` alone is no check, it reads any file under the tzdata
    folders ("posix/...", "localtime") and raises OSError for a folder ("America") or an
    overlong name, ValueError for "..", "/x" or NUL, ZoneInfoNotFoundError for the rest."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, OSError, ValueError):
        raise UnknownZone(name, []) from None


def find_zone(typed: str) -> ZoneInfo:
    """The zone a person means by ``typed``: the name in any case, with spaces for
    underscores. UnknownZone, with close names to suggest, if it is none."""
    name = typed.strip().replace(" ", "_")
    if len(name) <= MAX_ZONE_CHARS:
        folded = {z.casefold(): z for z in zone_names()}
        found = folded.get(name.casefold())
        if found is not None:
            return zone(found)
    raise UnknownZone(typed, close_zones(name))


def close_zones(name: str) -> list[str]:
    """Known zone names close to ``name``: the zones in it if it is a region ("America"),
    else names or cities that look alike ("Europe/Pari", "paris")."""
    key = name.casefold().strip("/")[:MAX_ZONE_CHARS]
    if not key:
        return []
    folded = {z.casefold(): z for z in zone_names()}
    inside = sorted(z for f, z in folded.items() if f.startswith(key + "/"))
    if inside:
        return inside[:SUGGESTIONS]
    cities = {f.rsplit("/", 1)[-1]: z for f, z in sorted(folded.items())}
    near = get_close_matches(key, folded, SUGGESTIONS, 0.6)
    if near:
        return [folded[f] for f in near]
    return [cities[c] for c in get_close_matches(key, cities, SUGGESTIONS, 0.6)]


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
