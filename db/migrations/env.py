"""Alembic environment. Migrations always run on a connection handed over by db.migrate, so the
database URL comes from Settings and never from alembic.ini.

Nothing here imports the live models (db/models.py): a migration describes the tables it touches
itself (db/migrations/types.py has the column types), so that it does the same thing forever.
tests/test_store.py compares the migrated schema with the models instead.
"""

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `python -m bot db upgrade`")

context.configure(
    connection=connection,
    render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies the table
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
