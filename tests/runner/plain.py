"""Run snippets as plain Python on the pinned TensorFlow, outside the sandbox: the reference the
equality test compares the sandbox with (``python tests/runner/plain.py JOBS.json``).

Each snippet runs as ``python snippet.py`` would: as ``__main__`` in a fresh process, with
nothing of the worker (no sandbox, no warm-up, no watching of fit). Importing TensorFlow costs
~4 s, so this process imports it once and forks one child per snippet, two at a time; a process
that has only imported TensorFlow forks safely (FACTS.md: it is an op in the parent that makes a
child hang), and this parent never runs one. The one change from a bare ``python`` is the
sandbox's documented one: pretrained weights come from the weights directory or stay random
(``worker.patch_weights``), since neither side has internet access.

JOBS.json: ``{"weights_dir": DIR, "workdir": DIR, "jobs": [{"key": K, "code": CODE}, ...]}``.
Prints one JSON object per line as each snippet finishes: ``{"key", "status", "stdout",
"exception": {"type", "message"} | null, "models": [...]}``.
"""

from __future__ import annotations

import builtins
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

PARALLEL = 2
TIMEOUT_S = 300.0
WORKER = Path(__file__).resolve().parents[2] / "bot" / "runner" / "worker.py"


def child(code: str, directory: Path) -> None:
    """Run one snippet as a script in ``directory`` and write report.json there."""
    import worker  # type: ignore[import-not-found]

    os.chdir(directory)
    out = os.open("stdout.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    err = os.open("stderr.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(out, 1)
    os.dup2(err, 2)
    path = str(directory / "snippet.py")
    Path(path).write_text(code, encoding="utf-8")
    sys.argv = [path]
    namespace: dict[str, Any] = {"__name__": "__main__", "__file__": path, "__builtins__": builtins}
    exception: BaseException | None = None
    try:
        exec(compile(code, path, "exec"), namespace)
    except SystemExit as exc:
        if exc.code not in (None, 0):
            exception = exc
    except BaseException as exc:  # the snippet's outcome, as for the worker
        exception = exc
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    report = {
        "status": "ok" if exception is None else "error",
        "exception": None
        if exception is None
        else {"type": type(exception).__name__, "message": str(exception)},
        "models": worker.describe_models(namespace),
    }
    Path("report.json").write_text(json.dumps(report), encoding="utf-8")


def main() -> int:
    spec = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    sys.path.insert(0, str(WORKER.parent))
    import keras  # noqa: F401  (imports TensorFlow; no op runs in this parent)
    import worker

    worker.patch_weights(spec["weights_dir"])
    workdir = Path(spec["workdir"])
    pending = list(enumerate(spec["jobs"]))
    running: dict[int, tuple[dict[str, Any], Path, float]] = {}
    while pending or running:
        while pending and len(running) < PARALLEL:
            index, job = pending.pop(0)
            directory = workdir / str(index)
            directory.mkdir(parents=True)
            pid = os.fork()
            if pid == 0:
                try:
                    child(job["code"], directory)
                finally:
                    os._exit(0)  # skip TensorFlow's slow teardown
            running[pid] = (job, directory, time.monotonic() + TIMEOUT_S)
        pid, _ = os.waitpid(-1, os.WNOHANG)
        if pid == 0:
            for other, (_, _, deadline) in running.items():
                if time.monotonic() > deadline:
                    os.kill(other, signal.SIGKILL)
            time.sleep(0.05)
            continue
        job, directory, _ = running.pop(pid)
        try:
            report = json.loads((directory / "report.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            report = {"status": "crashed", "exception": None, "models": []}
        report["key"] = job["key"]
        report["stdout"] = (directory / "stdout.txt").read_text(encoding="utf-8", errors="replace")
        print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
