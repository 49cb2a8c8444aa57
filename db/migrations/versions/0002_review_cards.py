"""FSRS review cards and log, learner time zones; existing attempts folded in

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28

Folding replays each learner's attempts, oldest first, through the same FSRS scheduler the tutor
uses (no fuzzing), so a learner who answered before this migration keeps a schedule that matches
their history. The old rows know nothing of reading time, so a correct unhinted answer is rated
Good (never Easy). Points become XP: a correct answer given while its card was not yet due earns
nothing, as it would now.
"""

from datetime import UTC

import sqlalchemy as sa
from alembic import op
from fsrs import Card, Rating, Scheduler

from db.migrations.types import UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("learners") as batch:
        batch.add_column(sa.Column("timezone", sa.String(64), server_default="UTC", nullable=False))
    cards = op.create_table(
        "review_cards",
        sa.Column("learner_id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.String(60), nullable=False),
        sa.Column("state", sa.Integer(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=True),
        sa.Column("stability", sa.Float(), nullable=True),
        sa.Column("difficulty", sa.Float(), nullable=True),
        sa.Column("due", UtcDateTime(), nullable=False),
        sa.Column("last_review", UtcDateTime(), nullable=True),
        sa.Column("last_rating", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["learner_id"],
            ["learners.id"],
            ondelete="CASCADE",
            name="fk_review_cards_learner_id_learners",
        ),
        sa.PrimaryKeyConstraint("learner_id", "question_id", name="pk_review_cards"),
    )
    op.create_index("ix_review_cards_learner_due", "review_cards", ["learner_id", "due"])
    logs = op.create_table(
        "review_logs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("learner_id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.String(60), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("reviewed_at", UtcDateTime(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["learner_id"],
            ["learners.id"],
            ondelete="CASCADE",
            name="fk_review_logs_learner_id_learners",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_review_logs"),
    )
    op.create_index("ix_review_logs_learner_reviewed", "review_logs", ["learner_id", "reviewed_at"])
    _fold_attempts(cards, logs)


def _fold_attempts(cards: sa.Table, logs: sa.Table) -> None:
    conn = op.get_bind()
    attempts = sa.table(
        "attempts",
        sa.column("id", sa.Integer),
        sa.column("learner_id", sa.Integer),
        sa.column("question_id", sa.String),
        sa.column("correct", sa.Boolean),
        sa.column("hinted", sa.Boolean),
        sa.column("points", sa.Integer),
        sa.column("time_to_answer_ms", sa.Integer),
        sa.column("answered_at", UtcDateTime()),
    )
    rows = conn.execute(
        sa.select(attempts).order_by(attempts.c.learner_id, attempts.c.answered_at, attempts.c.id)
    ).all()
    scheduler = Scheduler(enable_fuzzing=False)
    state: dict[tuple[int, str], tuple[Card, int]] = {}
    log_rows, zeroed = [], []
    for row in rows:
        key = (row.learner_id, row.question_id)
        when = row.answered_at.astimezone(UTC)
        card, _ = state.get(key, (Card(), 0))
        was_due = key not in state or card.due <= when
        rating = Rating.Again if not row.correct else (Rating.Hard if row.hinted else Rating.Good)
        card, _log = scheduler.review_card(card, rating, when)
        state[key] = (card, int(rating))
        log_rows.append(
            {
                "learner_id": row.learner_id,
                "question_id": row.question_id,
                "rating": int(rating),
                "reviewed_at": when,
                "duration_ms": row.time_to_answer_ms,
            }
        )
        if row.correct and not was_due and row.points:
            zeroed.append(row.id)
    if log_rows:
        op.bulk_insert(logs, log_rows)
        op.bulk_insert(
            cards,
            [
                {
                    "learner_id": lid,
                    "question_id": qid,
                    "state": int(card.state),
                    "step": card.step,
                    "stability": card.stability,
                    "difficulty": card.difficulty,
                    "due": card.due,
                    "last_review": card.last_review,
                    "last_rating": rating,
                }
                for (lid, qid), (card, rating) in state.items()
            ],
        )
    for attempt_id in zeroed:
        conn.execute(sa.update(attempts).where(attempts.c.id == attempt_id).values(points=0))


def downgrade() -> None:
    op.drop_index("ix_review_logs_learner_reviewed", "review_logs")
    op.drop_table("review_logs")
    op.drop_index("ix_review_cards_learner_due", "review_cards")
    op.drop_table("review_cards")
    with op.batch_alter_table("learners") as batch:
        batch.drop_column("timezone")
