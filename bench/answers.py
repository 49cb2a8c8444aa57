"""Answer throughput and latency through the tutor core and SQLite, against a plain-sqlite3 floor.

Simulated learners each repeat: ask a question (/quiz), then answer it. Every answer is graded,
stored and committed before the next step, exactly as a frontend does it. Run with
``python -m bench answers`` (or ``make bench``); it prints a Markdown table.

The floor is measured in the same run, on the same kind of file: plain ``sqlite3`` committing
the three writes an answer makes (attempt, review card, review log; the store's own statements)
as one transaction per answer, with the store's settings (WAL, synchronous=NORMAL, foreign keys
on). The goals are relative to it, so that a busy or slow machine moves both alike: one learner
at least 25% of the floor, and 100 learners with p99 under 50 ms.

Given a database server (``--database-url postgresql+asyncpg://...``, or TUTOR_DATABASE_URL), the
same learners run against it too, each run in a guild of its own; the floor stays SQLite's.
"""

from __future__ import annotations

import asyncio
import os
import platform
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.logs import safe_url
from bot.settings import Settings
from bot.tutor.content import load_bank
from bot.tutor.replies import Reply
from bot.tutor.service import MAX_NEW_PER_DAY, LearnerRef, Tutor
from db import open_store
from db.statements import ADD_ATTEMPT, ADD_REVIEW_LOG, SAVE_CARD, to_sqlite_time

LEARNER_COUNTS = (1, 10, 100)
DURATION_S = 5.0
FLOOR_DURATION_S = 3.0
GOAL_SHARE_OF_FLOOR = 0.25
GOAL_P99_MS = 50.0


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def _right(tutor: Tutor, asked: Reply) -> str:
    """The right answer to a question as shown (its choices in the learner's order): a
    learner who keeps failing would have questions parked, which is not what is measured."""
    question = tutor.bank.get(asked.question_id or "")
    assert question is not None
    if question.correct_index is None:
        return (question.accept or ("",))[0]
    order = asked.order or tuple(range(len(asked.choices)))
    return str(order.index(question.correct_index) + 1)


async def _learner(tutor: Tutor, who: LearnerRef, stop: float, latencies: list[float]) -> int:
    done = 0
    while time.perf_counter() < stop:
        question = await tutor.quiz(who)
        assert question.question_id is not None, question.text
        answer = _right(tutor, question)
        started = time.perf_counter()
        reply = await tutor.answer(who, answer)
        latencies.append(time.perf_counter() - started)
        assert reply.correct is not None, reply.text
        done += 1
    return done


async def run_one(
    content_dir: Path, learners: int, duration_s: float, server: str | None = None
) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        store = await open_store(server or f"sqlite+aiosqlite:///{tmp}/bench.db")
        tutor = Tutor(load_bank(content_dir), store)
        guild = f"g-{time.time_ns()}"  # a server keeps earlier runs: new learners each time
        people = [LearnerRef("bench", f"u{i}", guild, f"learner {i}") for i in range(learners)]
        for who in people:  # create learners up front: the benchmark is about answers
            await tutor.progress(who)
            await tutor.set_learning(who, new_per_day=str(MAX_NEW_PER_DAY))
        latencies: list[float] = []
        cpu = time.process_time()  # of every thread of the process: loop, writer, readers
        started = time.perf_counter()
        stop = started + duration_s
        counts = await asyncio.gather(*(_learner(tutor, w, stop, latencies) for w in people))
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu
        await store.close()
    return {
        "learners": learners,
        "answers": sum(counts),
        "per_s": sum(counts) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "cpu_us": cpu / sum(counts) * 1e6,
    }


async def _schema(path: Path) -> None:
    store = await open_store(f"sqlite+aiosqlite:///{path}")  # migrated: the store's schema
    await store.close()


