"""A change of a server's study settings is a moderator action (over the real store, on SQLite and
PostgreSQL): logged with who did it and what changed, undone by /mod undo under the same rules as
every action, and refused, naming the later action, once the settings changed again since."""

from __future__ import annotations

import json

import pytest

from bot.console import render
from bot.tutor.moderation import ActionKind
from bot.tutor.moderator import Actor, Authority, Moderator
from bot.tutor.replies import Kind, Table
from bot.tutor.study import Mode, ServerStudy
from tests.helpers import select

MOD = Actor("test", "g1", "mod-1", "Mo", Authority.MANAGER)
ROLE_MOD = Actor("test", "g1", "mod-2", "Rita", Authority.MODERATOR)
NOBODY = Actor("test", "g1", "user-3", "Nemo", Authority.NONE)
NAMES = {"1": "a", "2": "b"}


async def log_lines(mods: Moderator, actor: Actor = MOD) -> list[str]:
    table = (await mods.log(actor)).blocks[0]
    assert isinstance(table, Table)
    return [line.plain for line in table.lines()]


async def test_a_change_is_logged_with_the_moderator_and_the_values(
    tutor, store, bank, clock, db_url
):
    desk = tutor.study
    first = await desk.configure(MOD, default=Mode.THREAD, add_channel="1", names=NAMES)
    assert first.kind is Kind.INFO and "action #1; /mod undo 1" in first.text
    await desk.configure(MOD, add_channel="2", names=NAMES, reason="a second room")
    third = await desk.configure(
        ROLE_MOD, default=Mode.EPHEMERAL, remove_channel="2", names=NAMES, reason="  quiet  "
    )
    assert "action #3" in third.text
    # Nothing changed: nothing logged, and the moderator is told so.
    same = await desk.configure(MOD, default=Mode.EPHEMERAL, names=NAMES)
    assert "Nothing changed, so nothing was logged." in same.text

    mods = Moderator(bank, store.moderation, now=clock)
    assert await log_lines(mods) == [
        "#3 2026-11-01 12:00 UTC · Rita · study_settings (study mode: thread -> ephemeral; "
        "study channels: #a, #b -> #a) · quiet",
        "#2 2026-11-01 12:00 UTC · Mo · study_settings (study channels: #a -> #a, #b) "
        "· a second room",
        "#1 2026-11-01 12:00 UTC · Mo · study_settings (study mode: automatic -> thread; "
        "study channels: any channel -> #a) · no reason given",
    ]
    rows = await select(
        db_url, "SELECT id, action, moderator_id, learner_id, data FROM mod_actions ORDER BY id"
    )
    assert [r[:4] for r in rows] == [
        (1, "study_settings", "mod-1", None),
        (2, "study_settings", "mod-1", None),
        (3, "study_settings", "mod-2", None),
    ]
    assert json.loads(rows[2][4]) == {
        "before": {"mode": "thread", "learners_choose": True, "channels": [["1", "a"], ["2", "b"]]},
        "after": {"mode": "ephemeral", "learners_choose": True, "channels": [["1", "a"]]},
    }
    # The change and the settings were written together.
    assert await store.study.server("test", "g1") == ServerStudy(Mode.EPHEMERAL, True, ("1",))


async def test_undo_restores_the_previous_settings_and_is_logged(tutor, store, bank, clock):
    desk = tutor.study
    await desk.configure(MOD, default=Mode.CHANNEL, learners_choose=False, names=NAMES)
    shown = await desk.server("test", "g1")  # cached now: the undo must not leave it stale
    assert "Study mode: channel" in shown.text

    mods = Moderator(bank, store.moderation, now=clock)
    preview = await mods.preview(MOD, ActionKind.UNDO, action_id=1)
    assert preview.kind is Kind.INFO and preview.text == (
        "Undo action #1 (study settings change (study mode: automatic -> channel; learners "
        "choose: yes -> no) by Mo on 2026-11-01 12:00 UTC, reason: no reason given)? That puts "
        "back the study settings as they were before."
    )
    done = await mods.undo(MOD, 1, "too loud")
    assert done.kind is Kind.INFO and done.text.endswith("recorded as #2.")
    assert await store.study.server("test", "g1") == ServerStudy()
    assert "Study mode: automatic" in (await desk.server("test", "g1")).text
    lines = await log_lines(mods)
    assert lines[0].startswith("#2 2026-11-01 12:00 UTC · Mo · undo · undo #1: too loud")
    assert lines[1].endswith("(undone by #2) · no reason given")
    # The terminal admin's /mod log shows the same row.
    assert (
        "study_settings (study mode: automatic -> channel; learners choose: yes -> no) "
        "(undone by #2)"
    ) in render(await mods.log(MOD))
    again = await mods.undo(MOD, 1, "twice")
    assert again.kind is Kind.ERROR and "already undone by #2" in again.text


