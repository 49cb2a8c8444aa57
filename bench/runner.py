"""Runner latency: fresh sandbox vs warm pool vs the unsandboxed floor (``python -m bench
runner``). A benchmark, not a test: it prints a table and writes it to bench/RESULTS-runner.md.

The snippet is the seed's MobileNetV2 -> output shape question (id mobilenetv2-head-output-shape).

(a) fresh: a new sandboxed worker per snippet, started when the snippet arrives (start-up,
    TensorFlow import and the snippet, as a process-per-run design would pay).
(b) pool: the warm pool with default settings; each request waits until the pool is full again,
    so it measures what a learner sees when a worker is free.
(c) floor: the same snippet exec'd in an already-warm process with no sandbox (same Keras
    patches and warm-up as a worker), repeatedly, in a fresh namespace each time.
Then sustained load, in rounds: the floor (c) again, then 10 users each sending 4 snippets back
to back through the pool (each the next as soon as the last returns). Throughput = snippets /
wall seconds; the compute limit = cores / the floor's p50 of the same round (the machine could
do no better with every core running the snippet at the floor); their ratio is the goal (at
least 0.5). The load average before each round is printed: other jobs on the machine slow both.
And the memory of an idle warm worker (a zygote's child) and of the zygote they share.

Last, graph tracing: a one-shot ``fit`` of a ResNet50 head at 64x64 (32 images, one epoch), each
run in a fresh unsandboxed process (the first trace is what a one-shot snippet pays): eagerly
(``run_eagerly=True``, the old sandbox default), in graph mode as plain Keras runs it, and in
graph mode as the worker runs it (``watch_training``: optimizer built before the trace, so the
step is traced once); then the worker's way through the warm pool, end to end.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bot.runner.cache import library_versions
from bot.runner.pool import Runner
from bot.runner.result import Status
from bot.settings import RunnerSettings, Settings
from bot.tutor.content import load_bank

SNIPPET_ID = "mobilenetv2-head-output-shape"
RESULTS = Path(__file__).with_name("RESULTS-runner.md")
FRESH_SAMPLES = 5
POOL_SAMPLES = 10
FLOOR_SAMPLES = 10
USERS, PER_USER = 10, 4
ROUNDS = 2

FLOOR_SCRIPT = """
import json, os, sys, time
sys.path.insert(0, os.path.dirname(sys.argv[1]))
import worker
code, warmup = sys.argv[2], json.loads(sys.argv[3])
import keras
worker.patch_weights("/nonexistent-weights")
worker.watch_training()
worker.warm_up(warmup)
times, cpus = [], []
for _ in range(int(sys.argv[4])):
    started, cpu = time.perf_counter(), time.process_time()
    result = worker.execute(code)
    times.append(time.perf_counter() - started)
    cpus.append(time.process_time() - cpu)
    assert result["status"] == "ok", result
print(json.dumps([times, cpus]))
"""


FIT_SAMPLES = 3
FIT_SNIPPET = """
import numpy as np
import tensorflow as tf
base = tf.keras.applications.ResNet50(weights='imagenet', include_top=False,
                                      input_shape=(64, 64, 3))
model = tf.keras.Sequential([base, tf.keras.layers.GlobalAveragePooling2D(),
                             tf.keras.layers.Dense(10, activation='softmax')])
model.compile(optimizer='adam', loss='sparse_categorical_crossentropy'{eager})
x = np.random.rand(32, 64, 64, 3)
y = np.random.randint(0, 10, size=(32,))
model.fit(x, y, epochs=1, verbose=2)
"""
FIT_SCRIPT = """
import json, os, sys, time
sys.path.insert(0, os.path.dirname(sys.argv[1]))
import worker
import keras
worker.patch_weights("/nonexistent-weights")
if sys.argv[3] == "watched":
    worker.watch_training()
