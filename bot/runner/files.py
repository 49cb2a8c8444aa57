"""The files a run brought back, written to disk for the terminal: one folder per run under
``run-files/`` next to the database, each file under its safe name (``FileInfo.safe_name``)."""

from __future__ import annotations

import re
import time
from pathlib import Path

from bot.runner.result import RunResult

FOLDER = "run-files"
_SQLITE = re.compile(r"sqlite(?:\+\w+)?:///(?P<path>[^?]+)")


def files_dir_of(database_url: str) -> Path:
    """The folder of a SQLite database, else data/ (as ``Services.files_dir``), read from the
    URL without SQLAlchemy: run-snippet imports no database code."""
    found = _SQLITE.match(database_url)
    if found is None or found["path"] == ":memory:":
        return Path("data")
    return Path(found["path"]).parent


def save_files(result: RunResult, files_dir: Path, who: str = "run") -> list[Path]:
    """Write ``result.files`` into a new folder of ``files_dir/run-files`` and return their
    paths (none written when there are none). Raises OSError if the disk refuses."""
    if not result.files:
        return []
    stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in who)[:40] or "run"
    base = files_dir / FOLDER / f"{time.strftime('%Y%m%d-%H%M%S')}-{stem}"
    folder, n = base, 1
    while folder.exists():
        n += 1
        folder = base.with_name(f"{base.name}-{n}")
    folder.mkdir(parents=True)
    paths = []
    taken: set[str] = set()
    for file in result.files:
        name = file.safe_name
        while name in taken:  # "a/b.png" and "a_b.png" flatten to the same name
            name = "_" + name
        taken.add(name)
        path = folder / name
        path.write_bytes(file.data)
        paths.append(path)
    return paths


def describe_saved(paths: list[Path]) -> str:
    return "Files the snippet wrote:\n" + "\n".join(f"  {p}" for p in paths)
