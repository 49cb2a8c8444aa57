"""Learners' reports of problems with questions

Revision ID: 0009_reports
Revises: 0008_study_modes
Create Date: 2026-11-30

One row per "Report a problem with this question": who, which question, their note and when.
Moderators read them (/mod reports) and content authors export them; a learner's reports go
with the learner (ON DELETE CASCADE).
"""

import sqlalchemy as sa
from alembic import op

from db.migrations.types import UtcDateTime

revision = "0009_reports"
down_revision = "0008_study_modes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "question_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("learner_id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("guild_id", sa.String(64), nullable=False),
        sa.Column("question_id", sa.String(60), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["learner_id"],
            ["learners.id"],
            name="fk_question_reports_learner_id_learners",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_question_reports"),
    )
    op.create_index(
        "ix_question_reports_guild",
        "question_reports",
        ["platform", "guild_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_question_reports_guild", table_name="question_reports")
    op.drop_table("question_reports")
