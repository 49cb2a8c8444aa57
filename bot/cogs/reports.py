""" "Report a problem with this question": the button under feedback, its modal, and the
submission. The quiz puts the button under feedback (``ReportButton``); everything else is here.

Like the answer modal, the report modal is stateless: its custom_id says which question, so a
submission is handled after a restart too.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import discord
from discord.ext import commands

from bot.cogs._handling import bot_of, handle
from bot.cogs.components import (
    QID,
    PersistentButton,
    custom_id,
    modal_value,
    stateless_modal,
    submitted,
    template,
)
from bot.cogs.render import learner, send_reply
from bot.tutor.reports import MAX_NOTE_CHARS, MIN_NOTE_CHARS

if TYPE_CHECKING:
    from bot.client import TutorBot

REPORT_MODAL = re.compile(template("rqm", (QID,)))
NOTE_FIELD = "note"


class ReportButton(PersistentButton, key="rq", parts=(QID,)):
    """Anyone who reads the feedback may report a problem with its question."""

    def __init__(self, qid: str) -> None:
        style = discord.ButtonStyle.secondary
        super().__init__(qid, label="Report a problem", emoji="🚩", style=style)
        self.qid = qid

    async def clicked(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(report_modal(self.qid))


def report_modal(qid: str) -> discord.ui.Modal:
    field: discord.ui.TextInput[Any] = discord.ui.TextInput(
        label="What is wrong with this question?",
        custom_id=NOTE_FIELD,
        style=discord.TextStyle.paragraph,
        placeholder="e.g. choice 2 is also right, because…",
        min_length=MIN_NOTE_CHARS,
        max_length=MAX_NOTE_CHARS,
    )
    return stateless_modal("Report a problem", custom_id("rqm", qid), field)


class QuestionReports(commands.Cog):
    def __init__(self, bot: TutorBot) -> None:
        self.bot = bot

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction) -> None:
        found = submitted(interaction, REPORT_MODAL)
        if found is None:
            return
        match, data = found
        note = modal_value(data, NOTE_FIELD) or ""

        async def report(i: discord.Interaction) -> None:
            reports = bot_of(i).services.reports
            # Private: a report is between the learner and the moderators.
            await send_reply(i, await reports.report(learner(i), match["qid"], note))

        await handle(interaction, report)


async def setup(bot: TutorBot) -> None:
    bot.add_dynamic_items(ReportButton)
    await bot.add_cog(QuestionReports(bot))
