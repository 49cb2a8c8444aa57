"""The database schema. Changes here need an Alembic migration (db/migrations/versions)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Named constraints make migrations (and SQLite's batch mode) predictable.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, also on SQLite (which stores no time zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use an aware UTC datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Learner(Base):
    """A user of a platform within one guild; '' as guild means direct messages."""

    __tablename__ = "learners"
    __table_args__ = (UniqueConstraint("platform", "user_id", "guild_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[str] = mapped_column(String(64))
    guild_id: Mapped[str] = mapped_column(String(64), index=True)
    display_name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # IANA name; streaks count days in this zone (/settings timezone).
    timezone: Mapped[str] = mapped_column(String(64), server_default="UTC")
    # Left out of leaderboards by a moderator (/mod exclude); their own progress is unchanged.
    excluded: Mapped[bool] = mapped_column(Boolean, server_default="0")
    # /settings: the FSRS desired retention, and how many new questions a day at most.
    desired_retention: Mapped[float] = mapped_column(Float, server_default="0.9")
    daily_new_limit: Mapped[int] = mapped_column(Integer, server_default="20")
    # Raised by every write that changes what a store caches about the learner (db/versions.py).
    state_version: Mapped[int] = mapped_column(Integer, server_default="0")


class Attempt(Base):
    """One answer to one question. Everything shown as progress derives from these rows."""

    __tablename__ = "attempts"
    __table_args__ = (
        Index("ix_attempts_learner_answered", "learner_id", "answered_at"),
        Index("ix_attempts_learner_question", "learner_id", "question_id", "points"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    learner_id: Mapped[int] = mapped_column(ForeignKey("learners.id", ondelete="CASCADE"))
    question_id: Mapped[str] = mapped_column(String(60))
    topic: Mapped[str] = mapped_column(String(60))
    answer: Mapped[str] = mapped_column(Text)
    correct: Mapped[bool] = mapped_column(Boolean)
    hinted: Mapped[bool] = mapped_column(Boolean)
    points: Mapped[int] = mapped_column(Integer)
    time_to_answer_ms: Mapped[int] = mapped_column(Integer)
    answered_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # The learner ran the question's own code before answering (which shows the answer).
    revealed: Mapped[bool] = mapped_column(Boolean, server_default="0")
    # Answered during learning or relearning steps, after the answer was shown: no XP.
    retry: Mapped[bool] = mapped_column(Boolean, server_default="0")
    # Set by a moderator's reset: the row no longer counts anywhere, but /mod undo restores it.
    reset_by: Mapped[int | None] = mapped_column(
        ForeignKey("mod_actions.id", ondelete="SET NULL"), index=True
    )


class LeaderboardDay(Base):
    """The leaderboard's rollup: per learner (so per guild), UTC day and topic, what their
    attempts that count add up to. Kept in the transaction that changes those attempts (an
    answer adds to it; a reset and its undo rebuild the learner's rows), so that a leaderboard
    reads a few rows per learner instead of every attempt. Exclusion is not in it: the
    leaderboard joins ``learners`` and leaves excluded learners out."""

    __tablename__ = "leaderboard_days"
    __table_args__ = (Index("ix_leaderboard_days_guild", "platform", "guild_id", "day"),)

    learner_id: Mapped[int] = mapped_column(
        ForeignKey("learners.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[int] = mapped_column(Integer, primary_key=True)  # UTC date as yyyymmdd
    topic: Mapped[str] = mapped_column(String(60), primary_key=True)
    # The learner's, copied so that one index finds a guild's rows by day.
    platform: Mapped[str] = mapped_column(String(16))
    guild_id: Mapped[str] = mapped_column(String(64))
    xp: Mapped[int] = mapped_column(Integer)
    answers: Mapped[int] = mapped_column(Integer)
    correct: Mapped[int] = mapped_column(Integer)


class OpenQuestionRow(Base):
    """The question each learner is answering now; kept in the database so a restart (or a
    button clicked on an old message) finds it. Whether it was hinted is in ``hints``."""

    __tablename__ = "open_questions"

    learner_id: Mapped[int] = mapped_column(
        ForeignKey("learners.id", ondelete="CASCADE"), primary_key=True
    )
    question_id: Mapped[str] = mapped_column(String(60))
    asked_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # The order the choices were shown in, e.g. "2,0,1,3" (NULL: as in the file).
    choice_order: Mapped[str | None] = mapped_column(String(20))


class Hint(Base):
    """A hint a learner saw for a question they have not answered since. Kept per question,
    not per open question, so that skipping and asking the question again (by /quiz, /review,
    a restart) cannot launder it: the next answer to that question is graded as hinted, and
    removes the row."""

    __tablename__ = "hints"

    learner_id: Mapped[int] = mapped_column(
        ForeignKey("learners.id", ondelete="CASCADE"), primary_key=True
    )
    question_id: Mapped[str] = mapped_column(String(60), primary_key=True)
    # The "hint" was running the question's own code, which shows the answer.
    revealed: Mapped[bool] = mapped_column(Boolean, server_default="0")


class ReviewCard(Base):
    """The FSRS card of one learner for one question: when to ask it again."""

    __tablename__ = "review_cards"
    __table_args__ = (Index("ix_review_cards_learner_due", "learner_id", "due"),)

    learner_id: Mapped[int] = mapped_column(
        ForeignKey("learners.id", ondelete="CASCADE"), primary_key=True
    )
    question_id: Mapped[str] = mapped_column(String(60), primary_key=True)
    state: Mapped[int] = mapped_column(Integer)  # fsrs.State
    step: Mapped[int | None] = mapped_column(Integer)
    stability: Mapped[float | None] = mapped_column(Float)
    difficulty: Mapped[float | None] = mapped_column(Float)
    due: Mapped[datetime] = mapped_column(UtcDateTime)
    last_review: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_rating: Mapped[int] = mapped_column(Integer)  # fsrs.Rating
    lapses: Mapped[int] = mapped_column(Integer, server_default="0")  # since last parked
    parked_until: Mapped[datetime | None] = mapped_column(UtcDateTime)  # a leech, set aside


class ReviewLog(Base):
    """Every review (answer) with its FSRS rating, kept so schedules can be replayed or refit."""

    __tablename__ = "review_logs"
    __table_args__ = (Index("ix_review_logs_learner_reviewed", "learner_id", "reviewed_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    learner_id: Mapped[int] = mapped_column(ForeignKey("learners.id", ondelete="CASCADE"))
    question_id: Mapped[str] = mapped_column(String(60))
    rating: Mapped[int] = mapped_column(Integer)
    reviewed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    duration_ms: Mapped[int] = mapped_column(Integer)
    reset_by: Mapped[int | None] = mapped_column(
        ForeignKey("mod_actions.id", ondelete="SET NULL"), index=True
    )


class GuildSettings(Base):
    """Per guild: the role whose members may moderate, besides Manage Server."""

    __tablename__ = "guild_settings"

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    guild_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    moderator_role_id: Mapped[str | None] = mapped_column(String(64))
    # The public web leaderboard of this guild (/mod settings web-leaderboard on); off until then.
    web_leaderboard: Mapped[bool] = mapped_column(Boolean, server_default="0")


class ModAction(Base):
    """Every moderator action: who, when, what, to whom and why. Never deleted."""

    __tablename__ = "mod_actions"
    __table_args__ = (Index("ix_mod_actions_guild", "platform", "guild_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    guild_id: Mapped[str] = mapped_column(String(64))
    moderator_id: Mapped[str] = mapped_column(String(64))
    moderator_name: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(16))  # see bot.tutor.moderation.ActionKind
    learner_id: Mapped[int | None] = mapped_column(ForeignKey("learners.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # A reset keeps the review cards it removed here (JSON) so that undo can put them back.
    data: Mapped[str | None] = mapped_column(Text)
    undone_by: Mapped[int | None] = mapped_column(Integer)  # the id of the undo action


class WebLink(Base):
    """A moderator dashboard link (/mod dashboard). Only the SHA-256 of its token is kept: the
    database never holds anything that opens the dashboard. Never deleted; revoked in place."""

    __tablename__ = "web_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    platform: Mapped[str] = mapped_column(String(16))
    guild_id: Mapped[str] = mapped_column(String(64))
    moderator_id: Mapped[str] = mapped_column(String(64))
    moderator_name: Mapped[str] = mapped_column(String(100))
    # What the platform granted the moderator when the link was made (moderator.Authority).
    authority: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class StudyServer(Base):
    """Per guild: how studying happens (bot.tutor.study.ServerStudy; /mod settings study)."""

    __tablename__ = "study_servers"

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    guild_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    default_mode: Mapped[str | None] = mapped_column(String(16))  # NULL: automatic
    learners_choose: Mapped[bool] = mapped_column(Boolean, server_default="1")
    channels: Mapped[str | None] = mapped_column(Text)  # channel ids, comma-separated


class StudyLearner(Base):
    """Per learner: their study mode, the filters in force, the set they are in, and where
    their last public question is (so that its buttons are closed when a newer one opens)."""

    __tablename__ = "study_learners"

    learner_id: Mapped[int] = mapped_column(
        ForeignKey("learners.id", ondelete="CASCADE"), primary_key=True
    )
    mode: Mapped[str | None] = mapped_column(String(16))  # NULL: the server's
    topic: Mapped[str | None] = mapped_column(String(60))
    difficulty: Mapped[int | None] = mapped_column(Integer)
    set_total: Mapped[int | None] = mapped_column(Integer)
    set_started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    question_channel: Mapped[str | None] = mapped_column(String(64))
    question_message: Mapped[str | None] = mapped_column(String(64))


class StudyThread(Base):
    """A learner's study thread in one channel, reused by every /quiz there."""

    __tablename__ = "study_threads"

    learner_id: Mapped[int] = mapped_column(
        ForeignKey("learners.id", ondelete="CASCADE"), primary_key=True
    )
    channel_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    thread_id: Mapped[str] = mapped_column(String(64))


class QuestionReport(Base):
    """A learner's note on a problem with a question ("Report a problem with this question"),
    for the guild's moderators (/mod reports) and the content's authors (its export)."""

    __tablename__ = "question_reports"
    __table_args__ = (Index("ix_question_reports_guild", "platform", "guild_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    learner_id: Mapped[int] = mapped_column(ForeignKey("learners.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(String(16))
    guild_id: Mapped[str] = mapped_column(String(64))
    question_id: Mapped[str] = mapped_column(String(60))
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
