"""Moderation: guild settings, the action log, exclusions and recoverable resets

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

from db.migrations.types import UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "guild_settings",
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("guild_id", sa.String(64), nullable=False),
        sa.Column("moderator_role_id", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("platform", "guild_id", name="pk_guild_settings"),
    )
    op.create_table(
        "mod_actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("guild_id", sa.String(64), nullable=False),
        sa.Column("moderator_id", sa.String(64), nullable=False),
        sa.Column("moderator_name", sa.String(100), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("learner_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("data", sa.Text(), nullable=True),
        sa.Column("undone_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["learner_id"],
            ["learners.id"],
            ondelete="CASCADE",
            name="fk_mod_actions_learner_id_learners",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_mod_actions"),
    )
    op.create_index("ix_mod_actions_guild", "mod_actions", ["platform", "guild_id", "created_at"])
    with op.batch_alter_table("learners") as batch:
        batch.add_column(sa.Column("excluded", sa.Boolean(), server_default="0", nullable=False))
    for table in ("attempts", "review_logs"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("reset_by", sa.Integer(), nullable=True))
            batch.create_foreign_key(
                f"fk_{table}_reset_by_mod_actions",
                "mod_actions",
                ["reset_by"],
                ["id"],
                ondelete="SET NULL",
            )
            batch.create_index(f"ix_{table}_reset_by", ["reset_by"])


def downgrade() -> None:
    for table in ("review_logs", "attempts"):
        with op.batch_alter_table(table) as batch:
            batch.drop_index(f"ix_{table}_reset_by")
            batch.drop_constraint(f"fk_{table}_reset_by_mod_actions", type_="foreignkey")
            batch.drop_column("reset_by")
    with op.batch_alter_table("learners") as batch:
        batch.drop_column("excluded")
    op.drop_index("ix_mod_actions_guild", "mod_actions")
    op.drop_table("mod_actions")
    op.drop_table("guild_settings")
