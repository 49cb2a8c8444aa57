"""The quiz: questions with answer buttons, hints, skipping, short answers in a modal."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.cogs.quiz._cog import Quiz
from bot.cogs.quiz._views import DYNAMIC_ITEMS, ask

__all__ = ["Quiz", "ask", "setup"]

if TYPE_CHECKING:
    from bot.client import TutorBot


async def setup(bot: TutorBot) -> None:
    bot.add_dynamic_items(*DYNAMIC_ITEMS)
    await bot.add_cog(Quiz(bot))
