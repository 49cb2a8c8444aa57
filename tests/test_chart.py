"""The progress chart is drawn for Discord's embed size: one picture, its text large enough to
read where Discord shows it, a row per topic."""

import struct
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from bot.tutor import chart, progress
from bot.tutor.streaks import Streak


def size(png: bytes) -> tuple[int, int]:
    return struct.unpack(">II", png[16:24])


def draw(topics: int) -> bytes:
    now = datetime(2026, 11, 30, 12, tzinfo=UTC)
    rows = [progress.AttemptRow("q", "t0", True, False, 10, now)]
    stats = progress.Progress(
        10,
        1,
        1,
        0,
        Streak(1, 1, 0, True),
        0,
        tuple(progress.TopicProgress(f"topic-{i}", i % 3, 3) for i in range(topics)),
    )
    return chart.progress_png("Ada", stats, rows, ZoneInfo("UTC"), now)


def test_text_reads_at_discords_embed_width():
    width, _ = size(draw(4))
    shown = chart.EMBED_WIDTH_PX / width  # Discord scales the picture down to this
    text_px = chart.TEXT_PT * chart.DPI / 72 * shown
    assert width <= 2 * chart.EMBED_WIDTH_PX and text_px >= 14


def test_each_topic_gets_a_row_of_its_own():
    _, four = size(draw(4))
    _, fourteen = size(draw(14))
    assert fourteen - four == round(10 * chart.ROW_IN * chart.DPI)
