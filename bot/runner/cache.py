"""Results of verified content snippets, on disk, keyed by the code and the TensorFlow version.

``content check --execute`` writes the results that matched their question's ``expect``; the
runner reads them so that "Run it" on a content snippet answers at once. Practice variants' runs
are kept here too (by the check, ``content practice`` and the bot's /practice: their answer is
what the run did, bot/runner/practice.py). A new TensorFlow or Keras (or a change to how the
worker runs code) changes every key.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import tempfile
from importlib import metadata
from pathlib import Path

from bot.runner.result import RunResult

log = logging.getLogger(__name__)

# Bump when the worker's way of running code changes what a result holds.
# 2: graph mode as plain Keras (no eager default), model facts; 3: layers, files, baseline memory;
# 4: eager ops run directly (worker.run_eager_ops_directly; the same results, sooner)
WORKER_VERSION = "4"


@functools.cache
def library_versions() -> str:
    """The TensorFlow and Keras versions, read from package metadata (no TensorFlow import)."""
    found = []
    for dist in ("tensorflow-cpu", "tensorflow", "keras"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            found.append(f"{dist}={metadata.version(dist)}")
    return ",".join(found)


class ResultCache:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def key(self, code: str) -> str:
        material = "\0".join((WORKER_VERSION, library_versions(), code))
        return hashlib.sha256(material.encode()).hexdigest()

    def get(self, code: str) -> RunResult | None:
        path = self.directory / f"{self.key(code)}.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return RunResult.from_dict(data, cached=True)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring unreadable cached result %s: %s", path, exc)
            return None

    def put(self, code: str, result: RunResult) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.directory / f"{self.key(code)}.json"
        # Write then rename: a reader never sees half a file.
        fd, tmp = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(result.to_dict(), f)
        os.replace(tmp, target)
