"""What a /run result shows and offers, as python-discord's !eval and the Piston bots do: the
code it ran, compact output, the files and plots it made, a layer table on demand, memory in
one unit; and what its buttons do: edit and run again in place, delete (owner, moderators).
The runner is a stand-in here (tests/discord/test_run_real.py runs the real one)."""

from __future__ import annotations

import discord
import pytest

from bot.cogs.run._render import OUTPUT_LINES
from bot.runner.api import ExceptionInfo, ModelInfo, Status
from bot.runner.result import FileInfo, LayerInfo
from tests.discord.fakes import FakeRunner, run_result
from tests.discord.helpers import buttons, restart, run_code, text_of, world

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
LONG = "".join(f"x{i} = {i}\n" for i in range(1, 30)) + "x30 = 1 / 0\n" + "y = 2\n" * 5


@pytest.fixture
def runner() -> FakeRunner:
    return FakeRunner()


async def test_the_result_shows_the_code_numbered_and_the_error_line_once(env, runner):
    runner.result = run_result(
        Status.ERROR,
        stderr="a warning\nTraceback (most recent call last):\n  File \"<snippet>\", line 30, "
        "in <module>\n    x30 = 1 / 0\nZeroDivisionError: division by zero\n",
        exception=ExceptionInfo("ZeroDivisionError", "division by zero", 30),
    )
    _, channel, alice = world(env)

    shown = text_of((await run_code(alice, channel, LONG)).response)

    # The first lines and the lines around the error, numbered as the error says.
    assert " 1 │ x1 = 1" in shown and " 6 │ x6 = 6" in shown and " 7 │" not in shown
    assert "29 │ x29 = 29\n30 → x30 = 1 / 0\n31 │ y = 2\n⋮ (35 lines)" in shown
    assert "ZeroDivisionError on line 30: division by zero" in shown
    assert shown.count("division by zero") == 1  # the traceback is not repeated in stderr
    assert "stderr\n```\na warning\n```" in shown


async def test_long_output_is_compact_and_the_rest_is_attached(env, runner):
    runner.result = run_result(stdout="".join(f"epoch {i}\n" for i in range(1, 41)))
    _, channel, alice = world(env)

    message = (await run_code(alice, channel)).response

    stdout = next(f.value for f in message.embeds[0].fields if f.name == "stdout")
    assert stdout.count("epoch") == OUTPUT_LINES and "epoch 1\n" in stdout
    assert "epoch 16" not in stdout
    (attachment,) = message.attachments
    assert attachment.filename == "output.txt"
    assert "epoch 40" in (await attachment.read()).decode()
    assert "Output cut to 15 lines" in message.embeds[0].footer.text


async def test_memory_is_the_snippets_own_over_the_warm_worker_in_mib(env, runner):
    runner.result = run_result(peak_memory_mb=352.4, baseline_memory_mb=310.0)
    _, channel, alice = world(env)

    shown = text_of((await run_code(alice, channel)).response)

    assert "1.5 s · memory 42 MiB over the warm worker's 310 MiB" in shown


async def test_plots_are_shown_and_files_attached_under_safe_names(env, runner):
    runner.result = run_result(
        files=(
            FileInfo("loss.png", "image/png", PNG),
            FileInfo("plots/acc.png", "image/png", PNG),
            FileInfo("history.csv", "text/csv", b"epoch,loss\n1,0.5\n"),
            FileInfo("<@123> ../evil`name`.txt", "text/plain", b"hi"),
        ),
        notes=("Only 10 files come back; not returned: extra.txt.",),
    )
    _, channel, alice = world(env)

    message = (await run_code(alice, channel)).response

    names = [a.filename for a in message.attachments]
    assert names == ["loss.png", "plots_acc.png", "history.csv", "__123__.._evil_name_.txt"]
    first, second = message.embeds
    assert first.image.url == "attachment://loss.png"
    assert second.image.url == "attachment://plots_acc.png"
    assert (await message.attachments[0].read()) == PNG
    shown = text_of(message)
    assert "4 file(s) the snippet wrote are attached" in shown
    assert "Only 10 files come back; not returned: extra.txt." in shown


LAYERS = (
    LayerInfo("mobilenetv2_1.00_96", "Functional", "(None, 3, 3, 1280)", 2257984, False),
    LayerInfo("dense", "Dense", "(None, 3, 3, 5)", 6405, True),
)


async def test_the_layer_table_is_shown_on_demand_with_the_surprising_shape(env, runner):
    model = ModelInfo("model", "(None, 96, 96, 3)", "(None, 3, 3, 5)", 2264389, 6405, {}, LAYERS)
    runner.result = run_result(models=(model,))
    guild, channel, alice = world(env)
    bob = guild.add_member(env.create_user("bob"))
    message = (await run_code(alice, channel)).response
    assert "Dense layer on a 4-D feature map" in text_of(message)  # said, and where to look
    assert "▶" not in text_of(message)  # the table itself only on demand

    table = await bob.click(message, label="Layers")  # anyone may look, privately

    assert table.ephemeral
    shown = text_of(table.response)
    assert "Model `model`" in shown and "mobilenetv2_1.00_96 Functional (None, 3, 3, 1280)" in shown
    assert "▶ dense" in shown and "2,257,984" in shown
    assert "Put GlobalAveragePooling2D" in shown


