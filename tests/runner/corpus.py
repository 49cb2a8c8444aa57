"""The snippets the runner's tests run once each, in the sandbox and as plain Python.

- every content snippet (``content check --execute`` verifies them against ``expect``);
- every explanation rule's example and near miss: learner mistakes of transfer learning, each
  verified against the real error text (a rule that ends a run by a limit, such as the time
  limit, runs on the low-limit pool instead, and has no plain counterpart);
- a few more mistakes, below, that need no rule but must behave as in plain TensorFlow.

Running each once and sharing the results (session fixtures in conftest.py) keeps ``make test``
within its budget: the content test, the explanation tests and the equality test all read them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.runner.explain import Rule
from bot.runner.result import RunResult, Status, clean_text
from bot.tutor.content import Bank, iter_snippets

PLAIN = Path(__file__).with_name("plain.py")
# Rules whose runs end by a limit: plain Python has no such limit to compare with.
LIMITED = {Status.TIMEOUT, Status.MEMORY_LIMIT, Status.OUTPUT_LIMIT, Status.CRASHED}


@dataclass(frozen=True)
class Snippet:
    key: str  # "content:<question id>", "rule:<rule id>:example|near_miss", "mistake:<name>"
    code: str


def limited(rule: Rule) -> bool:
    return rule.when.status in LIMITED


def rule_snippets(rules: Iterable[Rule]) -> list[Snippet]:
    found = []
    for rule in rules:
        found.append(Snippet(f"rule:{rule.id}:example", rule.example))
        found.append(Snippet(f"rule:{rule.id}:near_miss", rule.near_miss))
    return found


def content_snippets(bank: Bank) -> list[Snippet]:
    return [Snippet(f"content:{q.id}", q.code or "") for q, _ in iter_snippets(bank)]


# Mistakes with no rule of their own (yet), whose outcome must still be the plain one.
MISTAKES = {
    # Not a mistake: the learner's own folder of images. Keras lists it with a ThreadPool,
    # whose locks are POSIX semaphores (/dev/shm): the sandbox must have them.
    "a-folder-of-images-becomes-a-dataset": """
import os
import numpy as np
import tensorflow as tf
for name in ("cats", "dogs"):
    os.makedirs(f"images/{name}", exist_ok=True)
    for i in range(3):
        tf.keras.utils.save_img(f"images/{name}/{i}.png", np.zeros((8, 8, 3)))
ds = tf.keras.utils.image_dataset_from_directory("images", image_size=(8, 8), batch_size=2)
print(ds.class_names, ds.element_spec[0].shape)
""",
    "predict-before-fit-on-unbuilt-sequential": """
import numpy as np
import tensorflow as tf
model = tf.keras.Sequential([tf.keras.layers.Dense(4), tf.keras.layers.Dense(2)])
print(model.predict(np.zeros((3, 5)), verbose=0).shape)
model.summary()
""",
    "seeded-fit-prints-the-same-losses": """
import numpy as np
import tensorflow as tf
tf.keras.utils.set_random_seed(1)
model = tf.keras.Sequential([tf.keras.Input((6,)), tf.keras.layers.Dense(3, activation='softmax')])
model.compile(optimizer='adam', loss='sparse_categorical_crossentropy', metrics=['accuracy'])
history = model.fit(np.random.rand(32, 6), np.arange(32) % 3, epochs=3, verbose=0)
print([round(v, 6) for v in history.history['loss']])
""",
    "frozen-base-reports-no-trainable-weights": """
import tensorflow as tf
base = tf.keras.applications.MobileNetV2(input_shape=(96, 96, 3), alpha=0.35,
                                         include_top=False, weights=None)
base.trainable = False
pool = tf.keras.layers.GlobalAveragePooling2D()
model = tf.keras.Sequential([base, pool, tf.keras.layers.Dense(4)])
print(len(model.trainable_weights), len(model.non_trainable_weights))
""",
    "unfreeze-then-force-a-new-train-function": """
import numpy as np
import tensorflow as tf
base = tf.keras.Sequential([tf.keras.Input((8,)), tf.keras.layers.Dense(8)], name='base')
base.trainable = False
model = tf.keras.Sequential([base, tf.keras.layers.Dense(3, activation='softmax')])
model.compile(optimizer='adam', loss='sparse_categorical_crossentropy')
x, y = np.random.rand(16, 8), np.arange(16) % 3
model.fit(x, y, epochs=1, verbose=0)
base.trainable = True
model.make_train_function(force=True)   # what Keras' docstring suggests instead of compile()
model.fit(x, y, epochs=1, verbose=0)
""",
    "double-batched-dataset-run-eagerly": """
import numpy as np
import tensorflow as tf
model = tf.keras.Sequential([tf.keras.Input((32, 32, 3)), tf.keras.layers.Conv2D(4, 3),
                             tf.keras.layers.GlobalAveragePooling2D(), tf.keras.layers.Dense(3)])
model.compile(optimizer='adam', loss='mse', run_eagerly=True)
images = np.random.rand(64, 32, 32, 3).astype('float32')
ds = tf.data.Dataset.from_tensor_slices((images, np.zeros((64, 3), 'float32')))
model.fit(ds.batch(16).batch(4), epochs=1, verbose=0)
""",
    # The worker runs eager ops directly and re-runs a failed one as a function, for
    # TensorFlow's own message (worker.run_eager_ops_directly). These hold it to plain
    # TensorFlow where that could go wrong: a stateful op whose failure consumed something (a
    # re-run would read the next element, or the end), errors in threads, seeded random ops,
    # and a failed update that must leave its variable as it was.
    "the-only-element-of-a-dataset-fails-its-map": """
