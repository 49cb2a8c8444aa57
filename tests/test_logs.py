"""The one place URLs and secrets are rendered safely: bot.logs."""

from __future__ import annotations

import logging
import sys

import pytest

from bot.logs import RedactSecrets, redact, safe_url, url_secrets


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://ada:S3cretPw@db:5432/tutor", "postgresql://ada:***@db:5432/tutor"),
        ("postgresql://:S3cretPw@db/tutor", "postgresql://:***@db/tutor"),
        ("postgresql://ada:S3cr%40t%2FPw@db/tutor", "postgresql://ada:***@db/tutor"),
        ("postgresql://ada:S3cr@t@db/tutor", "postgresql://ada:***@db/tutor"),  # raw "@"
        ("postgresql://ada:S3cr/et@db/tutor", "postgresql://ada:***@db/tutor"),  # raw "/"
        (
            "postgresql://db/tutor?password=S3cretA&sslpassword=S3cretB&sslmode=require",
            "postgresql://db/tutor?password=***&sslpassword=***&sslmode=require",
        ),
        ("postgresql://db/t?passfile=/S3cret/pgpass", "postgresql://db/t?passfile=***"),
        ("postgresql://db/t?pass%77ord=S3cret", "postgresql://db/t?pass%77ord=***"),
        ("https://h/x?token=S3cret;key=S3cret#S3cret", "https://h/x?token=***;key=***#***"),
        ("sqlite:////data/tutor.db?mode=ro", "sqlite:////data/tutor.db?mode=ro"),
    ],
)
def test_redact_hides_every_form_of_url_credentials(url: str, shown: str):
    assert redact(f"cannot open {url}: refused") == f"cannot open {shown}: refused"


def test_safe_url_renders_a_parsed_url_without_credentials():
    assert safe_url("postgresql+asyncpg://ada:S3cret@db/t?sslpassword=S3cret&ssl=true") == (
        "postgresql+asyncpg://ada:***@db/t?ssl=true&sslpassword=***"
    )
    assert safe_url("::not a url S3cret::") == "(an invalid URL)"


def test_url_secrets_cover_decoded_and_encoded_forms():
    pieces = url_secrets("postgresql://ada:S3cr%40t@db/t?token=a+b%2Bc&sslmode=require")
    assert {"S3cr@t", "S3cr%40t", "a b+c", "a+b%2Bc", "a%20b%2Bc"} <= set(pieces)
    assert "require" not in pieces and "ada" not in pieces


def test_a_url_without_secrets_is_not_one():
    """Messages name such a database instead of saying "[redacted]" (a server reached without
    a password, a SQLite file)."""
    assert url_secrets("postgresql+asyncpg://tutor@127.0.0.1:5432/t?sslmode=require") == []
    assert url_secrets("sqlite+aiosqlite:///data/tutor.db") == []
    assert url_secrets("postgresql://ada:pw@db/t")[0] == "postgresql://ada:pw@db/t"


def test_the_log_filter_redacts_messages_arguments_and_tracebacks():
    url = "postgresql://ada:S3cret%2Fpw@db/t?token=S3cretTk"
    # A driver's own rendering of the URL differs from the setting: found as a URL.
    driver_url = "postgresql+asyncpg://ada:S3cret%2Fpw@db:5432/t?token=S3cretTk"
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "via %s", (driver_url,), None)
    try:
        raise ConnectionError(f"password S3cret/pw refused for {url}")
    except ConnectionError:
        record.exc_info = sys.exc_info()
    RedactSecrets(url_secrets(url)).filter(record)
    text = record.getMessage() + (record.exc_text or "")
    assert "S3cret" not in text
    assert "via postgresql+asyncpg://ada:***@db:5432/t?token=***" in text
    assert "password [redacted] refused for [redacted]" in text  # the setting, verbatim
