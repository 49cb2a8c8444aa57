"""A tutor for transfer learning with TensorFlow/Keras, on Discord and in the terminal."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.settings import Settings

if TYPE_CHECKING:
    from bot.client import create_bot

__all__ = ["Settings", "create_bot"]


def __getattr__(name: str) -> Any:
    # Lazy, so that `import bot` (the terminal chat, the content check) never imports discord.
    if name == "create_bot":
        from bot.client import create_bot

        return create_bot
    raise AttributeError(f"module 'bot' has no attribute {name!r}")
