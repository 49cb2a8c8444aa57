"""Running snippets: /run, the "Run snippet" message command, and "Run it" under feedback."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.cogs.run._cog import Run
from bot.cogs.run._views import RunQuestionButton

if TYPE_CHECKING:
    from bot.client import TutorBot


async def setup(bot: TutorBot) -> None:
    bot.add_dynamic_items(RunQuestionButton)
    await bot.add_cog(Run(bot))
