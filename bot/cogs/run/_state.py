"""What the buttons under a result need and Discord does not keep: the code it ran (to edit
it), its models' layers (to show them on demand), and which message a "Run snippet" result
answers (to update it when that message is edited and run again).

Kept in memory, per bot, for the last RECENT results (code at most 4,000 characters, layers at
most 300 rows a model): after a restart the buttons of older results say so instead.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from weakref import WeakKeyDictionary

import discord

from bot.runner.result import ModelInfo

RECENT = 500


@dataclass(frozen=True)
class Ran:
    code: str
    owner: int
    title: str | None
    models: tuple[ModelInfo, ...]
    source: int | None = None  # the message a "Run snippet" ran


class RecentRuns:
    def __init__(self, size: int = RECENT) -> None:
        self.size = size
        self._runs: OrderedDict[int, Ran] = OrderedDict()
        self._by_source: dict[int, int] = {}

    def add(self, message_id: int, ran: Ran) -> None:
        self._runs[message_id] = ran
        self._runs.move_to_end(message_id)
        if ran.source is not None:
            self._by_source[ran.source] = message_id
        while len(self._runs) > self.size:
            _, old = self._runs.popitem(last=False)
            if old.source is not None and self._by_source.get(old.source) not in self._runs:
                self._by_source.pop(old.source, None)

    def get(self, message_id: int) -> Ran | None:
        return self._runs.get(message_id)

    def result_of(self, source: int) -> int | None:
        """The result message of the last "Run snippet" on message ``source``."""
        return self._by_source.get(source)

    def forget(self, message_id: int) -> None:
        ran = self._runs.pop(message_id, None)
        if ran is not None and ran.source is not None:
            self._by_source.pop(ran.source, None)


_RECENT: WeakKeyDictionary[discord.Client, RecentRuns] = WeakKeyDictionary()


def recent_runs(client: discord.Client) -> RecentRuns:
    found = _RECENT.get(client)
    if found is None:
        found = _RECENT[client] = RecentRuns()
    return found
