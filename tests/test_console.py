"""The terminal chat end to end: a real subprocess with a scripted stdin."""

import os
import signal
import sqlite3
import subprocess
import sys
import zipfile
from datetime import UTC, datetime
from pathlib import Path

from tests.helpers import ROOT, answered_once, attempts, chat


def test_scripted_session_prints_a_transcript(tmp_path: Path):
    db = tmp_path / "t.db"
    result = chat("/quiz\n2\n\n/hint\nglobal average pooling\n/progress\n", db)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    # The input is echoed, so the output reads as a transcript.
    assert "> /quiz" in out and "> global average pooling" in out
    assert "Which is right?" in out and "  2) Right one" in out
    assert "✅ Correct! +10 XP" in out and "Yes, because it is right." in out
    assert "Which layer flattens a feature map by averaging?" in out  # Enter asked the next one
    assert "💡 Global..." in out
    assert "+5 XP (with a hint)" in out
    assert "XP: 15" in out
    chart = db.parent / "progress-ada.png"  # written next to the database
    assert f"Chart: {chart}" in out
    assert chart.read_bytes().startswith(b"\x89PNG")
    assert out.rstrip().endswith("Bye! Your progress is saved.")  # EOF ends the chat
    assert attempts(db) == [
        ("easy-choice", "Right one", 1, 0, 10),
        ("text-answer", "global average pooling", 1, 1, 5),
    ]


def test_a_hint_survives_skip_and_restart_until_the_question_is_answered(tmp_path: Path):
    db = tmp_path / "t.db"
    first = chat("/quiz basics\n/hint\n/skip\n", db)
    assert "💡 Pick the right one." in first.stdout
    out = chat("/quiz basics\n2\n/progress\n", db).stdout  # a new process: a restart
    assert "You saw the hint for this question" in out
    assert "✅ Correct! +5 XP (with a hint)" in out
    assert "hints used: 1" in out
    assert attempts(db) == [("easy-choice", "Right one", 1, 1, 5)]


