"""learners, attempts and open questions

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

from db.migrations.types import UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "learners",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("guild_id", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(100), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_learners"),
        sa.UniqueConstraint("platform", "user_id", "guild_id", name="uq_learners_platform"),
    )
    op.create_index("ix_learners_guild_id", "learners", ["guild_id"])
    op.create_table(
        "attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("learner_id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.String(60), nullable=False),
        sa.Column("topic", sa.String(60), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("correct", sa.Boolean(), nullable=False),
        sa.Column("hinted", sa.Boolean(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("time_to_answer_ms", sa.Integer(), nullable=False),
        sa.Column("answered_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["learner_id"],
            ["learners.id"],
            ondelete="CASCADE",
            name="fk_attempts_learner_id_learners",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_attempts"),
    )
    op.create_index("ix_attempts_learner_answered", "attempts", ["learner_id", "answered_at"])
    op.create_index(
        "ix_attempts_learner_question", "attempts", ["learner_id", "question_id", "points"]
    )
    op.create_table(
        "open_questions",
        sa.Column("learner_id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.String(60), nullable=False),
        sa.Column("asked_at", UtcDateTime(), nullable=False),
        sa.Column("hinted", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["learner_id"],
            ["learners.id"],
            ondelete="CASCADE",
            name="fk_open_questions_learner_id_learners",
        ),
        sa.PrimaryKeyConstraint("learner_id", name="pk_open_questions"),
    )


def downgrade() -> None:
    op.drop_table("open_questions")
    op.drop_index("ix_attempts_learner_question", "attempts")
    op.drop_index("ix_attempts_learner_answered", "attempts")
    op.drop_table("attempts")
    op.drop_index("ix_learners_guild_id", "learners")
    op.drop_table("learners")
