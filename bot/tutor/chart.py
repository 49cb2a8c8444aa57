"""The progress picture: mastery per topic and the last 30 days of activity, as a PNG."""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.tutor.progress import AttemptRow, Progress
from bot.tutor.replies import counted

DAYS = 30
NAME_CHARS = 60


def _drawable(name: str) -> str:
    """A person's name as matplotlib can draw it as plain text: one line, no control characters
    or lone surrogates (which make the renderer raise), at most ``NAME_CHARS`` characters."""
    out = []
    for ch in name[: NAME_CHARS * 2]:
        category = unicodedata.category(ch)
        out.append(" " if category in ("Cc", "Zl", "Zp") else "\ufffd" if category == "Cs" else ch)
    text = " ".join("".join(out).split())
    return text if len(text) <= NAME_CHARS else text[: NAME_CHARS - 1] + "…"


# Discord shows an embed's image at most this wide (desktop; phones narrower): the picture is
# drawn for it, so that its text reads at that size without zooming.
EMBED_WIDTH_PX = 400
WIDTH_IN, DPI = 6.0, 100  # 600 pixels wide, shown at 2/3 of that
ROW_IN = 0.5  # a topic's bar, its name written on it
TEXT_PT = 16  # at 2/3 size about 15 px high on screen
TITLE_PT = 20


def progress_png(
    name: str, progress: Progress, rows: Sequence[AttemptRow], tz: ZoneInfo, now: datetime
) -> bytes:
    """One picture: a bar per topic, its name and mastery written on it (no axis labels to
    squeeze beside it), under a title with the learner, their XP, streak and recent answers."""
    # Imported here: matplotlib takes a while to import and only this picture needs it. The
    # Figure API (not pyplot) keeps no global state, so pictures can be drawn in worker threads.
    from matplotlib.figure import Figure

    since = now.astimezone(tz).date() - timedelta(days=DAYS - 1)
    recent = sum(1 for r in rows if r.answered_at.astimezone(tz).date() >= since)
    topics = progress.topics
    fig = Figure(figsize=(WIDTH_IN, 1.3 + ROW_IN * len(topics)), dpi=DPI)
    ax = fig.add_axes((0.03, 0.02, 0.94, 1 - 1.25 / (1.3 + ROW_IN * len(topics))))
    for y, t in enumerate(reversed(topics)):
        share = t.mastered / t.total if t.total else 0
        ax.barh(y, 1.0, height=0.8, color="#e8eef5")  # the part still to master
        ax.barh(y, share, height=0.8, color="#9cc8f2")
        label = f"{t.topic}  {share:.0%} ({t.mastered}/{t.total})"
        ax.text(0.015, y, label, va="center", fontsize=TEXT_PT)
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.5, len(topics) - 0.5)
    ax.set_axis_off()
    streak = progress.streak.days
    # Plain text: matplotlib would read "$...$" in a name as maths (and raise on bad maths), or
    # hand it to TeX if a matplotlibrc turned that on.
    fig.text(
        0.03,
        1 - 0.1 / (1.3 + ROW_IN * len(topics)),
        f"{_drawable(name)} · {progress.xp} XP",
        parse_math=False,
        usetex=False,
        fontsize=TITLE_PT,
        va="top",
    )
    fig.text(
        0.03,
        1 - 0.62 / (1.3 + ROW_IN * len(topics)),
        f"Mastery per topic · streak {counted(streak, 'day')} · "
        f"{counted(recent, 'answer')} in {DAYS} days",
        fontsize=TEXT_PT - 2,
        va="top",
        color="#444444",
    )
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()