cpu = time.process_time()
result = worker.execute(sys.argv[2])
assert result["status"] == "ok", result
print(json.dumps([result["duration_s"], time.process_time() - cpu]))
"""


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _row(name: str, values: list[float]) -> str:
    return (
        f"| {name} | {len(values)} | {_pct(values, 0.5):.2f} | {_pct(values, 0.9):.2f} | "
        f"{min(values):.2f} | {max(values):.2f} |"
    )


async def _fresh(settings: RunnerSettings, code: str) -> list[float]:
    one = settings.model_copy(update={"workers": 1, "warmup_models": ()})
    times = []
    for _ in range(FRESH_SAMPLES):
        started = time.perf_counter()
        async with Runner(one, spawn_limit=1) as runner:
            result = await runner.run(code, "bench", use_cache=False)
        times.append(time.perf_counter() - started)
        assert result.status is Status.OK, result.render()
    return times


async def _pool(
    settings: RunnerSettings, code: str
) -> tuple[list[float], list[Round], dict[str, tuple[float | None, float | None]]]:
    times: list[float] = []
    async with Runner(settings) as runner:
        await runner.wait_idle()
        await asyncio.sleep(1)  # let the warm-ups' memory settle
        idle = {f"worker {n}": (w.rss_mb(), _pss_mb(w.pid)) for n, w in
                enumerate(runner.idle_workers, start=1)}  # fmt: skip
        zygote = runner.zygote
        if zygote is not None:
            idle["zygote (shared)"] = zygote.rss_mb()
        for _ in range(POOL_SAMPLES):
            await runner.wait_idle()
            await asyncio.sleep(0.5)  # let the replacement settle: measure a quiet pool
            started = time.perf_counter()
            result = await runner.run(code, "bench", use_cache=False)
            times.append(time.perf_counter() - started)
            assert result.status is Status.OK, result.render()
        rounds = [await _round(runner, settings, code) for _ in range(ROUNDS)]
    # The same round with eager ops run as one-op functions, as plain TensorFlow runs them
    # (worker.run_eager_ops_directly off): what running them directly buys.
    async with Runner(settings.model_copy(update={"direct_ops": False})) as runner:
        rounds.append(await _round(runner, settings, code))
    return times, rounds, idle


async def _round(runner: Runner, settings: RunnerSettings, code: str) -> Round:
    await runner.wait_idle()
    load = os.getloadavg()[0]
    floor, floor_cpu = _floor(settings, code)
    await runner.wait_idle()
    cpu = _generation_cpu_s(runner)
    latencies, total = await _load(runner, code)
    await asyncio.sleep(1)  # the last children reaped
    cpu = _generation_cpu_s(runner) - cpu
    return Round(load, floor, floor_cpu, latencies, total, cpu, runner.settings.direct_ops)


@dataclass(frozen=True)
class Round:
    """One round of sustained load, with the floor measured just before it."""

    load: float  # load average (1 min) before the round
    floor: list[float]
    floor_cpu: list[float]
    latencies: list[float]
    total_s: float
    cpu_s: float  # CPU seconds the generation used during the round (all processes)
    direct_ops: bool = True  # False: eager ops as one-op functions, as plain TensorFlow

    @property
    def name(self) -> str:
        return "" if self.direct_ops else " (one-op functions)"

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.total_s

    @property
    def limit(self) -> float:
        return (os.cpu_count() or 1) / statistics.median(self.floor)

    @property
    def cpu_per_snippet(self) -> float:
        return self.cpu_s / len(self.latencies)


async def _load(runner: Runner, code: str) -> tuple[list[float], float]:
    latencies: list[float] = []
    begun = time.perf_counter()

    async def user(n: int) -> None:
        for _ in range(PER_USER):
            started = time.perf_counter()
            result = await runner.run(code, f"user{n}", use_cache=False)
            latencies.append(time.perf_counter() - started)
            assert result.status is Status.OK, result.render()

    await asyncio.gather(*(user(n) for n in range(USERS)))
    return latencies, time.perf_counter() - begun


def _floor(settings: RunnerSettings, code: str) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of each run of the snippet in a warm unsandboxed process."""
    worker = Path(__file__).resolve().parents[1] / "bot" / "runner" / "worker.py"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "MALLOC_ARENA_MAX": "2"}
    out = subprocess.run(
        [sys.executable, "-c", FLOOR_SCRIPT, str(worker), code,
         json.dumps(list(settings.warmup_models)), str(FLOOR_SAMPLES)],
        capture_output=True, text=True, check=True, env=env,
    )  # fmt: skip
    times, cpus = json.loads(out.stdout.strip().splitlines()[-1])
    return times, cpus


def _generation_cpu_s(runner: Runner) -> float:
    """CPU seconds of the zygote and of every child it has reaped (their whole trees)."""
    zygote = runner.zygote
    pid = zygote.host_pid() if zygote is not None else None
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()  # utime stime cutime cstime
        return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return float("nan")


