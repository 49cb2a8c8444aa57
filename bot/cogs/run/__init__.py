"""Running snippets: /run, the "Run snippet" message command, and "Run it" under feedback."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.cogs.components import RunIt
from bot.cogs.run._buttons import DYNAMIC_ITEMS
from bot.cogs.run._cog import Run
from bot.cogs.run._views import run_question

if TYPE_CHECKING:
    from bot.client import TutorBot


async def setup(bot: TutorBot) -> None:
    RunIt.run_question = run_question
    bot.add_dynamic_items(RunIt, *DYNAMIC_ITEMS)
    await bot.add_cog(Run(bot))
