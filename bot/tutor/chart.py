"""The progress picture: mastery per topic and the last 30 days of activity, as a PNG."""

from __future__ import annotations

import io
import unicodedata
from collections import Counter
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


def progress_png(
    name: str, progress: Progress, rows: Sequence[AttemptRow], tz: ZoneInfo, now: datetime
) -> bytes:
    # Imported here: matplotlib takes a while to import and only this picture needs it. The
    # Figure API (not pyplot) keeps no global state, so pictures can be drawn in worker threads.
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator, PercentFormatter

    today = now.astimezone(tz).date()
    days = [today - timedelta(days=DAYS - 1 - i) for i in range(DAYS)]
    answered = Counter(r.answered_at.astimezone(tz).date() for r in rows)
    right = Counter(r.answered_at.astimezone(tz).date() for r in rows if r.correct)

    fig = Figure(figsize=(10, 4.2), dpi=100)
    left, right_ax = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.4]})
    topics = [t.topic for t in progress.topics][::-1]
    shares = [t.mastered / t.total if t.total else 0 for t in progress.topics][::-1]
    left.barh(topics, [1.0] * len(topics), color="#e8eef5")  # the part still to master
    left.barh(topics, shares, color="#4c9be8")
    left.set_xlim(0, 1)
    left.xaxis.set_major_formatter(PercentFormatter(1.0))
    left.set_title("Mastery per topic")
    left.tick_params(axis="y", labelsize=8)

    x = range(DAYS)
    right_ax.bar(x, [answered[d] for d in days], color="#f2b880", label="answered")
    right_ax.bar(x, [right[d] for d in days], color="#5cb85c", label="correct")
    right_ax.set_xticks([0, DAYS // 2, DAYS - 1])
    right_ax.set_xticklabels([f"{days[i]:%d %b}" for i in (0, DAYS // 2, DAYS - 1)])
    right_ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    streak = progress.streak.days
    right_ax.set_title(f"Last {DAYS} days · streak {counted(streak, 'day')}")
    right_ax.legend(loc="upper left", fontsize=8)
    # Plain text: matplotlib would read "$...$" in a name as maths (and raise on bad maths), or
    # hand it to TeX if a matplotlibrc turned that on.
    fig.suptitle(f"{_drawable(name)} · {progress.xp} XP", parse_math=False, usetex=False)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()
