"""Authoring rules that a valid question can still break: ``content check`` reports them.

They are not schema errors (the bot still starts on content that breaks them), but the check
fails, so CI keeps them out of the shipped bank.

Length as a cue: test-wise learners pick the longest choice, because authors tend to qualify
the right answer until it is true and leave the distractors short. A right answer is
*conspicuously* the longest when it is longer than every distractor by at least
``LENGTH_MARGIN`` (10 %) of the longest distractor **and** by at least ``LENGTH_MIN_CHARS``
characters: a gap the eye catches when the choices are listed one per line (73 against 64
characters is one; 73 against 67, or 7 against 5, is not). Then, because a cue that is weak per
question but holds across many is still a cue, the right answer may be the longest at all no
more often than chance (one in the number of choices) plus ``LENGTH_SHARE_SLACK`` over the
bank, and plus ``LENGTH_TOPIC_SLACK`` within a topic (a learner takes a topic's questions in a
row; "8 of 11 in debugging" was the complaint that led to this rule).
"""

from __future__ import annotations

from bot.tutor.content import Bank, Location, Problem, Question

LENGTH_MARGIN = 0.10
LENGTH_MIN_CHARS = 5
LENGTH_SHARE_SLACK = 0.10
LENGTH_TOPIC_SLACK = 0.25  # a topic has ~10 questions: chance alone often exceeds +10 % there
# Below this many multiple-choice questions a share is noise (one question moves it by 10 %+).
LENGTH_SHARE_MIN_QUESTIONS = 8


def _lengths(question: Question) -> tuple[int, int] | None:
    """(right answer's length, longest distractor's length), for a multiple-choice question."""
    if not question.choices or question.correct_index is None:
        return None
    right = len(question.choices[question.correct_index].text.strip())
    others = [
        len(c.text.strip()) for i, c in enumerate(question.choices) if i != question.correct_index
    ]
    return right, max(others)


def conspicuously_longest(question: Question) -> bool:
    lengths = _lengths(question)
    if lengths is None:
        return False
    right, longest_other = lengths
    gap = right - longest_other
    return gap >= LENGTH_MIN_CHARS and gap >= LENGTH_MARGIN * longest_other


def length_problems(bank: Bank) -> list[Problem]:
    problems = []
    for q in bank.questions:
        lengths = _lengths(q)
        if lengths is not None and conspicuously_longest(q):
            right, other = lengths
            problems.append(
                Problem(
                    bank.locations[q.id],
                    f"{q.id}: the right answer is conspicuously the longest choice "
                    f"({right} characters, the longest distractor {other}); "
                    "lengthen the distractors or shorten the answer",
                )
            )
    multiple = [q for q in bank.questions if q.choices]
    problems.extend(_share_problem(bank, multiple, "multiple-choice questions", LENGTH_SHARE_SLACK))
    for topic in bank.topics:
        in_topic = [q for q in multiple if q.topic == topic]
        problems.extend(_share_problem(bank, in_topic, f"questions of {topic}", LENGTH_TOPIC_SLACK))
    return problems


def _share_problem(bank: Bank, questions: list[Question], what: str, slack: float) -> list[Problem]:
    """A problem when the right answer is the longest in too many of ``questions``."""
    if len(questions) < LENGTH_SHARE_MIN_QUESTIONS:
        return []
    longest = [q for q in questions if (n := _lengths(q)) is not None and n[0] > n[1]]
    chance = sum(1 / len(q.choices or (0,)) for q in questions) / len(questions)
    share = len(longest) / len(questions)
    if share <= chance + slack:
        return []
    first = bank.locations[questions[0].id]
    return [
        Problem(
            Location(first.path, first.line, first.column),
            f"the right answer is the longest choice in {len(longest)} of {len(questions)} "
            f"{what} ({share:.0%}; chance is {chance:.0%}, at most {chance + slack:.0%} "
            "allowed): " + ", ".join(q.id for q in longest),
        )
    ]


def lint(bank: Bank) -> list[Problem]:
    """Every authoring-rule problem in ``bank`` (empty when it follows them all)."""
    return length_problems(bank)
