"""Daily streaks: local days, midnight, freezes."""

from datetime import UTC, date, datetime, timedelta

import pytest

from bot.tutor.streaks import MAX_FREEZES, local_days, streak, zone

D0 = date(2026, 3, 2)


def days(*offsets: int) -> set[date]:
    return {D0 + timedelta(days=o) for o in offsets}


def test_consecutive_days_make_a_streak_and_today_does_not_break_it():
    assert streak(days(0, 1, 2), D0 + timedelta(days=2)).days == 3
    # Today has no answer yet, but the day is not over: the streak stands.
    s = streak(days(0, 1, 2), D0 + timedelta(days=3))
    assert (s.days, s.active_today) == (3, False)
    # A whole day missed (and no freeze) breaks it.
    assert streak(days(0, 1, 2), D0 + timedelta(days=4)).days == 0
    assert streak(days(0, 1, 2, 4), D0 + timedelta(days=4)).days == 1
    assert streak(set(), D0).days == 0


def test_a_freeze_is_earned_every_seven_days_and_covers_a_missed_day():
    week = days(*range(7))
    assert streak(week, D0 + timedelta(days=6)).freezes == 1
    # Day 7 missed: the freeze is spent, the streak survives (and does not grow that day).
    s = streak(week | days(8), D0 + timedelta(days=8))
    assert (s.days, s.freezes) == (8, 0)
    # Two missed days with one freeze: broken.
    assert streak(week | days(9), D0 + timedelta(days=9)).days == 1


def test_at_most_two_freezes_are_held():
    long = days(*range(35))
    s = streak(long, D0 + timedelta(days=34))
    assert (s.days, s.freezes) == (35, MAX_FREEZES)
    assert s.best == 35


def test_local_days_follow_the_time_zone_across_midnight():
    late = datetime(2026, 3, 2, 23, 30, tzinfo=UTC)
    early = late + timedelta(hours=1)
    assert local_days([late, early], zone("UTC")) == {date(2026, 3, 2), date(2026, 3, 3)}
    # In Tokyo (UTC+9) both are on 3 March: one day, not two.
    assert local_days([late, early], zone("Asia/Tokyo")) == {date(2026, 3, 3)}
    # In Los Angeles (UTC-8) both are on 2 March.
    assert local_days([late, early], zone("America/Los_Angeles")) == {date(2026, 3, 2)}


def test_unknown_zone_is_a_clear_error():
    with pytest.raises(ValueError, match="Unknown time zone 'Mars/Base'"):
        zone("Mars/Base")
    with pytest.raises(ValueError, match="Unknown time zone"):
        zone("../../etc/passwd")
