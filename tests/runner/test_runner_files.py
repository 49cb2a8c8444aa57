"""What comes back besides the output, through the real sandbox: the files a snippet wrote in its
working directory (plots included), each model's layer table, the snippet's own memory, and a
clear word for input()."""

from __future__ import annotations

import pytest

from bot.runner.pool import Runner
from bot.runner.result import Status
from tests.runner.helpers import PLOT_SNIPPET, check_plot_result

pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="session")]


async def test_plots_and_files_written_in_the_working_directory_come_back(runner: Runner):
    result = await runner.run(PLOT_SNIPPET, user="files")

    check_plot_result(result.to_dict())
    assert result.stdout == "saved\n" and not result.notes
    # matplotlib drew with Agg and kept its cache in /tmp: no warning, nothing else came back.
    assert "Matplotlib" not in result.stderr and "backend" not in result.stderr
    surprise = result.models[0].surprise
    assert surprise is not None and surprise.index == 1
    assert "GlobalAveragePooling2D" in surprise.reason
    table = result.layer_tables()
    assert "▶ dense" in table and "(None, 6, 6, 2)" in table


async def test_files_beyond_the_limits_are_named_not_returned(runner: Runner):
    code = """\
import os
os.makedirs("out", exist_ok=True)
for i in range(12):
    open(f"out/{i:02}.txt", "w").write(str(i))
open("big.bin", "wb").write(b"x" * (3 * 1024 * 1024))
open(".hidden", "w").write("not returned")
os.symlink("/etc/passwd", "link.txt")
os.chdir("/tmp")  # the working directory it started in is what comes back
open("elsewhere.txt", "w").write("not returned")
"""
    result = await runner.run(code, user="files")

    assert result.status is Status.OK, result.render()
    names = [f.name for f in result.files]
    assert names == [f"out/{i:02}.txt" for i in range(10)]
    assert all(f.media_type == "text/plain" for f in result.files)
    notes = " ".join(result.notes)
    assert "too large" in notes and "big.bin (3.0 MiB)" in notes
    assert "Only 10 files come back" in notes and "out/10.txt, out/11.txt" in notes
    assert ".hidden" not in notes and "link.txt" not in notes and "elsewhere" not in notes


async def test_memory_is_the_snippets_own_peak_over_the_warm_worker(runner: Runner):
    small = await runner.run("x = 1\n", user="memory")
    big = await runner.run(
        "import numpy as np\nbuf = np.ones(200 * 2**20, dtype=np.uint8)\n", user="memory"
    )

    for result in (small, big):
        assert result.baseline_memory_mb is not None and result.baseline_memory_mb > 100
        assert result.snippet_memory_mb is not None
    assert small.snippet_memory_mb is not None and small.snippet_memory_mb < 20
    assert big.snippet_memory_mb is not None and 195 <= big.snippet_memory_mb <= 260
    data = big.to_dict()
    assert data["snippet_memory_mb"] == big.snippet_memory_mb
    assert data["peak_memory_mb"] == pytest.approx(
        data["baseline_memory_mb"] + data["snippet_memory_mb"], abs=0.2
    )


async def test_input_has_no_one_to_type_and_says_so(runner: Runner):
    result = await runner.run('name = input("Your name: ")\n', user="stdin")

    assert result.exception is not None and result.exception.type == "EOFError"
    assert result.explanation is not None
    assert "input() on line 1" in result.explanation and "nobody can type" in result.explanation