async def test_a_result_without_models_has_no_layers_button(env, runner):
    runner.result = run_result(stdout="hi\n")
    _, channel, alice = world(env)

    message = (await run_code(alice, channel)).response

    assert set(buttons(message)) == {"Edit and run", "Delete"}


async def test_edit_and_run_again_updates_the_same_message_owner_only(env, runner, settings):
    guild, channel, alice = world(env)
    bob = guild.add_member(env.create_user("bob"))
    first = await run_code(alice, channel, "print('first')\n")
    message = first.response

    refused = await bob.click(message, label="Edit and run")
    assert refused.ephemeral and "Only the person who ran this snippet" in text_of(refused.response)

    await env.advance_time(settings.discord.run_cooldown_s)
    opened = await alice.click(message, label="Edit and run")
    field = opened.modal["components"][0]["components"][0]
    assert field["value"] == "print('first')\n"  # pre-filled with the code it ran
    again = await alice.submit_modal(opened, {"code": "print('second')\n"})

    assert runner.calls[-1] == ("print('second')\n", str(alice.id))
    assert again.ephemeral and "the result is updated" in text_of(again.response)
    assert [m.id for m in channel.history()] == [message.id]  # no second result message
    latest = channel.history()[0]
    assert "print('second')" in text_of(latest) and "print('first')" not in text_of(latest)


async def test_run_snippet_again_on_an_edited_message_updates_its_result(env, runner, settings):
    _, channel, alice = world(env)
    post = await alice.send(channel, "```python\nprint('v1')\n```")
    ran = await alice.context_menu(channel, "Run snippet", post)
    result_id = ran.response.id

    await alice.edit(post, "```python\nprint('v2')\n```")
    await env.advance_time(settings.discord.run_cooldown_s)
    again = await alice.context_menu(channel, "Run snippet", post)

    assert [code for code, _ in runner.calls] == ["print('v1')\n", "print('v2')\n"]
    assert again.ephemeral and "the result is updated" in text_of(again.response)
    result = next(m for m in channel.history() if m.id == result_id)
    assert "print('v2')" in text_of(result)
    assert sum("Ran successfully" in text_of(m) for m in channel.history()) == 1


async def test_delete_is_for_the_owner_and_moderators(env, runner, settings):
    guild, channel, alice = world(env)
    bob = guild.add_member(env.create_user("bob"))
    mods = guild.create_role("mods", permissions=discord.Permissions(manage_messages=True))
    carol = guild.add_member(env.create_user("carol"), roles=[mods])
    mine = (await run_code(alice, channel)).response
    await env.advance_time(settings.discord.run_cooldown_s)
    other = (await run_code(alice, channel)).response

    admins = guild.create_role("admins", permissions=discord.Permissions(manage_guild=True))
    boss = guild.add_member(env.create_user("boss"), roles=[admins])
    tutors = guild.create_role("tutors")
    dave = guild.add_member(env.create_user("dave"), roles=[tutors])
    await env.advance_time(settings.discord.run_cooldown_s)
    third = (await run_code(alice, channel)).response

    refused = await bob.click(mine, label="Delete")
    assert refused.ephemeral and "or a moderator" in text_of(refused.response)
    early = await dave.click(third, label="Delete")  # not yet the tutor's moderator role
    assert early.ephemeral and "or a moderator" in text_of(early.response)
    await alice.click(mine, label="Delete")
    await carol.click(other, label="Delete")  # Manage Messages
    await boss.slash(channel, "mod settings role", role=tutors)
    await dave.click(third, label="Delete")  # the tutor's moderator role

    remaining = {m.id for m in channel.history()}
    assert not remaining & {mine.id, other.id, third.id}


async def test_everything_at_its_longest_still_fits_one_embed(env, runner):
    long_model = ModelInfo("m" * 200, "(None, " + "9, " * 300 + ")", "(None, 5)", 5, 5)
    runner.result = run_result(
        Status.ERROR,
        stdout="o" * 5000,
        stderr="e" * 5000,
        exception=ExceptionInfo("ValueError", "Expected something. " * 500, 30),
        models=(long_model,) * 20,
        explanation="Explained at length. " * 200,
        notes=tuple(f"note {i} " * 40 for i in range(20)),
        files=(FileInfo("loss.png", "image/png", PNG),),
    )
    _, channel, alice = world(env)

    message = (await run_code(alice, channel, LONG)).response

    embed = message.embeds[0]
    assert len(embed) <= 6000 and len(embed.description or "") <= 4096
    assert all(len(f.value) <= 1024 for f in embed.fields)
    assert (embed.description or "").count("```") % 2 == 0  # no code block cut open
    # A single line longer than the budget is cut, not left out.
    fields = {f.name: f.value for f in embed.fields}
    assert fields["stdout"].startswith("```\nooo") and fields["stderr"].endswith("eee\n```")


async def test_after_a_restart_older_results_say_to_run_again(env, runner, settings, bots):
    _, channel, alice = world(env)
    message = (await run_code(alice, channel)).response
    await restart(env, settings, bots, runner=runner)
    runner.env = env

    edit = await alice.click(message, label="Edit and run")
    assert edit.ephemeral and edit.modal is None
    assert "use /run again" in text_of(edit.response)
    await alice.click(message, label="Delete")  # needs nothing remembered
    assert message.id not in {m.id for m in channel.history()}
