"""/run, "Run snippet", "Run it": acknowledged within Discord's deadline, results rendered
safely, one snippet per learner."""

from __future__ import annotations

import pytest

from bot.cogs.run._render import full_output
from bot.runner.api import ExceptionInfo, Limit, RunRefused, Status
from tests.discord.fakes import FakeRunner, RefusingRunner, run_result
from tests.discord.helpers import CODE, question_of, refusals, run_code, text_of, world


@pytest.fixture
def runner() -> FakeRunner:
    return FakeRunner(delay_s=10.0)


async def test_run_is_acknowledged_at_once_and_answered_when_the_snippet_ends(env, runner):
    runner.env = env
    _, channel, alice = world(env)

    opened = await alice.slash(channel, "run")
    field = opened.modal["components"][0]["components"][0]
    assert field["max_length"] == 4000 and field["style"] == 2
    submitted = await alice.submit_modal(opened, {"code": CODE})

    # The snippet takes 10 s; the interaction was deferred at once (virtual time has not moved,
    # so it happened well inside Discord's 3 s), and shows "thinking…".
    assert submitted.deferred and submitted.acknowledged
    assert runner.finished == 0
    assert submitted.response.flags.loading

    await env.advance_time(10)

    assert runner.calls == [(CODE, str(alice.id))]
    message = submitted.response
    assert not message.flags.loading and not message.ephemeral
    text = text_of(message)
    assert "✅ Ran successfully" in text and "1.5 s · peak memory 512 MiB" in text
    assert "sequential: output (None, 5)" in text and "45 params" in text
    assert "stdout\n```\nhello\n```" in text


async def test_one_snippet_per_learner_then_a_cooldown(env, runner, settings):
    runner.env = env
    _, channel, alice = world(env)
    await run_code(alice, channel)

    again = await alice.slash(channel, "run")
    assert again.ephemeral and again.modal is None
    assert "already have a snippet running" in text_of(again.response)

    await env.advance_time(10)
    cooling = await alice.slash(channel, "run")
    assert "Please wait 10 s" in text_of(cooling.response)

    await env.advance_time(settings.discord.run_cooldown_s)
    assert (await alice.slash(channel, "run")).modal is not None
    assert len(refusals(env)) == 2


async def test_a_second_learner_is_told_their_place(env, runner):
    runner.env = env
    guild, channel, alice = world(env)
    bob = guild.add_member(env.create_user("bob"))
    await run_code(alice, channel)

    waiting = await run_code(bob, channel, "print('bob')")

    assert waiting.acknowledged
    assert "you are number 1 in the queue" in waiting.response.content
    await env.advance_time(20)
    assert runner.finished == 2
    assert "✅ Ran successfully" in text_of(waiting.response)
    assert waiting.response.content == ""


async def test_run_snippet_message_command(env, runner):
    runner.env = env
    runner.delay_s = 0
    _, channel, alice = world(env)
    post = await alice.send(channel, f"Why does this fail?\n```python\n{CODE}```\nthanks")
    plain = await alice.send(channel, "no code here")

    ran = await alice.context_menu(channel, "Run snippet", post)
    refused = await alice.context_menu(channel, "Run snippet", plain)

    assert runner.calls == [(CODE, str(alice.id))]
    assert "✅ Ran successfully" in text_of(ran.response)
    assert refused.ephemeral and "no code block" in text_of(refused.response)
    assert refusals(env) == ["That message has no code block. Put the code in ```python … ```."]


async def test_run_it_runs_the_questions_snippet(env, runner):
    runner.env = env
    runner.delay_s = 0
    guild, channel, alice = world(env)
    bob = guild.add_member(env.create_user("bob"))
    asked = await alice.slash(channel, "quiz", topic="shapes")
    opened = await alice.click(question_of(asked), label="Answer…")
    answered = await alice.submit_modal(opened, {"answer": "(None, 5)"})

    ran = await bob.click(answered.followups[0], label="Run it")  # anyone may run it

    question_code = env.bot.services.bank.get("head-output-shape").code
    assert runner.calls == [(question_code, str(bob.id))]
    # Titled as learners know the question (its prompt), not by its id.
    text = text_of(ran.response)
    assert ran.acknowledged and "**What is `model.output_shape`?**" in text
    assert "head-output-shape" not in text