def _fit_variants() -> dict[str, tuple[list[float], list[float]]]:
    """Wall and CPU seconds of the one-shot fit, each sample a fresh process."""
    worker = Path(__file__).resolve().parents[1] / "bot" / "runner" / "worker.py"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "MALLOC_ARENA_MAX": "2"}
    variants = {
        "eager (run_eagerly=True)": (FIT_SNIPPET.format(eager=", run_eagerly=True"), "plain"),
        "graph, plain Keras": (FIT_SNIPPET.format(eager=""), "plain"),
        "graph, as the worker runs it": (FIT_SNIPPET.format(eager=""), "watched"),
    }
    found: dict[str, tuple[list[float], list[float]]] = {}
    for name, (code, mode) in variants.items():
        walls, cpus = [], []
        for _ in range(FIT_SAMPLES):
            out = subprocess.run(
                [sys.executable, "-c", FIT_SCRIPT, str(worker), code, mode],
                capture_output=True, text=True, check=True, env=env,
            )  # fmt: skip
            wall, cpu = json.loads(out.stdout.strip().splitlines()[-1])
            walls.append(wall)
            cpus.append(cpu)
        found[name] = (walls, cpus)
    return found


async def _fit_pool(settings: RunnerSettings) -> list[float]:
    """The worker's way, end to end through a warm pool (a longer wall clock: a busy machine
    must not turn a sample into a timeout)."""
    one = settings.model_copy(update={"workers": 1, "wall_timeout_s": 300, "cpu_time_s": 600})
    times = []
    async with Runner(one) as runner:
        for _ in range(FIT_SAMPLES):
            await runner.wait_idle()
            started = time.perf_counter()
            result = await runner.run(FIT_SNIPPET.format(eager=""), "bench", use_cache=False)
            times.append(time.perf_counter() - started)
            assert result.status is Status.OK, result.render()
    return times


def _pss_mb(pid: int | None) -> float | None:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except (OSError, ValueError, TypeError):
        return None
    return None


def _machine() -> str:
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{os.cpu_count()} cores ({model}), {mem:.0f} GiB RAM, Linux {platform.release()}, "
        f"Python {platform.python_version()}, {library_versions()}"
    )


def _fit_ratios(fits: dict[str, tuple[list[float], list[float]]]) -> list[str]:
    """Ratios on CPU seconds and on the fastest wall time: a busy machine stretches some wall
    samples (the p50 of three is not enough against that), much less the CPU time."""
    (eager_w, eager_c), (plain_w, plain_c), (tuned_w, tuned_c) = fits.values()
    cpu = {k: _pct(v, 0.5) for k, v in (("e", eager_c), ("p", plain_c), ("t", tuned_c))}
    wall = {k: min(v) for k, v in (("e", eager_w), ("p", plain_w), ("t", tuned_w))}
    return [
        f"- the worker's graph fit / eager: **{cpu['t'] / cpu['e']:.1f}x** in CPU time, "
        f"**{wall['t'] / wall['e']:.1f}x** in the fastest wall time (goal: at most 2x)",
        f"- graph as plain Keras / eager: {cpu['p'] / cpu['e']:.1f}x CPU, "
        f"{wall['p'] / wall['e']:.1f}x wall; the worker's graph / plain graph: "
        f"{cpu['t'] / cpu['p']:.2f} CPU, {wall['t'] / wall['p']:.2f} wall",
    ]