async def test_undo_after_a_later_change_is_refused_naming_it(tutor, store, bank, clock):
    desk = tutor.study
    await desk.configure(MOD, default=Mode.THREAD, add_channel="1", names=NAMES)  # 1
    await desk.configure(ROLE_MOD, add_channel="2", names=NAMES)  # 2
    mods = Moderator(bank, store.moderation, now=clock)
    refusal = (
        "Action #1 cannot be undone: the same setting was changed again since, by action #2. "
        "Undo #2 first (then #1), or set it anew with /mod settings study."
    )
    preview = await mods.preview(MOD, ActionKind.UNDO, action_id=1)
    assert (preview.kind, preview.text) == (Kind.ERROR, refusal)  # said at once, no buttons
    refused = await mods.undo(MOD, 1, "oops")
    assert (refused.kind, refused.text) == (Kind.ERROR, refusal)  # and checked when it runs
    assert await store.study.server("test", "g1") == ServerStudy(Mode.THREAD, True, ("1", "2"))

    # Newest first, each undo puts back the state before its action.
    assert (await mods.undo(MOD, 2, "")).kind is Kind.INFO
    assert await store.study.server("test", "g1") == ServerStudy(Mode.THREAD, True, ("1",))
    assert (await mods.preview(MOD, ActionKind.UNDO, action_id=1)).kind is Kind.INFO
    assert (await mods.undo(MOD, 1, "")).kind is Kind.INFO
    assert await store.study.server("test", "g1") == ServerStudy()
    assert len(await log_lines(mods)) == 4  # two changes, two undos; no refusal logged


async def test_undo_of_settings_changed_outside_the_log_is_refused(tutor, store, bank, clock):
    await tutor.study.configure(MOD, default=Mode.THREAD, names=NAMES)
    await store.study.save_server("test", "g1", ServerStudy(Mode.CHANNEL))  # not logged
    mods = Moderator(bank, store.moderation, now=clock)
    refused = await mods.undo(MOD, 1, "")
    assert refused.kind is Kind.ERROR and "no longer what it set them to" in refused.text
    assert await store.study.server("test", "g1") == ServerStudy(Mode.CHANNEL)


@pytest.mark.parametrize("actor", [MOD, ROLE_MOD, NOBODY], ids=lambda a: a.authority.name)
async def test_who_may_change_and_undo(tutor, store, bank, clock, db_url, actor):
    """Any moderator may change the study settings and undo a change; nobody else may, and a
    refusal changes and logs nothing."""
    mods = Moderator(bank, store.moderation, now=clock)
    changed = await tutor.study.configure(actor, default=Mode.EPHEMERAL, names=NAMES)
    await tutor.study.configure(MOD, learners_choose=False, names=NAMES)
    before = await store.study.server("test", "g1")
    undone = await mods.undo(actor, 2, "")
    preview = await mods.preview(actor, ActionKind.UNDO, action_id=2)
    after = await store.study.server("test", "g1")
    actions = await select(db_url, "SELECT action FROM mod_actions ORDER BY id")
    if actor is NOBODY:
        for reply in (changed, undone, preview):
            assert reply.kind is Kind.ERROR and reply.text.startswith("Only moderators"), reply
        assert before == after == ServerStudy(None, False)
        assert actions == [("study_settings",)]
    else:
        assert changed.kind is undone.kind is Kind.INFO
        assert "already undone" in preview.text
        assert after == ServerStudy(Mode.EPHEMERAL, True)
        assert actions == [("study_settings",), ("study_settings",), ("undo",)]


async def test_too_many_channels_is_refused_and_logs_nothing(tutor, store, db_url):
    for channel in range(10):
        await tutor.study.configure(MOD, add_channel=str(channel))
    refused = await tutor.study.configure(MOD, add_channel="10", default=Mode.THREAD)
    assert refused.kind is Kind.ERROR and "At most 10 study channels" in refused.text
    assert (await store.study.server("test", "g1")).default is None
    assert len(await select(db_url, "SELECT id FROM mod_actions")) == 10



async def test_every_setting_refuses_an_undo_overridden_since(tutor, store, bank, clock):
    """The same rule for the other settings actions: the moderator role and the web switch."""
    mods = Moderator(bank, store.moderation, now=clock)
    await mods.set_role(MOD, "role-1", "first")  # 1
    await mods.set_role(MOD, "role-2", "second")  # 2
    await tutor.study.configure(MOD, default=Mode.THREAD)  # 3: another setting, no matter
    refused = await mods.undo(MOD, 1, "")
    assert refused.kind is Kind.ERROR and "by action #2. Undo #2 first" in refused.text
    assert "/mod settings role." in refused.text
    assert await store.moderation.moderator_role("test", "g1") == "role-2"
    assert (await mods.undo(MOD, 2, "")).kind is Kind.INFO
    assert await store.moderation.moderator_role("test", "g1") == "role-1"
    assert (await mods.undo(MOD, 1, "")).kind is Kind.INFO
    assert await store.moderation.moderator_role("test", "g1") is None
