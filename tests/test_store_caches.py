"""What the store keeps in memory: bounded, never frozen, never trusted over another writer."""

from bot.console import render
from bot.tutor.moderator import Actor, Authority, Moderator
from bot.tutor.service import LearnerRef, Tutor
from db import SqlStore, open_store
from db.cache import MISSING, Lru
from tests.helpers import learner


def test_a_cache_keeps_the_most_recently_used_up_to_its_capacity():
    cache: Lru[str, int] = Lru(3)
    for key, value in [("a", 1), ("b", 2), ("c", 3)]:
        cache.put(key, value)
    assert cache.get("a") == 1  # now the most recently used
    cache.put("d", 4)
    assert len(cache) == 3
    assert cache.get("b") is MISSING  # the least recently used went
    assert [cache.get(k) for k in "acd"] == [1, 3, 4]


def test_a_weighted_cache_bounds_the_sum_of_its_weights():
    cache: Lru[str, list[int]] = Lru(10, weigh=len)
    cache.put("a", [0] * 4)
    cache.put("b", [0] * 4)
    cache.put("c", [0] * 4)  # 12 > 10: "a" goes
    assert (cache.get("a"), cache.weight) == (MISSING, 8)
    cache.put("huge", [0] * 50)  # alone over the bound: kept, everything else goes
    assert (len(cache), cache.weight) == (1, 50)


def test_a_read_that_races_a_write_cannot_overwrite_it():
    cache: Lru[str, str] = Lru(10)
    mark = cache.reserve("k")  # a read goes to the database...
    assert cache.get("k") is MISSING
    cache.put("k", "written")  # ...a write of the same key commits meanwhile...
    cache.fill("k", mark, "read before the write")  # ...and the read comes back late
    assert cache.get("k") == "written"
    mark = cache.reserve("k")
    cache.forget("k")  # a write in flight forgets the key
    cache.fill("k", mark, "stale")
    assert cache.get("k") is MISSING


async def serve(tutor: Tutor, who: LearnerRef) -> None:
    question = await tutor.quiz(who)
    await tutor.answer(who, "1" if question.choices else "(None, 5)")


async def test_the_store_caches_stay_within_their_bounds(db_url, bank):
    store = SqlStore(db_url, learners_cached=5, cards_cached=8)
    await store.upgrade()
    tutor = Tutor(bank, store, shuffle=False)
    people = [learner(f"L{i}") for i in range(30)]
    for who in people:
        for _ in range(3):
            await serve(tutor, who)
    # On every database (on a server, with the version each entry was read at: db/versions.py).
    assert [len(store._learners), len(store._open)] == [5, 5] and store._cards.weight <= 8
    # Forgotten learners are read back, with the same id and everything they did.
    first = await store.learner_id(people[0])
    assert first == 1 and len(await store.attempts(first)) == 3
    assert len(await store.cards(first)) == 3
    await store.close()


async def test_the_tutor_keeps_nothing_per_learner(tutor):
    def sizes() -> int:
        return sum(len(v) for v in vars(tutor).values() if isinstance(v, dict | list | set))

    before = sizes()
    for i in range(40):
        await serve(tutor, learner(f"L{i}"))
    assert sizes() == before


async def test_a_new_display_name_shows_from_the_next_interaction(tutor):
    await serve(tutor, learner("Ada"))
    renamed = LearnerRef("test", "ada", "g1", "Ada Lovelace")  # same user, new nickname
    await tutor.progress(renamed, picture=False)
    board = render(await tutor.leaderboard(learner("Bob")))
    assert "Ada Lovelace" in board
    assert not [line for line in board.splitlines() if line.split()[1:3] == ["Ada", "·"]]


class CountingWrites:
    """The real database, counting write transactions asked for."""

    def __init__(self, inner) -> None:
        self.inner, self.writes = inner, 0
        self.foreign_writes = 0

    async def write(self, op):
        self.writes += 1
        return await self.inner.write(op)

    def __getattr__(self, name):
        return getattr(self.inner, name)


async def test_an_unchanged_display_name_costs_no_write(db_url):
    from sqlalchemy.engine import make_url

    from db.database import connect

    database = CountingWrites(connect(make_url(db_url)))
    store = SqlStore(db_url, database)
    await store.upgrade()
    ada = learner("Ada")
    ids = {await store.learner_id(ada) for _ in range(20)}
    assert (len(ids), database.writes) == (1, 1)
    await store.learner_id(LearnerRef("test", "ada", "g1", "Ada L."))
    assert database.writes == 2
    await store.close()


async def test_another_writer_is_noticed_at_the_next_write(sqlite_url, bank, clock):
    """A second process (here, a second store) resets a learner: the first store's cached cards
    and open question are dropped at its next write, not kept until a restart. (On PostgreSQL
    the store caches none of it: tests/test_cluster_store.py.)"""
    first, second = await open_store(sqlite_url), await open_store(sqlite_url)
    try:
        tutor = Tutor(bank, first, now=clock, shuffle=False)
        ada = learner("Ada")
        await serve(tutor, ada)
        await tutor.quiz(ada)
        lid = await first.learner_id(ada)
        assert len(await first.cards(lid)) == 1
        mod = Actor("test", "g1", "mod", "Mo", Authority.MANAGER)
        assert "Reset" in (await Moderator(bank, second.moderation).reset(mod, "ada", "x")).text
        clock.advance(minutes=1)
        await first.set_timezone(await first.learner_id(learner("Bob")), "UTC")  # any write
        assert await first.cards(lid) == {}
        assert await first.open_question(lid) is None
    finally:
        await first.close()
        await second.close()


async def test_the_cards_seen_after_an_answer_include_the_card_it_stored(tutor, store, clock):
    """Cards are cached, and each answer updates the cache: never the schedule from before."""
    ada = learner("Ada")
    lid = await store.learner_id(ada)
    assert await store.cards(lid) == {}  # cached from here on
    question = await tutor.quiz(ada)
    clock.advance(seconds=30)
    await tutor.answer(ada, "2")
    card = (await store.cards(lid))[question.question_id]
    assert card.last_review == clock.now and card.due > clock.now


async def test_study_settings_written_elsewhere_are_seen_after_the_next_write(db_url):
    """The study state and server settings are cached like the rest: another process's change
    (a moderator's, on another shard) is seen from this store's next write on."""
    from bot.tutor.study import Filters, Mode, ServerStudy, StudyState

    first, second = await open_store(db_url), await open_store(db_url)
    try:
        lid = await first.learner_id(learner("Ada"))
        assert await first.study.state(lid) == StudyState()
        assert await first.study.server("test", "g1") == ServerStudy()
        await second.study.save_state(lid, StudyState(Mode.EPHEMERAL, Filters("shapes", 2)))
        await second.study.save_server("test", "g1", ServerStudy(Mode.CHANNEL, False, ("7",)))
        await first.set_timezone(await first.learner_id(learner("Bob")), "UTC")  # any write
        assert await first.study.state(lid) == StudyState(Mode.EPHEMERAL, Filters("shapes", 2))
        assert await first.study.server("test", "g1") == ServerStudy(Mode.CHANNEL, False, ("7",))
    finally:
        await first.close()
        await second.close()
