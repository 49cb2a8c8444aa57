"""Grades that mean something: choice order, revealed answers, retries, leeches, settings

Revision ID: 0005_grades_rules
Revises: 0004
Create Date: 2026-11-30

- ``open_questions.choice_order``: the order the choices were shown in (NULL: file order, as
  every question asked before this revision was shown), so that a restart grades the number a
  learner typed against the order they saw.
- ``hints.revealed``: the hint was running the question's own code, which shows the answer.
- ``attempts.revealed``, ``attempts.retry``: the answer followed such a run; the answer came
  during learning or relearning steps, after the answer had been shown (no leaderboard XP).
- ``review_cards.lapses`` (wrong answers since the question was last parked; filled from the
  review log) and ``review_cards.parked_until`` (a leech is put aside until then).
- ``learners.desired_retention`` and ``learners.daily_new_limit``: the learner's settings.
"""

import sqlalchemy as sa
from alembic import op

from db.migrations.types import UtcDateTime

revision = "0005_grades_rules"
down_revision = "0004"
branch_labels = None
depends_on = None

_cards = sa.table(
    "review_cards",
    sa.column("learner_id", sa.Integer),
    sa.column("question_id", sa.String),
    sa.column("lapses", sa.Integer),
)
_logs = sa.table(
    "review_logs",
    sa.column("learner_id", sa.Integer),
    sa.column("question_id", sa.String),
    sa.column("rating", sa.Integer),
    sa.column("reset_by", sa.Integer),
)
AGAIN = 1  # fsrs.Rating.Again, as stored in review_logs.rating


def upgrade() -> None:
    with op.batch_alter_table("open_questions") as batch:
        batch.add_column(sa.Column("choice_order", sa.String(20), nullable=True))
    with op.batch_alter_table("hints") as batch:
        batch.add_column(sa.Column("revealed", sa.Boolean(), server_default="0", nullable=False))
    with op.batch_alter_table("attempts") as batch:
        batch.add_column(sa.Column("revealed", sa.Boolean(), server_default="0", nullable=False))
        batch.add_column(sa.Column("retry", sa.Boolean(), server_default="0", nullable=False))
    with op.batch_alter_table("review_cards") as batch:
        batch.add_column(sa.Column("lapses", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("parked_until", UtcDateTime(), nullable=True))
    with op.batch_alter_table("learners") as batch:
        batch.add_column(
            sa.Column("desired_retention", sa.Float(), server_default="0.9", nullable=False)
        )
        batch.add_column(
            sa.Column("daily_new_limit", sa.Integer(), server_default="20", nullable=False)
        )
    wrong = (
        sa.select(sa.func.count())
        .where(_logs.c.learner_id == _cards.c.learner_id)
        .where(_logs.c.question_id == _cards.c.question_id)
        .where(_logs.c.rating == AGAIN)
        .where(_logs.c.reset_by.is_(None))
        .scalar_subquery()
    )
    op.execute(_cards.update().values(lapses=wrong))


def downgrade() -> None:
    with op.batch_alter_table("learners") as batch:
        batch.drop_column("daily_new_limit")
        batch.drop_column("desired_retention")
    with op.batch_alter_table("review_cards") as batch:
        batch.drop_column("parked_until")
        batch.drop_column("lapses")
    with op.batch_alter_table("attempts") as batch:
        batch.drop_column("retry")
        batch.drop_column("revealed")
    with op.batch_alter_table("hints") as batch:
        batch.drop_column("revealed")
    with op.batch_alter_table("open_questions") as batch:
        batch.drop_column("choice_order")
