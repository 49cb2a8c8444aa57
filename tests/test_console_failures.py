"""What ends the terminal chat (and `run`, `db upgrade`) besides /quit: bad input does not, a
database that cannot go on does, with one line on stderr and its own exit status (README,
"Command line"), and without losing any answer whose feedback was printed.

Each failure is real: a full tmpfs, a file or directory without write permission (with root's
permission override dropped), bytes overwritten in a database page, a revision stamped by a
"newer" version."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import (
    ROOT,
    SAMPLE_BANK,
    answered_once,
    attempts,
    chat,
    chat_argv,
    chat_env,
    migrations_head,
)

FULL, CORRUPT, READ_ONLY, TOO_NEW = 3, 4, 5, 6
# As root, permission bits do not stop writes; without these two capabilities they do.
NO_OVERRIDE = (
    ["setpriv", "--bounding-set=-dac_override,-dac_read_search"] if os.geteuid() == 0 else []
)


def cli(*args: str, db: Path, stdin: str = "", prefix: list[str] | None = None):
    env = {k: v for k, v in chat_env().items() if k != "DISCORD_TOKEN"}
    return subprocess.run(
        [
            *(prefix or []),
            sys.executable,
            "-m",
            "bot",
            *args,
            "--content-dir",
            str(SAMPLE_BANK),
            "--database-url",
            f"sqlite+aiosqlite:///{db}",
        ],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        env=env,
    )


def one_line_error(result: subprocess.CompletedProcess, status: int, start: str) -> None:
    assert result.returncode == status, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"error: {start}"), result.stderr


def feedback_count(out: str) -> int:
    return out.count("✅ Correct!") + out.count("❌ Not quite.")


# --- input that does not end the chat ------------------------------------------------------------


def test_bytes_that_are_not_utf8_are_refused_and_the_chat_goes_on(tmp_path: Path):
    db = tmp_path / "t.db"
    result = subprocess.run(
        chat_argv(db),
        input=b"/quiz shapes\nab\xff\xfe\n/settings timezone \xc3\n/mod log \xff\n"
        b"global average pooling\n",
        capture_output=True,
        cwd=ROOT,
        timeout=60,
        # A strict decoder, as in a UTF-8 locale, would raise in readline itself.
        env=chat_env(PYTHONIOENCODING="utf-8:strict"),
    )
    out = result.stdout.decode()
    assert result.returncode == 0, result.stderr
    assert out.count("That line is not valid UTF-8 text") == 3
    assert "> ab\ufffd\ufffd" in out  # the echo shows what could not be read
    assert "✅ Correct!" in out
    assert attempts(db) == [("text-answer", "global average pooling", 1, 0, 10)]
    bad_name = cli("chat", "--user", "\udcff", db=db)  # argv decoded with surrogateescape
    one_line_error(bad_name, 2, "the user name is not valid UTF-8")


def test_a_user_name_too_long_to_store_is_a_usage_error(tmp_path: Path):
    """The learners' user id column holds 64 characters: refused before the database sees it
    (PostgreSQL would refuse it with a database error; cutting it could merge two users)."""
    too_long = cli("chat", "--user", "a" * 65, db=tmp_path / "t.db", stdin="/quiz\n")
    one_line_error(too_long, 2, "the user name is longer than 64 characters")


def test_page_numbers_of_any_size_or_spelling_get_a_clear_message(tmp_path: Path):
    db = tmp_path / "t.db"
    pages = ["10" * 15, "9" * 5000, "-5", "0", "⁹" * 12, "+3", "1000001"]
    script = "".join(f"/leaderboard {p}\n" for p in pages) + "/leaderboard abc\n"
    script += "/leaderboard ²\n/leaderboard week 3\n/mod log 99999999999999999999999\n"
    script += "/mod undo 99999999999999999999\n"
    result = cli("chat", "--user", "root", "--admin", db=db, stdin=script)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("Pages go from 1 to 1,000,000.") == len(pages) + 1
    assert "Usage: /leaderboard" in result.stdout  # abc
    assert "Page 3 is past the end of this leaderboard (it has 1 page; try page 1)." in (
        result.stdout
    )
    # Digits of any script read as answers do (grading.parse_number): "²" is page 2.
    assert "Page 2 is past the end of this leaderboard (it has 1 page" in result.stdout
    assert "Moderators:" in result.stdout  # /mod undo with no usable id: the usage
    assert "Undo action" not in result.stdout


# --- the database cannot go on: one line, a distinct status, nothing acknowledged lost ------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs: a disk that really fills up."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)], check=True)
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(disk: Path) -> None:
    fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:  # ENOSPC: full
        pass
    finally:
        os.close(fd)


def test_a_full_disk_ends_the_chat_and_keeps_every_acknowledged_answer(small_disk: Path):
    db = small_disk / "t.db"
    proc, seen = answered_once(db)
    fill(small_disk)
    # Keep answering (and asking) until a write no longer fits.
    out, err = proc.communicate("".join("\n1\n" for _ in range(40)), timeout=60)
    out = seen + out
    result = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    one_line_error(result, FULL, "the disk holding the database is full")
    assert "Bye!" not in out
    (small_disk / "filler").unlink()
    stored = attempts(db)
    assert stored[0] == ("easy-choice", "Right one", 1, 0, 10)
    assert len(stored) == feedback_count(out)  # every answer shown as graded is stored


def test_migrating_onto_a_full_disk_is_one_line_too(small_disk: Path):
    fill(small_disk)
    for command in (["db", "upgrade"], ["chat", "--user", "ada"], ["run"]):
        one_line_error(cli(*command, db=small_disk / "new.db"), FULL, "the disk holding")


@pytest.mark.parametrize("what", ["file", "directory"])
def test_a_read_only_database_ends_the_chat_with_one_line(tmp_path: Path, what: str):
    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        pytest.skip("needs setpriv to drop root's permission override")
    db = tmp_path / "data" / "t.db"
    assert feedback_count(chat("/quiz\n2\n", db).stdout) == 1
    (db if what == "file" else db.parent).chmod(0o444 if what == "file" else 0o555)
    try:
        result = cli("chat", "--user", "ada", db=db, stdin="/quiz\n", prefix=NO_OVERRIDE)
        one_line_error(result, READ_ONLY, "the database is read-only")
        assert "check the permissions" in result.stderr
        if what == "directory":  # nor can a new database be created there (SQLITE_CANTOPEN)
            upgrade = cli("db", "upgrade", db=db.parent / "new.db", prefix=NO_OVERRIDE)
            one_line_error(upgrade, 1, "cannot open the database file")
    finally:
        db.chmod(0o644)
        db.parent.chmod(0o755)
    assert attempts(db) == [("easy-choice", "Right one", 1, 0, 10)]


def _corrupt_attempts_page(db: Path) -> None:
    with sqlite3.connect(db) as raw:
        raw.execute("pragma wal_checkpoint(truncate)")
        page_size = raw.execute("pragma page_size").fetchone()[0]
        root = raw.execute("select rootpage from sqlite_master where name = 'attempts'").fetchone()
    with open(db, "r+b") as file:
        file.seek((root[0] - 1) * page_size)
        file.write(b"\xa5" * page_size)


def test_a_damaged_database_ends_the_chat_with_one_line(tmp_path: Path):
    db = tmp_path / "t.db"
    chat("/quiz\n2\n", db)
    _corrupt_attempts_page(db)
    one_line_error(
        cli("chat", "--user", "ada", db=db, stdin="/progress\n"),
        CORRUPT,
        "the database file is damaged",
    )
    not_a_db = tmp_path / "garbage.db"
    not_a_db.write_bytes(b"not a database" * 300)
    for command in (["chat", "--user", "ada"], ["db", "upgrade"], ["run"]):
        one_line_error(cli(*command, db=not_a_db), CORRUPT, "the database file is not an SQLite")


def test_a_database_from_a_newer_version_is_left_alone(tmp_path: Path):
    db = tmp_path / "t.db"
    chat("/quiz\n2\n", db)
    with sqlite3.connect(db) as raw:
        raw.execute("update alembic_version set version_num = '9999'")
    for command in (["chat", "--user", "ada"], ["db", "upgrade"], ["run"]):
        result = cli(*command, db=db, stdin="/quiz\n")
        one_line_error(result, TOO_NEW, "the database was migrated by a newer version")
        assert f"revision 9999; this version knows up to {migrations_head()}" in result.stderr
    with sqlite3.connect(db) as raw:
        assert raw.execute("select version_num from alembic_version").fetchall() == [("9999",)]
    assert attempts(db) == [("easy-choice", "Right one", 1, 0, 10)]


def test_closing_the_output_ends_the_chat_quietly(tmp_path: Path):
    """`python -m bot chat | head -1`: nobody reads any more, which is no reason for a traceback."""
    proc = subprocess.Popen(
        chat_argv(tmp_path / "t.db"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=chat_env(),
    )
    assert proc.stdin and proc.stdout and proc.stderr
    assert proc.stdout.readline().startswith("Hello ada!")
    proc.stdout.close()
    try:
        proc.stdin.write("/help\n" * 2000)
        proc.stdin.close()
    except BrokenPipeError:  # it may be gone already
        pass
    assert proc.wait(timeout=60) == 141
    assert proc.stderr.read() == ""
