"""A tutor for transfer learning with TensorFlow/Keras, on Discord and in the terminal."""

from bot.settings import Settings

__all__ = ["Settings"]