import tensorflow as tf
ds = tf.data.Dataset.from_tensors(3).map(lambda n: tf.reshape(tf.range(n), [2]))
for batch in ds:
    print(batch)
""",
    "op-errors-in-threads-read-as-in-the-main-thread": """
import threading
import tensorflow as tf
seen = []
def reshape(n):
    try:
        seen.append(str(tf.reshape(tf.range(6), [n]).shape))
    except tf.errors.InvalidArgumentError as exc:
        seen.append(exc.message)
threads = [threading.Thread(target=reshape, args=(n,)) for n in (4, 6, 5)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(*sorted(seen), sep="\\n")
tf.reshape(tf.range(6), [4])
""",
    "seeded-random-ops-draw-the-same-numbers": """
import tensorflow as tf
tf.random.set_seed(5)
print(tf.random.uniform([3]).numpy().round(5), tf.random.uniform([3]).numpy().round(5))
print(tf.random.normal([2], seed=2).numpy().round(5), tf.random.shuffle(tf.range(6)).numpy())
print(tf.random.Generator.from_seed(1).normal([2]).numpy().round(5))
dense = tf.keras.layers.Dense(2, kernel_initializer=tf.keras.initializers.GlorotUniform(seed=3))
print(dense(tf.ones([1, 3])).numpy().round(5))
""",
    "a-failed-update-leaves-the-variable-as-it-was": """
import tensorflow as tf
v = tf.Variable([1.0, 2.0, 3.0])
try:
    v.assign_add([1.0, 1.0])
except tf.errors.InvalidArgumentError as exc:
    print(exc.message)
print(v.numpy())
v.scatter_nd_update([[1], [7]], [5.0, 6.0])
""",
}


# Snippets whose plain outcome depends on where it runs, not on TensorFlow: compared only for
# their rule, not for equality.
NOT_COMPARABLE = {
    # A download: the sandbox has no network device, this machine no route; the message then
    # names different socket errors (and a learner's machine would download the file).
    "rule:no-internet:example": "needs the internet",
}


def mistake_snippets() -> list[Snippet]:
    return [Snippet(f"mistake:{name}", code.lstrip("\n")) for name, code in MISTAKES.items()]


# --- plain runs ---------------------------------------------------------------------------------


def run_plain(snippets: list[Snippet], weights_dir: Path) -> dict[str, dict[str, Any]]:
    """Every snippet as plain Python (tests/runner/plain.py), two at a time -> report by key."""
    with tempfile.TemporaryDirectory(prefix="plain-") as tmp:
        jobs = Path(tmp) / "jobs.json"
        jobs.write_text(
            json.dumps(
                {
                    "weights_dir": str(weights_dir),
                    "workdir": str(Path(tmp) / "runs"),
                    "jobs": [{"key": s.key, "code": s.code} for s in snippets],
                }
            ),
            encoding="utf-8",
        )
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "KERAS_HOME": str(Path(tmp) / "keras")}
        env.pop("DISCORD_TOKEN", None)
        done = subprocess.run(
            # No stdin, as in the sandbox: input() meets the end of the input there too.
            [sys.executable, str(PLAIN), str(jobs)], stdin=subprocess.DEVNULL,
            capture_output=True, text=True, env=env, cwd=tmp, timeout=1800,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
    reports = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return {r["key"]: r for r in reports}


# --- what "the same outcome" means ---------------------------------------------------------------

# Keras progress lines (fit/evaluate/predict with verbose 1 or 2): timings, and losses that
# depend on random initial weights unless the snippet seeds them.
_PROGRESS = re.compile(r"(?:━|\d+/\d+ - |\bstep\b.*\bloss\b|ms/step|s/step)")


def normalise_stdout(text: str) -> list[str]:
    """Lines as shown (cleaned as every result is), each run of progress lines as one marker:
    how many a non-terminal progress bar prints, and the blank line its carriage return
    leaves, depend on timing."""
    lines: list[str] = []
    for line in clean_text(text).split("\n"):
        if _PROGRESS.search(line):
            while lines and lines[-1] == "":
                lines.pop()
            if not lines or lines[-1] != "<progress>":
                lines.append("<progress>")
        else:
            lines.append(line)
    while lines and lines[-1] == "":
        lines.pop()
    return lines


def first_line(message: str) -> str:
    return next((line.strip() for line in message.splitlines() if line.strip()), "")


def outcome(status: str, exception: dict[str, Any] | None, models: list[dict[str, Any]],
            stdout: str) -> dict[str, Any]:  # fmt: skip
    """What must be equal in the sandbox and in plain Python."""
    return {
        "status": status,
        "exception": None
        if exception is None
        else (exception["type"], first_line(clean_text(exception["message"]))),
        "models": [
            (m["name"], m["input_shape"], m["output_shape"], m["params"], m["trainable_params"])
            for m in models
        ],
        "stdout": normalise_stdout(stdout),
    }


def sandbox_outcome(result: RunResult) -> dict[str, Any]:
    data = result.to_dict()
    return outcome(data["status"], data["exception"], data["models"], data["stdout"])


def plain_outcome(report: dict[str, Any]) -> dict[str, Any]:
    return outcome(report["status"], report["exception"], report["models"], report["stdout"])
