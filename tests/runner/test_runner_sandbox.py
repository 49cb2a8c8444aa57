"""The sandbox's command line and its refusal to run without bubblewrap (no TensorFlow needed)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bot.runner import seccomp
from bot.runner.pool import Runner
from bot.runner.sandbox import DEV_SHM_BYTES, Sandbox, SandboxUnavailable
from bot.settings import RunnerSettings

PROJECT = Path(__file__).resolve().parents[2]


def argv(**changes: object) -> list[str]:
    # The command line is built, not run: these tests need no bubblewrap on the machine.
    sandbox = Sandbox(RunnerSettings().model_copy(update=changes), bwrap="/usr/bin/bwrap")
    return sandbox.argv(sandbox.zygote_config(report_fd=5, requests_fd=6),
                        info_fd=8, block_fd=9, seccomp_fd=10)  # fmt: skip


def test_namespaces_lifetime_and_capabilities():
    args = argv()
    for flag in ("--unshare-all", "--unshare-user", "--die-with-parent", "--new-session",
                 "--clearenv"):  # fmt: skip
        assert flag in args
    assert args[args.index("--cap-drop") + 1] == "ALL"
    caps = {args[i + 1] for i, a in enumerate(args) if a == "--cap-add"}
    # In the sandbox's own namespaces only: the set-up step's mounts, and the zygote's id maps
    # for its children. Each worker drops them all and runs as the sandbox uid (the hostile
    # and isolation tests check what a snippet holds).
    assert caps == {"CAP_SYS_ADMIN", "CAP_SETPCAP", "CAP_SETUID", "CAP_SETGID", "CAP_SETFCAP"}
    command = args[args.index("--", 1) + 1 :]
    zygote = command[command.index("--") + 1 :]  # after the set-up step
    config = json.loads(zygote[-1])
    if os.geteuid() == 0:
        assert config["uid"] == 65534 and config["uid_map"] == "0 0 1\n65534 65534 1\n"


def test_only_read_only_binds_and_not_the_project_tree():
    args = argv()
    assert "--bind" not in args
    devices = [args[i + 1] for i, a in enumerate(args) if a == "--dev-bind"]
    assert devices == [f"/dev/{d}" for d in ("null", "zero", "full", "random", "urandom")]
    binds = [args[i + 1] for i, a in enumerate(args) if a == "--ro-bind"]
    weights = str(RunnerSettings().weights_dir.resolve())
    for source in binds:
        inside_project = Path(source).resolve().is_relative_to(PROJECT)
        # The virtualenv's packages and the weights cache may live in the project; nothing else
        # of it (no source, content, config or database).
        in_venv = Path(source).resolve().is_relative_to(PROJECT / ".venv")
        assert not inside_project or in_venv or source == weights


def test_environment_is_only_what_the_worker_needs(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DISCORD_TOKEN", "secret-token-in-the-bots-environment")
    monkeypatch.setenv("TUTOR_DATABASE_URL", "sqlite:///secret.db")
    args = argv()
    names = {args[i + 1] for i, a in enumerate(args) if a == "--setenv"}
    # LD_LIBRARY_PATH: where libpython is inside, for a Python installed outside /usr.
    assert names - {"LD_LIBRARY_PATH"} == {
        "PATH", "HOME", "TMPDIR", "LANG", "PYTHONDONTWRITEBYTECODE", "KERAS_HOME",
        "KERAS_BACKEND", "TF_CPP_MIN_LOG_LEVEL", "MALLOC_ARENA_MAX", "MPLBACKEND",
        "MPLCONFIGDIR"}  # fmt: skip
    assert not any("secret" in a for a in args)


def test_tmpfs_sizes_follow_the_settings():
    args = argv(tmpfs_mb=5)
    sizes = {args[i + 3]: args[i + 1] for i, a in enumerate(args) if a == "--size"}
    # /dev/shm holds POSIX semaphores only (multiprocessing's locks): its own small size.
    assert sizes == {
        "/tmp": str(5 * 1024 * 1024),
        "/home/learner": str(5 * 1024 * 1024),
        "/dev/shm": str(DEV_SHM_BYTES),
    }


def test_seccomp_programs_compile():
    assert len(seccomp.sandbox_filter()) % 8 == 0 and len(seccomp.sandbox_filter()) > 80
    assert len(seccomp.worker_filter()) % 8 == 0


async def test_missing_bubblewrap_is_refused_with_the_package_name(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setenv("PATH", "/nonexistent")
    runner = Runner(RunnerSettings(workers=1))
    with pytest.raises(SandboxUnavailable, match=r"apt-get install bubblewrap"):
        await runner.run("print(1)", user="u")
    await runner.close()


def test_weights_fetch_defaults_to_the_models_the_content_uses():
    from bot.runner.weights import models_in

    snippets = [
        "base = tf.keras.applications.MobileNetV2(input_shape=(128, 128, 3))",
        "from tensorflow import keras\nm = keras.applications.resnet50.ResNet50(weights=None)",
        "print('no model here')",
    ]
    assert models_in(snippets) == ["MobileNetV2", "ResNet50"]