async def test_errors_limits_and_explanations_are_named(env, runner):
    runner.env = env
    runner.delay_s = 0
    runner.result = run_result(
        Status.ERROR,
        stderr="Traceback (most recent call last):\nValueError: Input size must be at least 32x32",
        exception=ExceptionInfo("ValueError", "Input size must be at least 32x32", line=2),
        explanation="ResNet50 needs images of at least 32×32 pixels.",
        notes=("imagenet weights were replaced by random ones (offline)",),
    )
    _, channel, alice = world(env)

    failed = await run_code(alice, channel)
    text = text_of(failed.response)
    assert "❌ Raised an exception" in text
    assert "ValueError on line 2: Input size must be at least 32x32" in text
    assert "What happened\nResNet50 needs images of at least 32×32 pixels." in text
    assert "imagenet weights were replaced" in text

    await env.advance_time(60)
    runner.result = run_result(Status.TIMEOUT, limit=Limit("wall_timeout_s", 30.0))
    stopped = await run_code(alice, channel)
    assert "⏱️ Stopped: time limit (30s)" in text_of(stopped.response)


async def test_hostile_and_oversized_output_is_made_safe(env, runner):
    runner.env = env
    runner.delay_s = 0
    hostile = (
        "@everyone <@123456789012345678> look\n"
        "```\nbroken out of the block\n"
        "evil\u202eexe.txt zero\u200bwidth nul\x00 bell\x07 esc\x1b[31mred\n"
    )
    big = hostile + ("x" * 99 + "\n") * 1000  # about 100 kB
    runner.result = run_result(stdout=big, stderr=hostile)
    _, channel, alice = world(env)

    result = await run_code(alice, channel)

    message = result.response
    embed = message.embeds[0]
    assert len(embed) <= 6000 and all(len(f.value) <= 1024 for f in embed.fields)
    shown = text_of(message)
    for invisible in ("\u202e", "\u200b", "\x00", "\x07", "\x1b"):
        assert invisible not in shown
    assert "\ufffd" in shown  # made visible instead
    for f in embed.fields[:2]:
        body = f.value.removeprefix("```\n").removesuffix("\n```")
        assert "```" not in body  # the output cannot close our code block
    (attachment,) = message.attachments
    assert attachment.filename == "output.txt"
    assert attachment.size == len(full_output(runner.result).encode())  # everything, uncut
    assert "cut" in embed.footer.text
    full = next(r for r in env.http_requests if r.path.endswith("/messages/@original") and r.json)
    assert full.json["allowed_mentions"] == {"parse": []}


@pytest.mark.parametrize("runner", [RefusingRunner()])
async def test_a_refusing_runner_is_explained(env, runner):
    _, channel, alice = world(env)

    refused = await run_code(alice, channel)

    # The public "thinking…" message is closed; the reason is told privately, without an id.
    assert refused.response.content == "⚠️ That did not work."
    (note,) = refused.followups
    assert note.ephemeral and "The runner is busy (50 snippets waiting)" in text_of(note)
    assert "error id" not in text_of(note)


@pytest.mark.parametrize("runner", [None])
async def test_run_without_a_runner_says_so(env, runner):
    _, channel, alice = world(env)

    refused = await alice.slash(channel, "run")

    assert refused.ephemeral and refused.modal is None
    assert "not available" in text_of(refused.response)
    assert refusals(env) == ["Running snippets is not available on this bot right now."]


async def test_the_run_gate_forgets_pauses_that_are_over(monkeypatch):
    """One entry per learner whose pause still runs, not one per learner ever seen."""
    import time

    from bot.runner.gate import RunGate

    clock = [0.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    gate = RunGate(cooldown_s=10)
    for user in range(1000):
        async with gate.hold(str(user)):
            clock[0] += 1
    assert len(gate._finished) <= 10
    with pytest.raises(RunRefused, match="Please wait 10 s"):
        await gate.admit("999")
