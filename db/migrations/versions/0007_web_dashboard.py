"""The web leaderboard switch per guild, and moderator dashboard links

Revision ID: 0007_web_dashboard
Revises: 0006_pg_rollup
Create Date: 2026-11-30

``guild_settings.web_leaderboard`` is off for every guild until a moderator turns it on.
``web_links`` keeps the SHA-256 of each dashboard link's token, never the token.
"""

import sqlalchemy as sa
from alembic import op

from db.migrations.types import UtcDateTime

revision = "0007_web_dashboard"
down_revision = "0006_pg_rollup"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("guild_settings") as batch:
        batch.add_column(
            sa.Column("web_leaderboard", sa.Boolean(), server_default="0", nullable=False)
        )
    op.create_table(
        "web_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("guild_id", sa.String(64), nullable=False),
        sa.Column("moderator_id", sa.String(64), nullable=False),
        sa.Column("moderator_name", sa.String(100), nullable=False),
        sa.Column("authority", sa.Integer(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("revoked_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_web_links"),
        sa.UniqueConstraint("token_sha256", name="uq_web_links_token_sha256"),
    )


def downgrade() -> None:
    op.drop_table("web_links")
    with op.batch_alter_table("guild_settings") as batch:
        batch.drop_column("web_leaderboard")
