"""Text from people and snippets reaches Discord as literal text: no masked link, mention,
heading, list, quote, emoji, timestamp or code fence can come of it, and nothing can ping.

The assertions read what Discord receives (the HTTP request bodies and the stored messages), then
check it two ways: every markdown character from the hostile text is escaped, and reading the
escapes as Discord does gives back exactly what the person typed.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

import discord
import pytest
import simcord

from bot.cogs.render import block_markdown, markdown
from bot.runner.api import ExceptionInfo, Limit, ModelInfo, Status
from bot.tutor.replies import Column, Reply, Table, verbatim
from tests.discord.fakes import FakeRunner, run_result
from tests.discord.helpers import confirm, question_of, raw_text_of, run_code, text_of, world

# Display names and reasons as a hostile member would choose them.
HOSTILE = (
    "[Claim prize](https://example.invalid)",
    "@everyone @here",
    "<@123456789012345678> <@&123456789012345678> <#123456789012345678>",
    "<:pog:123456789012345678> <t:0:R> </quiz:123456789012345678>",
    "# Admin",
    "-# fine print",
    "> quoted",
    "1. first",
    "- item",
    "**bold** __under__ *it* ~~gone~~ ||spoiler|| `code`",
    "```fence",
    "https://example.invalid",
    "back\\slash",
)
# Discord markdown's characters; in a literal they come after a backslash, always.
SPECIAL = r"\\*_~|`>#+\-.!\[\]()<@:"
ESCAPED_ONLY = re.compile(rf"(?:\\[^0-9A-Za-z\s]|[^{SPECIAL}])*")


def shown(raw: str) -> str:
    return re.sub(r"\\([^0-9A-Za-z\s])", r"\1", raw)


def assert_literal(raw: str, typed: str) -> None:
    """``raw`` (a part of a request body) shows ``typed`` exactly, and only as text."""
    assert ESCAPED_ONLY.fullmatch(raw), f"unescaped markdown in {raw!r}"
    assert shown(raw) == typed


def find_literal(raw_text: str, typed: str) -> str:
    """The escaped form of ``typed`` inside ``raw_text`` (asserting it is there and literal)."""
    pattern = "".join(rf"\\?{re.escape(ch)}" for ch in typed)
    found = re.search(pattern, raw_text)
    assert found, f"{typed!r} not shown in {raw_text!r}"
    assert_literal(found.group(), typed)
    return found.group()


def assert_never_pings(env: simcord.Env) -> None:
    """Every message the bot sent or edited carries allowed_mentions none."""
    bodies = [
        r.json
        for r in env.http_requests
        if r.method in ("POST", "PATCH") and isinstance(r.json, dict)
    ]
    messages = [b.get("data", b) for b in bodies if "embeds" in b.get("data", b)]
    assert messages
    for body in messages:
        assert body.get("allowed_mentions") == {"parse": []}, body
    for stored in env.backend.messages.values():
        for message in stored.values():
            policy = message.allowed_mentions
            assert not policy.everyone and policy.users == policy.roles == frozenset()


def member(env: simcord.Env, guild: Any, nick: str) -> Any:
    return guild.add_member(env.create_user(f"user{next(_numbers)}"), nick=nick)


_numbers = itertools.count()


async def test_display_names_on_the_public_leaderboard_are_literal(env):
    guild, channel, alice = world(env)
    for nick in HOSTILE:
        hostile = member(env, guild, nick)
        asked = await hostile.slash(channel, "quiz", topic="basics", difficulty="easy")
        await hostile.click(question_of(asked), label="2")

    board = await alice.slash(channel, "leaderboard")
    assert not board.ephemeral
    raw = raw_text_of(board.response)
    # Names are shown as mentions of their members (Discord writes the name): a name's own
    # text never reaches the message, so it can neither format nor ping.
    rows = [line for line in raw.split("\n") if line[:1].isdigit()]
    assert len(rows) == 10  # a page holds 10
    assert all(re.fullmatch(r"1\. <@[0-9]+> · 10 XP · 1/1 correct", row) for row in rows)
    assert "](" not in raw and "\n#" not in raw and "@everyone" not in raw
    assert_never_pings(env)


async def test_names_stay_on_their_line(env):
    guild, channel, alice = world(env)
    fake = member(env, guild, "x\n  1. alice · 9999 XP\u2028#")
    asked = await fake.slash(channel, "quiz", topic="basics", difficulty="easy")
    await fake.click(question_of(asked), label="2")

    board = (await alice.slash(channel, "leaderboard")).response.embeds[0].description
    rows = board.split("\n\n")[1]
    assert rows.count("\n") == 0  # one line: the name added none
    assert "9999 XP" not in shown(board) and "\u2028" not in board


async def test_progress_title_and_chart_for_a_hostile_name(env):
    guild, channel, _ = world(env)
    name = "$\\frac$ [x](https://example.invalid) @everyone"
    learner = member(env, guild, name)
    asked = await learner.slash(channel, "quiz", topic="basics", difficulty="easy")
    await learner.click(question_of(asked), label="2")

    progress = await learner.slash(channel, "progress")
    title = progress.response.embeds[0].title
    assert_literal(title.removesuffix("'s progress"), name)
    assert progress.response.attachments[0].filename == "chart.png"  # drawn, not a crash


@pytest.mark.parametrize("reason", HOSTILE)
async def test_moderator_reasons_and_names_are_literal(env, reason):
    guild, channel, _ = world(env)
    admins = guild.create_role("admins", permissions=discord.Permissions(manage_guild=True))
    boss = guild.add_member(env.create_user("boss"), roles=[admins], nick=HOSTILE[0])
    target = member(env, guild, reason)
    asked = await target.slash(channel, "quiz", topic="basics", difficulty="easy")
    await target.click(question_of(asked), label="2")

    question = await boss.slash(channel, "mod exclude", user=target, reason=reason)
    raw = question.response.embeds[0].description
    find_literal(raw.split("\n")[0], reason)  # the name, in "Exclude NAME from ..."
    find_literal(raw.split("Reason: ")[1], reason)
    await confirm(boss, question)

    line = (await boss.slash(channel, "mod log")).response.embeds[0].description
    # "#1 <date> UTC · <moderator> · exclude <learner> · <reason>"
    _, moderator, action, why = line.split(" · ")
    assert_literal(moderator, HOSTILE[0])
    assert_literal(action.removeprefix("exclude "), reason)
    assert_literal(why, reason)

    report = await boss.slash(channel, "mod learner", user=target)
    assert_literal(report.response.embeds[0].title.removeprefix("Learner report · "), reason)
    assert_never_pings(env)


async def test_typed_answers_are_never_echoed_as_markdown(env):
    _, channel, alice = world(env)
    asked = await alice.slash(channel, "quiz", topic="shapes")
    opened = await alice.click(question_of(asked), label="Answer…")
    answer = "[Claim prize](https://example.invalid) @everyone ```"
    await alice.submit_modal(opened, {"answer": answer})
    for request in env.http_requests:
        assert "](https://example.invalid)" not in str(request.json)
    assert_never_pings(env)


@pytest.fixture
def runner() -> FakeRunner:
    return FakeRunner()


async def test_snippet_results_are_literal_or_fenced(env, runner):
    runner.env = env
    link = "[Claim prize](https://example.invalid)"
    runner.result = run_result(
        Status.ERROR,
        stdout=f"```\n{link} @everyone\n```",
        stderr="``````",
        exception=ExceptionInfo(f"Err```{link}", f"```\n{link}", line=1),
        models=(ModelInfo(f"m```{link}", None, "(None, 5)", 1, None),),
        explanation=f"Shape {link} <@123456789012345678> # heading",
        notes=(f"note {link}", "> quote"),
        limit=Limit(f"limit {link}", 1.0),
    )
    _, channel, alice = world(env)

    result = await run_code(alice, channel)

    embed = result.response.embeds[0]
    description = embed.description or ""
    for block in re.findall(r"```\n(.*?)\n```", description, re.S) + [
        f.value.removeprefix("```\n").removesuffix("\n```")
        for f in embed.fields
        if f.name in ("stdout", "stderr")
    ]:
        assert "```" not in block  # nothing closes our code blocks early
    assert description.count("```") % 2 == 0
    outside = re.sub(r"```\n.*?\n```", "", description, flags=re.S)
    assert "](" not in outside.replace("\\](", "")
    what = next(f.value for f in embed.fields if f.name == "What happened")
    assert_literal(what, f"Shape {link} <@123456789012345678> # heading")
    notes = next(f.value for f in embed.fields if f.name == "Notes")
    assert [shown(n) for n in notes.split("\n")] == [f"• note {link}", "• > quote"]
    find_literal(embed.title or "", f"limit {link} (1)")
    assert "Ran" not in text_of(result.response)
    assert_never_pings(env)


def test_table_cells_from_people_are_literal_and_stay_on_their_line():
    hostile = "x```@everyone [a](https://b.invalid)\n# line"
    table = Table((Column(after=": "), Column()), [(verbatim(hostile), "1/1"), ("b", "**2**")])
    out = block_markdown(table)
    first, second = out.split("\n")  # a person's text adds no line to a table
    assert_literal(first.removesuffix(": 1/1"), hostile.replace("\n", " "))
    assert second == "b: **2**"  # what the course wrote stays markdown


def test_what_the_course_wrote_stays_markdown():
    reply = Reply(text=f"Use **`include_top=False`**, {verbatim('**not**')} this")
    assert markdown(reply.body) == r"Use **`include_top=False`**, \*\*not\*\* this"