def floor(path: Path, duration_s: float) -> tuple[float, float]:
    """Answers per second that plain sqlite3 commits, and the CPU time each takes (µs): the
    store's three writes per answer, one transaction each, nothing else (no grading, no reads,
    no event loop, no threads)."""
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=WAL", "foreign_keys=ON", "synchronous=NORMAL"):
        conn.execute(f"PRAGMA {pragma}")
    now = to_sqlite_time(datetime.now(UTC))
    learner = conn.execute(
        "INSERT INTO learners (platform, user_id, guild_id, display_name, created_at) "
        "VALUES ('bench', 'floor', 'g', 'floor', ?) RETURNING id",
        (now,),
    ).fetchone()[0]
    attempt: dict[str, Any] = {
        "learner_id": learner,
        "topic": "t",
        "answer": "1",
        "correct": True,
        "hinted": False,
        "points": 10,
        "time_to_answer_ms": 1500,
        "answered_at": now,
        "revealed": False,
        "retry": False,
    }
    card: dict[str, Any] = {
        "learner_id": learner,
        "state": 2,
        "step": None,
        "stability": 3.2,
        "difficulty": 5.1,
        "due": now,
        "last_review": now,
        "last_rating": 3,
        "lapses": 0,
        "parked_until": None,
    }
    log = {"learner_id": learner, "rating": 3, "reviewed_at": now, "duration_ms": 1500}
    done = 0
    cpu = time.thread_time()
    started = time.perf_counter()
    stop = started + duration_s
    while time.perf_counter() < stop:
        question = {"question_id": f"q{done % 80}"}  # 80 questions, as the content has
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(ADD_ATTEMPT.sql, attempt | question)
        conn.execute(SAVE_CARD.sql, card | question)
        conn.execute(ADD_REVIEW_LOG.sql, log | question)
        conn.execute("COMMIT")
        done += 1
    elapsed = time.perf_counter() - started
    cpu = time.thread_time() - cpu
    conn.close()
    return done / elapsed, cpu / done * 1e6


def measure_floor(duration_s: float) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "floor.db"
        asyncio.run(_schema(path))
        return floor(path, duration_s)


def _verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def _table(results: list[dict[str, float]], floor_per_s: float) -> None:
    print("| learners | answers | answers/s | of the floor | p50 ms | p99 ms | CPU µs/answer |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['learners']:.0f} | {r['answers']:.0f} | {r['per_s']:,.0f} | "
            f"{r['per_s'] / floor_per_s:.0%} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
            f"{r['cpu_us']:.0f} |"
        )


async def main(settings: Settings, duration_s: float = DURATION_S) -> int:
    print(
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, SQLite {sqlite3.sqlite_version} (WAL, synchronous=NORMAL)"
        f" on a temporary file; load average {os.getloadavg()[0]:.2f} at the start"
    )
    print(
        f"Each learner loops /quiz then answer for {duration_s:.0f} s; latency is the answer "
        "call (grade + store + commit).\n"
    )
    # The floor runs before and after the learners, so that a machine whose load changes
    # during the run moves it too; the goals use the mean.
    before, before_cpu = await asyncio.to_thread(measure_floor, FLOOR_DURATION_S)
    results = [await run_one(settings.content_dir, n, duration_s) for n in LEARNER_COUNTS]
    after, after_cpu = await asyncio.to_thread(measure_floor, FLOOR_DURATION_S)
    floor_per_s = (before + after) / 2
    print(
        f"Floor (plain sqlite3, the same three writes per answer, one transaction each): "
        f"{floor_per_s:,.0f} answers/s (before {before:,.0f}, after {after:,.0f}), "
        f"{(before_cpu + after_cpu) / 2:.0f} µs of CPU each\n"
    )
    _table(results, floor_per_s)
    one, hundred = results[0], results[-1]
    share, p99 = one["per_s"] / floor_per_s, hundred["p99_ms"]
    print(
        f"\n- one learner: {one['per_s']:,.0f} answers/s = **{share:.0%}** of the floor "
        f"(goal: at least {GOAL_SHARE_OF_FLOOR:.0%}): {_verdict(share >= GOAL_SHARE_OF_FLOOR)}"
    )
    print(
        f"- {hundred['learners']:.0f} learners: p99 **{p99:.1f} ms** (goal: under "
        f"{GOAL_P99_MS:.0f} ms): {_verdict(p99 < GOAL_P99_MS)}"
    )
    url = settings.database_url.get_secret_value()
    if not url.startswith("sqlite"):
        print(f"\nThe same learners on {safe_url(url)} (the floor is SQLite's):\n")
        _table(
            [await run_one(settings.content_dir, n, duration_s, url) for n in LEARNER_COUNTS],
            floor_per_s,
        )
    return 0
