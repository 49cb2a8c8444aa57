"""Workers are forked from a zygote (one per generation): what one snippet leaves behind must not
reach the next child of the same zygote, and the zygote itself must stay clean."""

from __future__ import annotations

import ast
import asyncio
import json
import os
import textwrap
from pathlib import Path

import pytest

from bot.runner import sandbox as sandbox_module
from bot.runner.pool import Runner
from bot.runner.result import RunResult, Status
from bot.runner.sandbox import Sandbox
from tests.runner.helpers import TEST_LIMITS

pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="session")]

FIRST = r"""
import ctypes, json, os, sys, threading, time, builtins
marker = b"zygote-leak-" + os.urandom(16).hex().encode()
held = ctypes.create_string_buffer(marker, 4096)  # in this process's memory, at a known address
paths = ("/tmp/left-by-first", os.path.expanduser("~/left-by-first"), "left-by-first",
         "/dev/shm/left-by-first")  # /dev/shm: where POSIX semaphores and shared memory live
for path in paths:
    with open(path, "wb") as f:
        f.write(marker)
os.mkdir("/tmp/dir-by-first")
os.environ["LEFT_BY_FIRST"] = marker.decode()
json.left_by_first = marker  # a module the zygote imported
builtins.left_by_first = marker
sys.modules["left_by_first"] = sys
threading.Thread(target=time.sleep, args=(600,), daemon=True).start()  # still running after
print(json.dumps({"marker": marker.decode(), "address": ctypes.addressof(held),
                  "pid": os.getpid(), "tasks": len(os.listdir("/proc/self/task"))}))
"""

SECOND = r"""
import builtins, json, os, sys
first = json.loads(FIRST)
marker = first["marker"].encode()
seen = {}
seen["tmp"] = sorted(os.listdir("/tmp"))
seen["home"] = sorted(os.listdir(os.path.expanduser("~")))
seen["cwd"] = sorted(os.listdir("."))
seen["shm"] = sorted(os.listdir("/dev/shm"))
seen["environ"] = {k: v for k, v in os.environ.items() if "FIRST" in k or marker.decode() in v}
seen["module"] = hasattr(json, "left_by_first") or hasattr(builtins, "left_by_first")
seen["sys.modules"] = "left_by_first" in sys.modules
seen["processes"] = sorted(p for p in os.listdir("/proc") if p.isdigit())
try:  # the first snippet's buffer, at the same address in this process (same zygote layout)
    with open("/proc/self/mem", "rb") as mem:
        mem.seek(first["address"])
        seen["memory"] = mem.read(len(marker)) == marker
except OSError as exc:
    seen["memory"] = type(exc).__name__  # not even mapped here
print(json.dumps(seen))
"""


async def run(pool: Runner, code: str) -> RunResult:
    return await pool.run(textwrap.dedent(code), user="zygote-test", use_cache=False)


async def test_a_second_snippet_of_the_same_generation_sees_nothing_of_the_first():
    limits = TEST_LIMITS.model_copy(update={"workers": 1})
    async with Runner(limits) as pool:
        await pool.wait_idle()
        zygote = pool.zygote
        assert zygote is not None
        zygote_pid = zygote.host_pid()
        first = await run(pool, FIRST)
        assert first.status is Status.OK, first.render()
        left = json.loads(first.stdout)
        assert left["tasks"] >= 2  # its thread was running when it ended
        await pool.wait_idle()
        second = await run(pool, f"FIRST = {first.stdout.strip()!r}\n" + SECOND)
        # The same generation: the same zygote forked both workers.
        assert pool.zygote is zygote and zygote.alive and zygote.host_pid() == zygote_pid
    assert second.status is Status.OK, second.render()
    seen = json.loads(second.stdout)
    assert seen["tmp"] == [] and seen["home"] == [] and seen["cwd"] == []  # files
    assert seen["shm"] == []  # a /dev/shm of its own
    assert seen["environ"] == {}  # environment
    assert seen["module"] is False and seen["sys.modules"] is False  # interpreter state
    assert seen["processes"] == ["1", "2"]  # its own init and itself: no thread or process left
    assert seen["memory"] is not True  # memory: the first's buffer is not at its address


async def test_the_zygote_runs_no_op_and_holds_no_learner_state(runner: Runner):
    # A snippet that tries everything a child can do to its parent: the zygote is outside its
    # pid namespace, so there is no pid to signal and no /proc entry to open.
    result = await runner.run(
        textwrap.dedent(
            """
            import os, signal
            found = [p for p in os.listdir("/proc") if p.isdigit()]
            mine = {int(t) for t in os.listdir("/proc/self/task")}  # its own threads' ids
            for pid in set(range(1, 64)) - mine - {1}:
                try:
                    os.kill(pid, signal.SIGKILL)
                    print("signalled", pid)
                except ProcessLookupError:
                    pass
            print(sorted(found))
            """
        ),
        user="zygote-parent",
        use_cache=False,
    )
    assert result.status is Status.OK, result.render()
    assert "signalled" not in result.stdout and result.stdout.strip() == "['1', '2']"
    zygote = runner.zygote
    assert zygote is not None and zygote.alive
    pid = zygote.host_pid()
    assert pid is not None
    threads = len(os.listdir(f"/proc/{pid}/task"))
    # After importing TensorFlow a process has 2 threads; its first op starts the pools (7+).
    assert threads <= 2
    # Every child the zygote made has its own user, mount and pid namespaces.
    own = {ns: os.readlink(f"/proc/{pid}/ns/{ns}") for ns in ("user", "mnt", "pid")}
    for worker in runner.idle_workers:
        worker_pid = worker.process.worker_pid()
        assert worker_pid is not None
        for ns, link in own.items():
            assert os.readlink(f"/proc/{worker_pid}/ns/{ns}") != link


