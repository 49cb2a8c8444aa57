"""/practice: how generated questions (practice.py) are asked, graded and counted.

Learners practise with ``/practice [topic]``: a variant whose answer is known is asked like any
short-answer question and graded the same way, but (rules here, applied by the Tutor):

- XP comes at a reduced rate (``xp_rate``, a setting: 25% by default), and once per variant: its
  feedback shows the answer, and the grid of a template is small. The curriculum stays what the
  leaderboard rewards; practice adds a little on top.
- A variant's attempts are stored under the variant's id (``practice-<template>-<digest of the
  code>``, stable across restarts and machines), with the template's topic, so XP totals, the
  leaderboards (by topic too) and /progress count them with no special case. The ``practice-``
  prefix is reserved (content.PRACTICE_PREFIX): the daily limit of new questions counts only
  curriculum questions.
- No FSRS review card: a variant is a drill, not something to remember. Spacing one variant's
  reviews would ask the same computed shape again, where the point is a new one; the skill a
  template drills is scheduled through the curriculum's questions of its topic. So practice
  never makes a review due, never parks a question, and leaves mastery alone.

Pure: no TensorFlow, no runner, no database (and kept apart from practice.py, which ``content
check`` imports without the scheduler).
"""

from __future__ import annotations

import random
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Protocol

from bot.tutor import session
from bot.tutor.content import Question
from bot.tutor.practice import Variant
from bot.tutor.replies import Reply

# A practice answer earns this fraction of a curriculum answer's XP (settings.practice.xp_rate).
DEFAULT_XP_RATE = 0.25


class PracticeUnavailable(Exception):
    """No practice question can be given now; the message says why, for the learner."""


class PracticeSource(Protocol):
    """Generated questions whose answers were computed by running them (bot/runner/practice.py
    implements it over the sandbox and the results cache)."""

    @property
    def topics(self) -> tuple[str, ...]:
        """The topics that have templates, in a stable order."""
        ...

    def question(self, question_id: str) -> Question | None:
        """The variant ``question_id`` as a question, if its answer is known (else None)."""
        ...

    async def next(
        self, topic: str | None, seen: Collection[str], avoid: Collection[str], rng: random.Random
    ) -> Question | None:
        """A question for a learner who answered the variants ``seen`` (see ``choose``),
        computing its answer first if none is known yet; None when ``topic`` has no variant
        with an answer. Raises PracticeUnavailable."""
        ...


@dataclass(frozen=True)
class Choice:
    """What ``choose`` picked: a question ready to ask, or a variant to compute first."""

    question: Question | None = None
    compute: Variant | None = None


def choose(
    all_variants: Sequence[Variant],
    known: Mapping[str, Question],
    unusable: Collection[str],
    topic: str | None,
    seen: Collection[str],
    avoid: Collection[str],
    rng: random.Random,
) -> Choice:
    """The next practice question of ``topic`` for a learner who answered ``seen``: an unseen
    one whose answer is ``known``; else an unseen one to compute (not ``unusable``: its run gave
    no answer); else a repeat of a known one (which earns no XP). ``avoid`` (the question just
    skipped) only when nothing else is left. Nothing when the topic has none."""
    mine = [v for v in all_variants if topic is None or v.template.topic == topic]
    ready = [known[v.id] for v in mine if v.id in known]
    fresh = [q for q in ready if q.id not in seen and q.id not in avoid]
    if fresh:
        return Choice(question=rng.choice(fresh))
    to_compute = [v for v in mine if v.id not in known and v.id not in unusable]
    if to_compute:
        return Choice(compute=rng.choice(to_compute))
    repeats = [q for q in ready if q.id not in avoid] or ready
    return Choice(question=rng.choice(repeats)) if repeats else Choice()


def xp_for(
    question: Question, correct: bool, hinted: bool, answered_before: bool, rate: float
) -> int:
    """A practice answer's XP: ``rate`` of what the same answer earns in the curriculum (by
    difficulty, halved after a hint), and none for a variant answered before."""
    if answered_before:
        return 0
    # No card: a curriculum answer's XP as for a question seen the first time.
    full = session.xp_for(question, correct, hinted, None, datetime.now(UTC))
    return round(full * rate)


def ask(question: Question, rate: float, hinted: bool = False, repeat: bool = False) -> Reply:
    """A practice question as asked: a short-answer question, titled as practice with its rate."""
    note = "You answered this one before: no XP this time." if repeat else ""
    asked = session.ask(session.Pick(question, session.Reason.NEW), hinted=hinted, note=note)
    stars = "★" * question.difficulty + "☆" * (3 - question.difficulty)
    title = f"Practice · {question.topic} · {stars} · {rate:.0%} XP"
    return replace(asked, title=title)
