"""`python -m bot run --shard-ids 0-3 --shard-count 16`: one process of a shard cluster runs only
its shards; arguments that cannot work are refused with one line, before anything starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.__main__ import _parser, _settings, main
from bot.client import create_bot
from bot.shards import parse_shard_ids


@pytest.fixture
def clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No TUTOR_* settings from the environment; a token; a database that must not appear."""
    import os

    for name in [n for n in os.environ if n.startswith("TUTOR_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("DISCORD_TOKEN", "not-a-token")
    database = tmp_path / "tutor.db"
    monkeypatch.setenv("TUTOR_DATABASE_URL", f"sqlite+aiosqlite:///{database}")
    return database


@pytest.mark.parametrize(
    ("text", "ids"),
    [("0-3", (0, 1, 2, 3)), ("5", (5,)), ("0,2, 4-5", (0, 2, 4, 5)), ("7-7", (7,))],
)
def test_shard_ids_are_ids_and_ranges(text: str, ids: tuple[int, ...]) -> None:
    assert parse_shard_ids(text) == ids


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--shard-ids", "0-3"], "--shard-ids needs --shard-count"),
        (["--shard-ids", "0-16", "--shard-count", "16"], "shard 16 is out of range"),
        (["--shard-ids", "3-1", "--shard-count", "16"], "'3-1' is an empty range"),
        (["--shard-ids", "0,x", "--shard-count", "16"], "'x' is not a shard id or a range"),
        (["--shard-ids", "-1", "--shard-count", "16"], "'-1' is not a shard id"),
        (["--shard-ids", "", "--shard-count", "16"], "'' is not a shard id"),
        (["--shard-ids", "1,0-2", "--shard-count", "16"], "shard 1 is given twice"),
        (["--shard-count", "0"], "--shard-count must be a whole number, 1 or more: '0'"),
        (["--shard-count", "many"], "--shard-count must be a whole number"),
    ],
)
def test_shard_arguments_that_cannot_work_are_one_line_and_start_nothing(
    clean: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["run", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err, err
    assert not clean.exists()


def test_shards_without_discord_are_refused(
    clean: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DISCORD_TOKEN")
    assert main(["run", "--shard-ids", "0", "--shard-count", "2"]) == 2
    assert capsys.readouterr().err == (
        "error: --shard-ids and --shard-count are for Discord: set DISCORD_TOKEN\n"
    )


def test_shards_from_the_environment_are_checked_alike(
    clean: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TUTOR_DISCORD__SHARD_IDS", "[2, 4]")
    monkeypatch.setenv("TUTOR_DISCORD__SHARD_COUNT", "4")
    assert main(["run"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "shard 4 is out of range" in err, err
    assert not clean.exists()


async def test_the_bot_runs_only_the_shards_it_is_given(clean: Path) -> None:
    args = _parser().parse_args(["run", "--shard-ids", "0-3", "--shard-count", "16"])
    settings = _settings(args)
    bot = create_bot(settings, runner=None)
    assert (bot.shard_ids, bot.shard_count) == ([0, 1, 2, 3], 16)
    # Without --shard-ids: every shard of the count (one process), or Discord's recommendation.
    everything = create_bot(_settings(_parser().parse_args(["run", "--shard-count", "2"])))
    assert (everything.shard_ids, everything.shard_count) == (None, 2)