SESSION = r"""
import json, os
try:
    with open("/proc/self/autogroup") as f:
        group = f.read().split()[0]
except OSError:
    group = None  # a kernel without autogroups
print(json.dumps({"sid": os.getsid(0), "pid": os.getpid(), "autogroup": group}))
"""


def autogroup(pid: int | None) -> str | None:
    try:
        with open(f"/proc/{pid}/autogroup") as f:
            return f.read().split()[0]
    except OSError:
        return None


async def test_each_snippet_runs_in_a_session_and_scheduling_group_of_its_own(runner: Runner):
    # Linux shares a busy machine's CPU between sessions (autogroups) before processes: snippets
    # left in the zygote's session would share one slice between them (bench/RESULTS-runner.md).
    first, second = await asyncio.gather(
        runner.run(SESSION, user="session-a", use_cache=False),
        runner.run(SESSION, user="session-b", use_cache=False),
    )
    seen = []
    for result in (first, second):
        assert result.status is Status.OK, result.render()
        seen.append(json.loads(result.stdout))
    for snippet in seen:
        assert snippet["sid"] == snippet["pid"]  # a session leader, not in the zygote's session
    zygote = runner.zygote
    assert zygote is not None
    zygote_group = autogroup(zygote.host_pid())
    if zygote_group is None:
        pytest.skip("no autogroups on this kernel (the sessions were checked)")
    groups = {snippet["autogroup"] for snippet in seen}
    assert len(groups) == 2 and zygote_group not in groups


async def test_a_zygote_in_which_an_op_ran_forks_nothing(tmp_path: Path):
    # A child forked after an op hangs in its first one (FACTS.md); the zygote checks before it
    # says ready, and before every fork. Here its import runs an op: no worker may come of it.
    source = Path(sandbox_module.__file__).with_name("worker.py").read_text(encoding="utf-8")
    marker = "        watch_training()\n        if not no_op_ran():"
    assert marker in source
    script = tmp_path / "worker.py"
    an_op = "\n        __import__('tensorflow').ones(1)\n"
    script.write_text(source.replace(marker, marker.replace("\n", an_op, 1)), encoding="utf-8")
    limits = TEST_LIMITS.model_copy(update={"workers": 1, "restart_backoff_s": 60.0})
    async with Runner(limits, sandbox=Sandbox(limits, worker_script=str(script))) as pool:
        async with asyncio.timeout(300):
            while pool.health().failures == 0:  # noqa: ASYNC110 (polling public state)
                await asyncio.sleep(0.1)
        health = pool.health()
        assert pool.idle_workers == () and pool.zygote is None
    assert "TensorFlow ran an op in the zygote" in str(health.last_error)


WRAPPED = r"""
import tensorflow as tf
from tensorflow.python.eager import context

def wrapped():  # the one-op functions TensorFlow made since the snippet began, by op
    names = context.context().list_function_names()
    ops = {n.split("__wrapped__")[1].split("_")[0] for n in names if "__wrapped__" in n}
    return sorted(ops - warm_up)

warm_up = set()
warm_up = set(wrapped())  # the worker's warm-up iterated a dataset (predict)

tf.reshape(tf.range(6.0), [3, 2]) + 1.0
print("after ops that work:", wrapped())
try:
    tf.reshape(tf.range(6), [4])
except tf.errors.InvalidArgumentError as exc:
    print("after a failed op:", wrapped(), exc.message.startswith("{{function_node __wrapped__"))
for pair in tf.data.Dataset.from_tensor_slices((tf.zeros([2]), tf.ones([2]))):  # two outputs
    pass
print("after iterating:", wrapped())
"""


async def test_eager_ops_run_directly_and_a_failed_one_again_as_plain_tensorflow_runs_it(
    runner: Runner,
):
    # Plain TensorFlow runs every eager op as a one-op function; the worker runs them directly
    # (half a fresh child's CPU, docs/runner.md "Throughput"), re-runs a failed one as a function
    # for TensorFlow's own message, and runs iterators (stateful: a re-run would read on) as
    # functions from the start. tests/runner/test_runner_equality.py holds the outcomes equal.
    result = await runner.run(WRAPPED, "direct-ops", use_cache=False)
    assert result.status is Status.OK, result.render()
    lines = result.stdout.splitlines()
    assert lines[0] == "after ops that work: []"
    assert lines[1] == "after a failed op: ['Reshape'] True"
    # The dataset's stateful ops ran as functions; the stateless ones around them did not.
    after = set(ast.literal_eval(lines[2].removeprefix("after iterating: ")))
    assert "TensorSliceDataset" in after
    assert after <= {"Reshape", "TensorSliceDataset", "AnonymousIteratorV3", "MakeIterator",
                     "IteratorGetNext", "DeleteIterator"}, after  # fmt: skip
