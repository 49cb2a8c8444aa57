"""What the runner's tests share: the lowered limits of their pool, and the secrets planted in
the environment that no sandbox may see.

The limits are lowered (snekbox-style) so that attacks end in seconds. The wall clock stays at
the default on purpose: on a busy 2-core machine a legitimate snippet (or a busy loop on its way
to the CPU limit) can take many times longer than on a quiet one, and a test must show which
limit ended a run, not race the clock. A test of the wall clock itself lowers it for its own pool.
"""

from __future__ import annotations

import base64
from typing import Any

from bot.settings import RunnerSettings

PLANTED_TOKEN = "planted-discord-token-8c1f2e7d"
PLANTED_DB_URL = "sqlite+aiosqlite:////srv/planted-secret-db-5a9b.db"

TEST_LIMITS = RunnerSettings(
    workers=2,
    queue_limit=10,
    wall_timeout_s=30,
    cpu_time_s=3,
    memory_mb=2048,
    max_processes=48,
    output_limit_bytes=8 * 1024,
    file_size_mb=4,
    tmpfs_mb=16,
    warmup_models=(),
    prefill_cache=False,
)

# A snippet that leaves what a learner wants back: a plot (matplotlib, as in a training-curve
# cell), a small text file, and a model whose head is a Dense layer on a 4-D feature map. Every
# runner path (pool, service, fleet) is tested with it.
PLOT_SNIPPET = """\
import matplotlib.pyplot as plt
import tensorflow as tf
model = tf.keras.Sequential([tf.keras.Input((8, 8, 3)), tf.keras.layers.Conv2D(4, 3),
                             tf.keras.layers.Dense(2)])
plt.plot([0.9, 0.5, 0.3], label="loss")
plt.legend()
plt.savefig("loss.png")
with open("history.csv", "w") as f:
    f.write("epoch,loss\\n1,0.9\\n2,0.5\\n3,0.3\\n")
print("saved")
"""


def check_plot_result(data: dict[str, Any]) -> None:
    """What PLOT_SNIPPET's result (as the JSON contract) must hold, whichever path it took."""
    assert data["status"] == "ok", data
    files = {f["name"]: f for f in data["files"]}
    assert set(files) == {"loss.png", "history.csv"}, files.keys()
    png = files["loss.png"]
    assert png["media_type"] == "image/png" and png["size"] > 1000
    assert base64.b64decode(png["data"]).startswith(b"\x89PNG")
    assert base64.b64decode(files["history.csv"]["data"]) == b"epoch,loss\n1,0.9\n2,0.5\n3,0.3\n"
    (model,) = data["models"]
    assert [(x["name"], x["type"], x["output_shape"]) for x in model["layers"]] == [
        ("conv2d", "Conv2D", "(None, 6, 6, 4)"),
        ("dense", "Dense", "(None, 6, 6, 2)"),
    ]
