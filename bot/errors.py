"""Errors whose message is written for the person using the tutor, on any frontend."""

from __future__ import annotations


class UserError(Exception):
    """Something the user can act on (wait, use another command). The message is safe to show."""


class ShuttingDown(UserError):
    def __init__(self) -> None:
        super().__init__("The tutor is restarting. Please try again in a minute.")
