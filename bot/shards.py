"""Which Discord shards a process runs: ``--shard-ids 0-3 --shard-count 16`` (a shard cluster,
docs/deploy.md). Checked here, with one-line messages, for the command line and the settings."""

from __future__ import annotations

from collections.abc import Sequence


def parse_shard_ids(text: str) -> tuple[int, ...]:
    """``"0-3,8,10-11"`` -> (0, 1, 2, 3, 8, 10, 11); ValueError says what is wrong."""
    ids: list[int] = []
    for part in text.split(","):
        first, dash, last = part.strip().partition("-")
        try:
            low = int(first)
            high = int(last) if dash else low
        except ValueError:
            raise ValueError(f"{part.strip()!r} is not a shard id or a range like 0-3") from None
        if low < 0 or high < 0:
            raise ValueError(f"{part.strip()!r}: shard ids are 0 or more")
        if high < low:
            raise ValueError(f"{part.strip()!r} is an empty range (write it low-high)")
        ids.extend(range(low, high + 1))
    return tuple(ids)


def check_shard_ids(ids: Sequence[int], count: int | None) -> None:
    """The shard ids a process runs must be given with the total count, each once, below it."""
    if count is None:
        raise ValueError("shard ids need the shard count (the total across all processes)")
    if not ids:
        raise ValueError("no shard ids given")
    seen: set[int] = set()
    for shard in ids:
        if not 0 <= shard < count:
            raise ValueError(
                f"shard {shard} is out of range: a shard count of {count} means ids 0-{count - 1}"
            )
        if shard in seen:
            raise ValueError(f"shard {shard} is given twice")
        seen.add(shard)
