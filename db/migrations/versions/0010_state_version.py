"""A version stamp per learner, for the caches of stores on a database server

Revision ID: 0010_state_version
Revises: 0009_reports
Create Date: 2026-11-30

``learners.state_version`` is raised by one in the same transaction as every write that changes
what a store caches about the learner (open question, hints, cards, attempts, settings, study
state; db/versions.py). A store on PostgreSQL keeps those caches with the version they were read
at and reads the version (one indexed row) before using them, so another process's write is seen
at once (docs/store.md).
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_state_version"
down_revision = "0009_reports"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("learners") as batch:
        batch.add_column(
            sa.Column("state_version", sa.Integer(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("learners") as batch:
        batch.drop_column("state_version")
