"""Study modes, filters that stick, sets: per server and per learner

Revision ID: 0008_study_modes
Revises: 0007_web_dashboard
Create Date: 2026-11-30

- ``study_servers``: a server's default study mode (NULL: automatic), whether learners may
  choose their own, and the channels where studying happens (NULL: any).
- ``study_learners``: a learner's own mode, the topic and difficulty in force, the set they
  are in (/quiz count), and where their last public question is.
- ``study_threads``: each learner's study thread per channel, reused by every /quiz there.

New tables only: nothing existing changes, and downgrading drops them.
"""

import sqlalchemy as sa
from alembic import op

from db.migrations.types import UtcDateTime

revision = "0008_study_modes"
down_revision = "0007_web_dashboard"
branch_labels = None
depends_on = None


def _learner_key(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["learner_id"], ["learners.id"], ondelete="CASCADE", name=f"fk_{table}_learner_id_learners"
    )


def upgrade() -> None:
    op.create_table(
        "study_servers",
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("guild_id", sa.String(64), nullable=False),
        sa.Column("default_mode", sa.String(16), nullable=True),
        sa.Column("learners_choose", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("channels", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("platform", "guild_id", name="pk_study_servers"),
    )
    op.create_table(
        "study_learners",
        sa.Column("learner_id", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(16), nullable=True),
        sa.Column("topic", sa.String(60), nullable=True),
        sa.Column("difficulty", sa.Integer(), nullable=True),
        sa.Column("set_total", sa.Integer(), nullable=True),
        sa.Column("set_started_at", UtcDateTime(), nullable=True),
        sa.Column("question_channel", sa.String(64), nullable=True),
        sa.Column("question_message", sa.String(64), nullable=True),
        _learner_key("study_learners"),
        sa.PrimaryKeyConstraint("learner_id", name="pk_study_learners"),
    )
    op.create_table(
        "study_threads",
        sa.Column("learner_id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.String(64), nullable=False),
        sa.Column("thread_id", sa.String(64), nullable=False),
        _learner_key("study_threads"),
        sa.PrimaryKeyConstraint("learner_id", "channel_id", name="pk_study_threads"),
    )


def downgrade() -> None:
    op.drop_table("study_threads")
    op.drop_table("study_learners")
    op.drop_table("study_servers")