def test_bad_input_gets_a_clear_message_and_records_nothing(tmp_path: Path):
    db = tmp_path / "t.db"
    result = chat(
        "hello\n3\n/frobnicate\n/quiz\n9\nabc\n/leaderboard yesterday\n/quit\n/quiz\n", db
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.count("No question is open. Type /quiz to get one.") == 2
    assert "Unknown command /" in out  # an unknown command is said so, then the help:
    assert "/leaderboard [week|month|all] [topic] [page]" in out
    assert "Choose a number from 1 to 3." in out
    assert "Answer with the number of a choice, 1 to 3." in out
    assert "Usage: /leaderboard" in out
    assert out.count("Which is right?") == 1  # /quit stopped before the last /quiz
    assert attempts(db) == []


def test_progress_is_kept_across_sessions_and_shared_leaderboard(tmp_path: Path):
    db = tmp_path / "t.db"
    chat("/quiz\n2\n", db, user="ada")
    chat("/quiz\n1\n", db, user="bob")
    result = chat("/leaderboard\n/quiz\n", db, user="ada")
    assert "  1. ada · 10 XP · 1/1 correct\n  2. bob ·  0 XP · 0/1 correct" in result.stdout
    # ada already answered the first question, so she gets the next one.
    assert "Which layer flattens" in result.stdout


def test_killed_process_loses_no_answer(tmp_path: Path):
    db = tmp_path / "t.db"
    proc, _ = answered_once(db)  # the feedback is printed: now kill -9
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    assert attempts(db) == [("easy-choice", "Right one", 1, 0, 10)]


def test_missing_content_dir_and_bad_database_exit_non_zero(tmp_path: Path):
    missing = subprocess.run(
        [sys.executable, "-m", "bot", "chat", "--content-dir", str(tmp_path / "none")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        input="",
    )
    assert missing.returncode == 1
    assert "content directory not found" in missing.stderr
    assert "not starting" in missing.stderr

    (tmp_path / "file").write_text("x")
    bad_db = chat("/quiz\n", tmp_path / "file" / "t.db")
    assert bad_db.returncode == 1
    assert bad_db.stderr.startswith("error: cannot create the database directory")


def test_bad_database_urls_are_clear_errors_without_the_password(tmp_path: Path):
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database" * 300)
    cases = {
        f"sqlite+aiosqlite://user:s3cret-pass@/{garbage}": (1, "invalid database URL"),
        f"sqlite+aiosqlite:///{garbage}": (4, "the database file is not an SQLite database"),
        "postgresql+nosuchdriver://u:s3cret-pass@localhost/x": (1, "no database driver"),
        "postgresql+asyncpg://u:s3cret-pass@127.0.0.1:1/x": (
            1,
            "cannot reach the database server (postgresql+asyncpg://u:***@127.0.0.1:1/x: ",
        ),
        "::not a url::": (1, "the database URL is not a valid SQLAlchemy URL"),
    }
    for url, (status, message) in cases.items():
        result = chat("/quiz\n", tmp_path / "unused.db", "--database-url", url)
        assert result.returncode == status, url
        assert result.stderr.startswith(f"error: {message}"), result.stderr
        assert "s3cret-pass" not in result.stdout + result.stderr
        assert "Traceback" not in result.stderr


# Every way a URL carries credentials; each secret is "S3cret" plus a tag, so one check finds all.
SECRET_URLS = [
    "sqlite+aiosqlite://ada:S3cretUserinfo@/{db}",  # user:password@ (invalid for SQLite)
    "sqlite+aiosqlite://:S3cretNoUser@/{db}",
    "sqlite+aiosqlite://ada:S3cret%40Encoded%2F@/{db}",  # percent-encoded: S3cret@Encoded/
    "sqlite+aiosqlite://ada:S3cret/Slash@/{db}",
    "sqlite+aiosqlite://h/{db}?password=S3cretQuery&sslpassword=S3cretSsl",
    "sqlite+aiosqlite://h/{db}?passfile=/home/S3cretPassfile&token=S3cretToken",
    "sqlite+aiosqlite://h/{db}?pass%77ord=S3cretKeyEncoded&api_key=S3cret%2BPlus&mode=rwc",
    "sqlite+aiosqlite:///{db}?password=S3cretIgnored&access_token=S3cretAccess",  # opens
    "postgresql+asyncpg://ada:S3cretServer@localhost:1/x?sslpassword=S3cretSrvSsl",
    "postgresql+nosuchdriver://ada:S3cretNoDriver@localhost/x?token=S3cretNoDriverTk",
]


def test_no_form_of_url_credentials_is_ever_printed(tmp_path: Path):
    for template in SECRET_URLS:
        url = template.format(db=tmp_path / "t.db")
        result = chat("/quiz\n2\n", tmp_path / "unused.db", "--database-url", url)
        printed = result.stdout + result.stderr
        assert "S3cret" not in printed and "Traceback" not in printed, (url, printed)
        if result.returncode:  # the error names the URL, credentials hidden
            assert result.stderr.endswith("\n") and result.stderr.count("error:") == 1
    opened = chat("", tmp_path / "unused.db", "--database-url", SECRET_URLS[7].format(db="/x"))
    assert "WARNING py.warnings" in opened.stderr  # SQLAlchemy's warning, through the filter
    hidden = chat("", tmp_path / "unused.db", "--database-url", SECRET_URLS[0].format(db="/x"))
    assert "sqlite+aiosqlite://ada:***@/" in hidden.stderr
    # --help never shows a URL, even the one in the environment.
    env = {**os.environ, "TUTOR_DATABASE_URL": SECRET_URLS[4].format(db="/x")}
    for args in ([], ["chat"], ["run"], ["db", "upgrade"]):
        shown = subprocess.run(
            [sys.executable, "-m", "bot", *args, "--help"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=env,
            timeout=60,
        )
        assert shown.returncode == 0 and "S3cret" not in shown.stdout + shown.stderr


def test_review_and_time_zone_commands(tmp_path: Path):
    db = tmp_path / "t.db"
    result = chat(
        "/review\n/settings timezone Europe/Paris\n/settings timezone Nowhere/Land\n"
        "/settings nonsense\n/settings\n/quiz\n1\n/review\n",
        db,
    )
    out = result.stdout
    assert "Nothing to review right now. Try /quiz" in out  # nothing answered yet
    assert "Time zone set to Europe/Paris" in out
    assert "Unknown time zone 'Nowhere/Land'" in out
    assert "Usage: /settings, /settings timezone NAME" in out
    assert "Time zone: Europe/Paris" in out and "Desired retention: 90%" in out
    assert "Nothing to review right now. The next one is due in 1 minute" in out
    with sqlite3.connect(db) as raw:
        assert raw.execute("select timezone from learners").fetchone() == ("Europe/Paris",)


def test_local_admin_moderates_from_the_terminal(tmp_path: Path):
    db = tmp_path / "t.db"
    chat("/quiz\n2\n", db, user="ada")
    refused = chat("/mod log\n", db, user="bob")
    assert "Moderator commands need a local admin" in refused.stdout
    out = chat(
        "/mod reset ada cheating\nno\n/mod exclude ada spam bot\nyes\n/leaderboard\n"
        "/mod undo 1 misread\nyes\n/leaderboard\n/mod log\n/mod export\n/mod frobnicate\n",
        db,
        "--admin",
        user="root",
    ).stdout
    assert "Cancelled; nothing was changed." in out
    assert "Excluded ada from this computer's leaderboards (action #1)" in out
    assert "server" not in out  # the terminal has no server
    assert "Nobody has answered yet" in out  # ada excluded
    assert "Undo action #1 (exclusion of ada by root on " in out  # what #1 was, before "yes"
    assert ", recorded as #2." in out
    assert "1. ada · 10 XP" in out
    assert "· root · exclude ada (undone by #2) · spam bot" in out
    zip_path = tmp_path / f"export-all-{datetime.now(UTC):%Y%m%d}.zip"
    assert f"Written to {zip_path}" in out
    with zipfile.ZipFile(zip_path) as archive:
        (board,) = [n for n in archive.namelist() if n.startswith("leaderboard-")]
        assert "1,ada,ada,on leaderboard,10,1,1" in archive.read(board).decode("utf-8-sig")
    assert "/mod learner NAME" in out  # unknown subcommand: the usage
    with sqlite3.connect(db) as raw:
        assert raw.execute("select count(*) from mod_actions").fetchone() == (2,)


# --- how the terminal lays out a reply's structures (bot.console.render) ------------------------


def test_tables_are_aligned_columns():
    from bot.console import render
    from bot.tutor.progress import LeaderRow, leaderboard_reply
    from bot.tutor.replies import Page

    rows = [LeaderRow(1, "ada", 120, 15, 12), LeaderRow(10, "bartholomew", 5, 2, 1)]
    shown = render(leaderboard_reply(rows, "Leaderboard · all time · page 1", Page(1, True)))
    assert shown.split("\n")[1:] == [
        "   1. ada         · 120 XP · 12/15 correct",
        "  10. bartholomew ·   5 XP ·   1/2 correct",
        "",
        "(more on page 2)",
    ]


def test_a_report_keeps_its_prose_around_the_table():
    from bot.console import render
    from bot.tutor.moderation import Report, report_reply

    report = Report("ada", False, (), (("basics", 2, 3), ("transfer", 10, 10)), 1, 2.5, ())
    shown = render(report_reply(report)).split("\n\n")
    assert shown[1] == "Accuracy per topic:\n  basics:     2/3  (67%)\n  transfer: 10/10 (100%)"
    assert shown[2] == (
        "Hints used: 1 · median answer time: 2.5 s\n"
        "Ran the question's code before answering: 0 · retries (the answer seen less than a "
        "day before, no XP): 0\nFlags: none"
    )


def test_help_aligns_the_commands_and_bars_align_their_labels():
    from bot.console import render
    from bot.tutor.commands import Frontend, help_reply, listed
    from bot.tutor.replies import Bar, Bars, Reply

    reply = help_reply(Frontend.TERMINAL, ("basics", "shapes"), listed(Frontend.TERMINAL))
    lines = render(reply).split("\n")
    width = len("  /leaderboard [week|month|all] [topic] [page]  ")
    assert lines[1].startswith("  /quiz [topic] [level] [N] [clear]  ")
    assert lines[1].index("the next") == width
    assert all(line.index(" ", 3) <= width for line in lines[1:9])
    assert "Topics: basics, shapes" in lines
    bars = Reply(text="", blocks=(Bars((Bar("a", 1, 2), Bar("longer", 0, 2)), "Mastery"),))
    assert render(bars) == "Mastery:\n  a      █████░░░░░ 1/2\n  longer ░░░░░░░░░░ 0/2"


def test_reports_from_the_terminal(tmp_path: Path):
    """A learner reports a problem with the question they just answered; the local admin reads
    it (/mod reports), exports it for the authors, and sees how the questions fare."""
    db = tmp_path / "t.db"
    early = chat("/report too early\n", db, user="ada").stdout
    assert "/report goes with a question" in early
    out = chat("/quiz\n1\n/report Choice 1 is right too\n/report x\n", db, user="ada").stdout
    assert "your report on question easy-choice is with the moderators" in out
    assert "at least 5 characters" in out  # "x": nothing reported
    admin = chat(
        "/mod reports\n/mod reports export\n/mod questions\n", db, "--admin", user="root"
    ).stdout
    assert "easy-choice · ada" in admin and "Choice 1 is right too" in admin
    exported = tmp_path / f"question-reports-{datetime.now(UTC):%Y%m%d}.csv"
    assert f"Written to {exported}" in admin
    assert "easy-choice,basics,ada,ada,Choice 1 is right too" in exported.read_text("utf-8-sig")
    assert "easy-choice (basics) · missed 100% of 1 · hints 0% · median " in admin
    assert "· 1 report" in admin
