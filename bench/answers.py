"""Answer throughput and latency through the tutor core and SQLite (issue 2's benchmark).

Simulated learners each repeat: ask a question (/quiz), then answer it. Every answer is graded,
stored and committed before the next step, exactly as a frontend does it. Run with
``python -m bot bench answers`` (or ``make bench``); it prints a Markdown table.
"""

from __future__ import annotations

import asyncio
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from bot.settings import Settings
from bot.tutor.content import load_bank
from bot.tutor.service import LearnerRef, Tutor
from db import open_store

LEARNER_COUNTS = (1, 10, 100)
DURATION_S = 5.0


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def _learner(tutor: Tutor, who: LearnerRef, stop: float, latencies: list[float]) -> int:
    done = 0
    while time.perf_counter() < stop:
        question = await tutor.quiz(who)
        assert question.question_id is not None
        answer = "1" if question.choices else "(None, 5)"
        started = time.perf_counter()
        reply = await tutor.answer(who, answer)
        latencies.append(time.perf_counter() - started)
        assert reply.correct is not None, reply.text
        done += 1
    return done


async def run_one(content_dir: Path, learners: int, duration_s: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        store = await open_store(f"sqlite+aiosqlite:///{tmp}/bench.db")
        tutor = Tutor(load_bank(content_dir), store)
        people = [LearnerRef("bench", f"u{i}", "g", f"learner {i}") for i in range(learners)]
        for who in people:  # create learners up front: the benchmark is about answers
            await tutor.progress(who)
        latencies: list[float] = []
        started = time.perf_counter()
        stop = started + duration_s
        counts = await asyncio.gather(*(_learner(tutor, w, stop, latencies) for w in people))
        elapsed = time.perf_counter() - started
        await store.close()
    return {
        "learners": learners,
        "answers": sum(counts),
        "per_s": sum(counts) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
    }


async def main(settings: Settings, duration_s: float = DURATION_S) -> int:
    print(
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, SQLite (WAL, synchronous=NORMAL) on a temporary file"
    )
    print(
        f"Each learner loops /quiz then answer for {duration_s:.0f} s; latency is the answer "
        "call (grade + store + commit).\n"
    )
    print("| learners | answers | answers/s | p50 ms | p99 ms |")
    print("|---:|---:|---:|---:|---:|")
    for n in LEARNER_COUNTS:
        r = await run_one(settings.content_dir, n, duration_s)
        print(
            f"| {n} | {r['answers']:.0f} | {r['per_s']:.0f} | {r['p50_ms']:.2f} | "
            f"{r['p99_ms']:.2f} |"
        )
    return 0
