"""/run once through the real sandboxed runner (bubblewrap, a TensorFlow worker)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.runner.pool import Runner
from bot.settings import Settings
from tests.discord.helpers import text_of, warm_runner, world
from tests.runner.helpers import PLOT_SNIPPET

pytestmark = pytest.mark.slow

CODE = """\
import tensorflow as tf
model = tf.keras.Sequential([tf.keras.Input((8,)), tf.keras.layers.Dense(5)])
print("built", model.output_shape)
model.summary(print_fn=lambda line: print("<@123> @everyone ```", line[:0]))
"""


@pytest.fixture
async def runner(settings: Settings) -> AsyncIterator[Runner]:
    async with warm_runner(settings) as runner:
        yield runner


@pytest.mark.simcord(settle_timeout=300)
async def test_run_with_the_real_runner(env, runner):
    _, channel, alice = world(env)

    opened = await alice.slash(channel, "run")
    submitted = await alice.submit_modal(opened, {"code": CODE})

    assert submitted.acknowledged
    message = submitted.response
    text = text_of(message)
    assert "✅ Ran successfully" in text, text
    assert "model: output (None, 5)" in text and "(input (None, 8))" in text
    assert "built (None, 5)" in text
    assert "45 params" in text
    # What the snippet printed cannot ping or break out of its code block.
    stdout = next(f.value for f in message.embeds[0].fields if f.name == "stdout")
    assert "```" not in stdout.removeprefix("```\n").removesuffix("\n```")


@pytest.mark.simcord(settle_timeout=300)
async def test_plots_files_and_the_layer_table_with_the_real_runner(env, runner, settings):
    _, channel, alice = world(env)

    opened = await alice.slash(channel, "run")
    message = (await alice.submit_modal(opened, {"code": PLOT_SNIPPET})).response

    text = text_of(message)
    assert "✅ Ran successfully" in text and "MiB over the warm worker's" in text
    assert [a.filename for a in message.attachments] == ["history.csv", "loss.png"]
    png = next(a for a in message.attachments if a.filename == "loss.png")
    assert (await png.read()).startswith(b"\x89PNG")
    assert message.embeds[0].image.url == "attachment://loss.png"
    assert "Dense layer on a 4-D feature map" in text

    table = await alice.click(message, label="Layers")

    shown = text_of(table.response)
    assert table.ephemeral and "conv2d" in shown and "(None, 6, 6, 4)" in shown
    assert "▶ dense" in shown and "(None, 6, 6, 2)" in shown

    await env.advance_time(settings.discord.run_cooldown_s)
    opened = await alice.slash(channel, "run")
    asked = (await alice.submit_modal(opened, {"code": "size = int(input())\n"})).response
    assert "input() on line 1 waits for someone to type" in text_of(asked)
