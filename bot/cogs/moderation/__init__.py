"""/mod: moderator commands (learner reports, reset, exclusion, undo, log, CSV export)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.cogs.moderation._cog import Moderation

if TYPE_CHECKING:
    from bot.client import TutorBot


async def setup(bot: TutorBot) -> None:
    await bot.add_cog(Moderation(bot))