async def main(settings: Settings) -> int:
    bank = load_bank(settings.content_dir)
    question = bank.get(SNIPPET_ID)
    assert question is not None and question.code
    code, s = question.code, settings.runner
    print(f"Benchmarking {SNIPPET_ID} on {_machine()}", file=sys.stderr)
    load_at_start = os.getloadavg()[0]
    floor, _ = _floor(s, code)
    fresh = await _fresh(s, code)
    pool, rounds, idle = await _pool(s, code)
    with_fit = os.environ.get("BENCH_RUNNER_FIT", "1") != "0"
    fits = _fit_variants() if with_fit else {}
    fit_pool = await _fit_pool(s) if with_fit else []
    p50 = {name: statistics.median(v) for name, v in (("a", fresh), ("b", pool), ("c", floor))}
    cores = os.cpu_count() or 1
    lines = [
        "# Runner benchmark",
        "",
        f"Snippet: the seed's `{SNIPPET_ID}` (MobileNetV2 128x128 + pooling + Dense(5)).",
        f"Machine: {_machine()}; load average {load_at_start:.1f} at the start.",
        f"Pool: {s.workers} workers (children of one zygote), warm-up {list(s.warmup_models)}; "
        f"generated by `python -m bench runner` on {time.strftime('%Y-%m-%d %H:%M')}.",
        "",
        "| measure (seconds, end to end) | n | p50 | p90 | min | max |",
        "| --- | --- | --- | --- | --- | --- |",
        _row("(a) fresh sandbox per snippet (zygote start + child)", fresh),
        _row("(b) warm pool, a worker free", pool),
        _row("(c) floor: warm process, no sandbox", floor),
        *(
            _row(f"round {n}{r.name}: {USERS * PER_USER} snippets, {USERS} users back to back",
                 r.latencies)
            for n, r in enumerate(rounds, start=1)
        ),
        "",
        f"- (b) p50 / (c) p50 = **{p50['b'] / p50['c']:.2f}** (goal: at most 1.25)",
        f"- (a) p50 / (b) p50 = **{p50['a'] / p50['b']:.1f}x** faster (goal: at least 4x)",
        "",
        "Sustained load (each round: the floor, then the users; compute limit = "
        f"{cores} cores / the round's floor p50):",
        "",
        "| round | load before | floor p50 (s) | compute limit (/s) | sustained (/s) | ratio "
        "| CPU-s per snippet: floor | through the pool | floor / pool |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        *(
            f"| {n}{r.name} | {r.load:.1f} | {statistics.median(r.floor):.3f} | {r.limit:.2f} "
            f"| {r.throughput:.2f} | **{r.throughput / r.limit:.2f}** "
            f"| {statistics.median(r.floor_cpu):.3f} | {r.cpu_per_snippet:.3f} "
            f"| {statistics.median(r.floor_cpu) / r.cpu_per_snippet:.2f} |"
            for n, r in enumerate(rounds, start=1)
        ),
        "",
        "Goal: sustained at least 0.5 of the compute limit. The CPU columns do not depend on what "
        "else the machine runs: CPU seconds per snippet of the floor (p50), and of the whole "
        "generation during the round (zygote, children, inits, workers: forks, set-up, the "
        "snippet, teardown, warm-ups) divided by the snippets; their quotient is what the ratio "
        "would be on an otherwise idle machine if the floor used one core. Each snippet runs "
        "in a session of its own, as the floor's process does: Linux shares a busy machine "
        "between sessions (autogroups) first, so the comparison is one share per running "
        "snippet on both sides. The last round runs eager ops as one-op functions, as plain "
        "TensorFlow does (`direct_ops` off): what running them directly buys (docs/runner.md, "
        "\"Throughput\"); the goal is met or not by the rounds above it.",
        "",
        "Memory when idle (RSS, PSS in MiB; PSS shares pages among the processes using them):",
        "",
        *(f"- {name}: RSS {rss} MiB, PSS {pss} MiB" for name, (rss, pss) in idle.items()),
    ]
    if with_fit:
        lines += [
            "",
            "## One-shot fit of a ResNet50 head at 64x64 (32 images, 1 epoch)",
            "",
            "Each sample a fresh process, unsandboxed (the snippet's own time; TensorFlow "
            "imported before), then the worker's way through the warm pool (end to end).",
            "",
            "| fit (seconds) | n | wall p50 | wall min | wall max | CPU p50 |",
            "| --- | --- | --- | --- | --- | --- |",
            *(
                f"| {name} | {len(w)} | {_pct(w, 0.5):.1f} | {min(w):.1f} | {max(w):.1f} "
                f"| {_pct(c, 0.5):.1f} |"
                for name, (w, c) in fits.items()
            ),
            f"| graph, the worker's way, through the warm pool | {len(fit_pool)} "
            f"| {_pct(fit_pool, 0.5):.1f} | {min(fit_pool):.1f} | {max(fit_pool):.1f} | |",
            "",
            *_fit_ratios(fits),
        ]
    table = "\n".join(lines) + "\n"
    print(table)
    RESULTS.write_text(table, encoding="utf-8")
    print(f"written to {RESULTS}", file=sys.stderr)
    return 0
