"""/practice through the tutor, over the real store: generated questions graded like the others,
at a reduced XP rate, once per variant, with no review card; and the variant bank that serves
them from the results cache. The sandbox itself is in tests/runner/test_runner_practice.py;
here answers come from a cache filled with what those runs give (tests/helpers.py)."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta
from pathlib import Path

import pytest

from bot.runner.api import RunResult
from bot.runner.cache import ResultCache
from bot.runner.practice import VariantBank
from bot.tutor import practice_mode as practice
from bot.tutor.content import ContentError, load_bank
from bot.tutor.practice import load_templates
from bot.tutor.practice_mode import choose
from bot.tutor.replies import Kind
from bot.tutor.service import Tutor
from tests.helpers import (
    FEATURES_EXPLAINED,
    PRACTICE_TEMPLATES,
    VALID,
    fill_practice_cache,
    learner,
    practice_result,
    practice_variants,
)


def bank_over(cache: ResultCache, runner: object = None) -> VariantBank:
    return VariantBank(load_templates(PRACTICE_TEMPLATES), cache, runner)  # type: ignore[arg-type]


@pytest.fixture
def variant_bank(tmp_path: Path) -> VariantBank:
    return bank_over(fill_practice_cache(tmp_path / "cache"))


@pytest.fixture
def practising(bank, store, clock, variant_bank) -> Tutor:
    return Tutor(bank, store, now=clock, shuffle=False, practice=variant_bank, rng=random.Random(1))


# --- the rules (pure) ---------------------------------------------------------------------------


def test_practice_xp_is_a_fraction_of_the_curriculums_and_earned_once():
    [question] = [v.question("(None, 3)") for v in practice_variants()[:1]]
    assert question.difficulty == 2  # 20 XP in the curriculum, 10 after a hint
    assert practice.xp_for(question, True, False, False, 0.25) == 5
    assert practice.xp_for(question, True, True, False, 0.25) == round(10 * 0.25)
    assert practice.xp_for(question, True, False, False, 0.5) == 10
    assert practice.xp_for(question, True, False, True, 0.25) == 0  # answered before
    assert practice.xp_for(question, False, False, False, 0.25) == 0
    assert practice.xp_for(question, True, False, False, 0.0) == 0  # practice XP off


def test_choose_prefers_unseen_ready_then_computes_then_repeats():
    all_variants = practice_variants()
    units = [v for v in all_variants if v.template.id == "dense-units"]
    known = {v.id: v.question("x") for v in units[:2]}
    rng = random.Random(0)
    pick = choose(all_variants, known, (), "feature-extraction", set(), (), rng)
    assert pick.question is not None and pick.question.id in known
    # Both ready ones seen: compute one not known yet (never one whose run gave no answer).
    seen = set(known)
    pick = choose(all_variants, known, {units[2].id}, "feature-extraction", seen, (), rng)
    assert pick.question is None and pick.compute == units[3]
    # Nothing left to compute: a repeat, other than the one just skipped while there is one.
    unusable = {units[2].id, units[3].id}
    pick = choose(all_variants, known, unusable, "feature-extraction", seen, {units[0].id}, rng)
    assert pick.question is not None and pick.question.id == units[1].id
    assert choose(all_variants, {}, set(known), "no-such-topic", (), (), rng) == practice.Choice()


def test_no_question_file_may_use_the_practice_prefix(tmp_path: Path):
    (tmp_path / "q.yaml").write_text(VALID.replace("id: q1", "id: practice-q1"), encoding="utf-8")
    with pytest.raises(ContentError) as exc:
        load_bank(tmp_path)
    assert "ids starting 'practice-' are for practice variants" in str(exc.value)


# --- the tutor ----------------------------------------------------------------------------------


async def test_a_practice_answer_is_graded_at_the_reduced_rate_and_not_scheduled(
    practising: Tutor, store, clock
):
    ada = learner()
    asked = await practising.practice(ada, "debugging-errors")
    qid, title = asked.question_id or "", asked.title or ""
    assert asked.kind is Kind.QUESTION and title.startswith("Practice · debugging-errors")
    assert "25% XP" in title and qid.startswith("practice-dense-params-")
    question = practising.question(qid)
    assert question is not None
    clock.advance(seconds=20)
    reply = await practising.answer(ada, question.correct_answer)
    assert reply.kind is Kind.FEEDBACK and reply.correct, reply.text
    assert "+2 XP (practice: 25% of the XP)" in reply.text  # 10 XP times 25%, rounded
    assert "Next review" not in reply.text

    me = await store.learner_id(ada)
    [row] = await store.attempts(me)
    assert (row.question_id, row.topic, row.points) == (asked.question_id, "debugging-errors", 2)
    assert asked.question_id not in await store.cards(me)  # no review card: never due
    # Not a new question of the curriculum: the daily limit of new questions is untouched.
    assert await store.new_questions_since(me, clock.now - timedelta(days=1)) == 0
    # The leaderboards (by topic too) and /progress count it like any answer.
    for topic in (None, "debugging-errors"):
        [leader] = await store.leaderboard("test", "g1", None, 10, 0, topic)
        assert (leader.score, leader.attempts, leader.correct) == (2, 1, 1)
    assert await store.leaderboard("test", "g1", None, 10, 0, "feature-extraction") == []
    shown = await practising.progress(ada, picture=False)
    assert "XP: 2" in shown.text and "Reviews due now: 0" in shown.text
    assert "Of which practice: 1 answer, 2 XP" in shown.text


async def test_a_variant_earns_xp_once_then_repeats_say_so(practising: Tutor, store, clock):
    ada = learner()
    earned = []
    for _ in range(3):  # two variants in the topic: the third asking is a repeat
        asked = await practising.practice(ada, "debugging-errors")
        question = practising.question(asked.question_id or "")
        assert question is not None
        clock.advance(minutes=1)
        reply = await practising.answer(ada, question.correct_answer)
        earned.append((asked.question_id, "answered this one before" in asked.text, reply.text))
    assert earned[0][0] != earned[1][0] and earned[2][0] in {earned[0][0], earned[1][0]}
    assert [e[1] for e in earned] == [False, False, True]
    assert "no XP this time: you answered this variant before" in earned[2][2]
    rows = await store.attempts(await store.learner_id(ada))
    assert [r.points for r in rows] == [2, 2, 0]


async def test_a_wrong_answer_shows_the_computed_answer_and_the_runs_explanation(
    practising: Tutor, variant_bank: VariantBank
):
    ada = learner()
    failing = [v for v in practice_variants() if v.values.get("built") == 16]
    for _ in range(10):  # the rng is seeded: draw until one of the failing variants comes
        asked = await practising.practice(ada, "feature-extraction")
        if asked.question_id in {v.id for v in failing}:
            break
        await practising.skip(ada)
    else:
        pytest.fail("no failing variant was asked")
    reply = await practising.answer(ada, "(None, 3)")
    assert reply.kind is Kind.FEEDBACK and not reply.correct
    assert "The answer is: ValueError" in reply.text
    assert "The head was built for 16 features and gets 8." in reply.text  # the template's
    assert FEATURES_EXPLAINED in reply.text  # the runner's explanation of this outcome


async def test_skip_hint_and_run_it_work_on_practice_questions(practising: Tutor, store):
    ada = learner()
    first = await practising.practice(ada, "feature-extraction")
    hint = await practising.hint(ada)
    assert hint.kind is Kind.HINT and "only the last axis" in hint.text
    skipped = await practising.skip(ada)
    assert skipped.kind is Kind.QUESTION and (skipped.title or "").startswith("Practice")
    assert skipped.question_id != first.question_id
    # "Run it" finds the variant's code by its id.
    question = practising.question(skipped.question_id or "")
    [variant] = [v for v in practice_variants() if v.id == skipped.question_id]
    assert question is not None and question.code == variant.code
    assert await store.attempts(await store.learner_id(ada)) == []  # skipping records nothing


async def test_practice_refusals_are_clear(bank, store, clock, tmp_path: Path):
    empty = bank_over(ResultCache(tmp_path / "empty"))  # no sandbox and nothing computed yet
    tutor = Tutor(bank, store, now=clock, practice=empty)
    ada = learner()
    unknown = await tutor.practice(ada, "nope")
    assert unknown.kind is Kind.ERROR and "Topics: feature-extraction, debugging-errors" in (
        unknown.text
    )
    waiting = await tutor.practice(ada)
    assert waiting.kind is Kind.ERROR and "sandbox, which is not available here" in waiting.text
    none = await Tutor(bank, store, now=clock).practice(ada)
    assert none.kind is Kind.ERROR and "need the sandbox" in none.text
    assert await store.open_question(await store.learner_id(ada)) is None


# --- the variant bank: computed once, cached across restarts ---------------------------------


class CountingRunner:
    """Stands in for the sandbox where only the number of runs matters: answers what the real
    run gives (tests/helpers.py), after yielding to the loop so that requests overlap."""

    def __init__(self) -> None:
        self.codes: list[str] = []

    async def run(self, code: str, user: str, on_position: object = None) -> RunResult:
        self.codes.append(code)
        await asyncio.sleep(0.01)
        [variant] = [v for v in practice_variants() if v.code == code]
        return practice_result(variant)

    async def close(self) -> None:
        return None


async def test_a_variant_is_computed_once_and_survives_a_restart(tmp_path: Path):
    cache = ResultCache(tmp_path / "cache")
    runner = CountingRunner()
    first = bank_over(cache, runner)
    # Three learners ask at once for the only topic's variants, none computed yet.
    asked = await asyncio.gather(
        *(first.next("debugging-errors", (), (), random.Random(0)) for _ in range(3))
    )
    assert {q.id for q in asked if q} and len(runner.codes) == len(set(runner.codes)) == 1
    # A restart with no sandbox at all: the cache answers, nothing runs.
    again = bank_over(ResultCache(tmp_path / "cache"), None)
    assert again.ready == 1
    question = await again.next("debugging-errors", (), (), random.Random(0))
    assert question is not None and question.id == asked[0].id  # type: ignore[union-attr]
    assert len(runner.codes) == 1


async def test_the_warm_up_computes_every_variant_in_the_background(tmp_path: Path):
    runner = CountingRunner()
    warming = bank_over(ResultCache(tmp_path / "cache"), runner)
    warming.start_warming()
    for _ in range(200):
        if warming.ready + len(warming._unusable) == len(warming.all):
            break
        await asyncio.sleep(0.02)
    assert warming.ready == len(warming.all) == 6 and len(runner.codes) == 6
    await warming.close()
    # `content check --execute` finds them all in the same cache: nothing left to run there.
    cache = ResultCache(tmp_path / "cache")
    assert all(cache.get(v.code) is not None for v in practice_variants())
