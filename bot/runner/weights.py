"""``python -m bot weights fetch [MODEL...]``: fill the read-only weights cache for the sandbox.

Run it on a machine with internet access; it downloads keras.applications' ImageNet weights into
``RunnerSettings.weights_dir`` (the KERAS_HOME layout: ``models/<file>.h5``), which the sandbox
mounts read-only at /opt/keras. The download runs in a child process that builds each model once
with ``weights='imagenet'``, so the files, names and checksums are exactly the ones Keras uses;
the bot process itself never imports TensorFlow.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

# Families whose weights depend on the input size (one file per size, with and without top).
SIZED = {"MobileNet": (128, 160, 192, 224), "MobileNetV2": (96, 128, 160, 192, 224)}
DEFAULT_MODELS = ("MobileNetV2", "ResNet50", "VGG16", "EfficientNetB0", "InceptionV3")
_USES = re.compile(r"applications\.(?:[a-z0-9_]+\.)?([A-Z][A-Za-z0-9]+)\(")


def models_in(snippets: Iterable[str]) -> list[str]:
    """keras.applications constructors the snippets call, e.g. ["MobileNetV2", "ResNet50"]."""
    return sorted({name for code in snippets for name in _USES.findall(code)})


def fetch(models: Sequence[str], weights_dir: Path) -> int:
    """Download in a child process; returns its exit code (0: every file is in the cache)."""
    weights_dir.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "KERAS_HOME": str(weights_dir.resolve()),
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    for proxy in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY"):
        if proxy in os.environ:
            env[proxy] = os.environ[proxy]
    command = [sys.executable, "-m", "bot.runner.weights", *models]
    return subprocess.run(command, env=env, check=False).returncode


def _download(models: Sequence[str]) -> int:  # pragma: no cover - needs the internet
    import keras

    failed: list[str] = []
    for name in models:
        constructor = getattr(keras.applications, name, None)
        if constructor is None:
            print(f"{name}: not a keras.applications model", file=sys.stderr)  # noqa: T201
            failed.append(name)
            continue
        for size in SIZED.get(name, (None,)):
            for top in (False, True):
                # Without a size, each model's default input (224, or 299 for Inception).
                shape = {"input_shape": (size, size, 3)} if size else {}
                try:
                    constructor(weights="imagenet", include_top=top, **shape)
                    keras.backend.clear_session()
                except Exception as exc:
                    print(  # noqa: T201
                        f"{name} (include_top={top}, size={size or 'default'}): "
                        f"could not download the weights: {exc}",
                        file=sys.stderr,
                    )
                    failed.append(name)
                    break
            if name in failed:
                break
    if failed:
        print(  # noqa: T201
            "\nSome weights could not be fetched. This command needs internet access: run it on "
            "a machine that has it, then copy its data/keras/models/ directory here. Until "
            "then snippets run with random initial weights (and say so).",
            file=sys.stderr,
        )
        return 1
    print(f"Weights for {', '.join(models)} are in {os.environ['KERAS_HOME']}.")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(_download(sys.argv[1:] or DEFAULT_MODELS))
