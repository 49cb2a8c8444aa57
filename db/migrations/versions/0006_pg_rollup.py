"""The leaderboard rollup: XP, answers and right answers per learner, UTC day and topic

Revision ID: 0006_pg_rollup
Revises: 0005_grades_rules
Create Date: 2026-11-30

Filled here from the attempts that count (not hidden by a reset); from then on the store keeps
it in the same transaction as each answer, reset and undo (db/leaderboard.py).
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_pg_rollup"
down_revision = "0005_grades_rules"
branch_labels = None
depends_on = None

_attempts = sa.table(
    "attempts",
    sa.column("learner_id", sa.Integer),
    sa.column("topic", sa.String),
    sa.column("correct", sa.Boolean),
    sa.column("points", sa.Integer),
    sa.column("answered_at", sa.DateTime),
    sa.column("reset_by", sa.Integer),
)
_learners = sa.table(
    "learners",
    sa.column("id", sa.Integer),
    sa.column("platform", sa.String),
    sa.column("guild_id", sa.String),
)


def _day(column: sa.ColumnElement, dialect: str) -> sa.ColumnElement:
    """The UTC date of a stored time as the integer yyyymmdd (times are stored in UTC)."""
    if dialect == "sqlite":
        text = sa.func.strftime("%Y%m%d", column)
    else:
        text = sa.func.to_char(column, "YYYYMMDD")
    return sa.cast(text, sa.Integer)


def upgrade() -> None:
    days = op.create_table(
        "leaderboard_days",
        sa.Column("learner_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("topic", sa.String(60), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("guild_id", sa.String(64), nullable=False),
        sa.Column("xp", sa.Integer(), nullable=False),
        sa.Column("answers", sa.Integer(), nullable=False),
        sa.Column("correct", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["learner_id"],
            ["learners.id"],
            ondelete="CASCADE",
            name="fk_leaderboard_days_learner_id_learners",
        ),
        sa.PrimaryKeyConstraint("learner_id", "day", "topic", name="pk_leaderboard_days"),
    )
    op.create_index(
        "ix_leaderboard_days_guild", "leaderboard_days", ["platform", "guild_id", "day"]
    )
    a, lr = _attempts.c, _learners.c
    day = _day(a.answered_at, op.get_bind().dialect.name).label("day")
    totals = (
        sa.select(
            a.learner_id,
            day,
            a.topic,
            lr.platform,
            lr.guild_id,
            sa.func.sum(a.points),
            sa.func.count(),
            sa.func.sum(sa.case((a.correct, 1), else_=0)),
        )
        .join(_learners, lr.id == a.learner_id)
        .where(a.reset_by.is_(None))
        .group_by(a.learner_id, day, a.topic, lr.platform, lr.guild_id)
    )
    columns = ["learner_id", "day", "topic", "platform", "guild_id", "xp", "answers", "correct"]
    op.execute(days.insert().from_select(columns, totals))


def downgrade() -> None:
    op.drop_index("ix_leaderboard_days_guild", "leaderboard_days")
    op.drop_table("leaderboard_days")
