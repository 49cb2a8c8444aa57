"""Hints kept per learner and question until answered, not on the open question

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30

A hint used to be a flag on the open question, so /skip (or any new question) dropped it and the
same question, asked again, earned full XP. Open questions that carry a hint become rows of
``hints``. Like every migration, this one describes the tables it touches itself rather than
importing the live models, which keep changing after it is written.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_open = sa.table(
    "open_questions",
    sa.column("learner_id", sa.Integer),
    sa.column("question_id", sa.String),
    sa.column("hinted", sa.Boolean),
)
_hints = sa.table(
    "hints",
    sa.column("learner_id", sa.Integer),
    sa.column("question_id", sa.String),
)


def upgrade() -> None:
    op.create_table(
        "hints",
        sa.Column("learner_id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.String(60), nullable=False),
        sa.ForeignKeyConstraint(
            ["learner_id"],
            ["learners.id"],
            ondelete="CASCADE",
            name="fk_hints_learner_id_learners",
        ),
        sa.PrimaryKeyConstraint("learner_id", "question_id", name="pk_hints"),
    )
    hinted = sa.select(_open.c.learner_id, _open.c.question_id).where(_open.c.hinted == sa.true())
    op.execute(_hints.insert().from_select(["learner_id", "question_id"], hinted))
    with op.batch_alter_table("open_questions") as batch:
        batch.drop_column("hinted")


def downgrade() -> None:
    with op.batch_alter_table("open_questions") as batch:
        batch.add_column(
            sa.Column("hinted", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    given = (
        sa.select(sa.literal(1))
        .where(_hints.c.learner_id == _open.c.learner_id)
        .where(_hints.c.question_id == _open.c.question_id)
        .exists()
    )
    op.execute(_open.update().values(hinted=given))
    with op.batch_alter_table("open_questions") as batch:
        batch.alter_column("hinted", server_default=None)  # as 0001 made it
    op.drop_table("hints")
