"""Alembic, driven from code: ``python -m bot db upgrade`` and every start call ``upgrade``."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from db.errors import DatabaseTooNew

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # env.py uses this connection; the URL (a secret) never goes into the config or a log.
    config.attributes["connection"] = connection
    return config


def upgrade_connection(connection: Connection, revision: str = "head") -> None:
    config = alembic_config(connection)
    _refuse_newer(connection, ScriptDirectory.from_config(config))
    command.upgrade(config, revision)


def _refuse_newer(connection: Connection, scripts: ScriptDirectory) -> None:
    """A database stamped with a revision this code does not have was migrated by a newer
    version: migrating it "up" would fail half-way, and running on it would misread it."""
    known = {script.revision for script in scripts.walk_revisions()}
    current = MigrationContext.configure(connection).get_current_heads()
    unknown = sorted(set(current) - known)
    if unknown:
        raise DatabaseTooNew(
            f"the database was migrated by a newer version of the tutor (revision "
            f"{', '.join(unknown)}; this version knows up to {scripts.get_current_head()}); "
            "run the newer version, or restore a backup made before it"
        )
