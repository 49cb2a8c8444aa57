"""The study desk: what a frontend asks about where studying happens (``tutor.study``).

The rules are bot/tutor/study.py's; this reads and stores what they need (the server's settings,
the learner's choice, their study threads, where their last public question is) and words the
answers. Only the Discord frontend uses it: the terminal is a learner's own space already.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bot.tutor.replies import Kind, Reply
from bot.tutor.study import (
    Mode,
    Names,
    Room,
    ServerStudy,
    SettingsRefused,
    StudyStore,
    allowed_modes,
    choice_refusal,
    outside_study_channels,
    place,
)

if TYPE_CHECKING:
    from bot.tutor.moderator import Actor
    from bot.tutor.service import LearnerRef

MAX_STUDY_CHANNELS = 10
Where = tuple[str, str]  # (channel id, message id)


def _private(text: str, *, kind: Kind = Kind.INFO, title: str | None = None) -> Reply:
    return Reply(text=text, kind=kind, ephemeral=True, title=title)


class StudyDesk:
    def __init__(
        self,
        store: StudyStore,
        learner_id: Callable[[LearnerRef], Awaitable[int]],
        fallback: Mode | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """``learner_id``: the tutor's (a LearnerRef to the learner's id). ``fallback``: the
        bot's default mode for a server that chose none (None: automatic). ``now``: the
        tutor's clock (the time of a logged change)."""
        self.store = store
        self._id = learner_id
        self.fallback = fallback
        self.now = now

    async def _server(self, platform: str, guild_id: str) -> ServerStudy:
        server = await self.store.server(platform, guild_id)
        return server if server.default else replace(server, default=self.fallback)

    async def place(self, who: LearnerRef, room: Room) -> Mode | Reply:
        """The mode a question for ``who`` is asked in here, or the refusal (studying happens
        in other channels on this server)."""
        server = await self._server(who.platform, who.guild_id)
        refused = outside_study_channels(server, room)
        if refused is not None:
            return _private(refused, kind=Kind.ERROR)
        state = await self.store.state(await self._id(who))
        return place(server, state.mode, room)

    async def thread(self, who: LearnerRef, channel_id: str) -> str | None:
        return await self.store.thread(await self._id(who), channel_id)

    async def remember_thread(
        self, who: LearnerRef, channel_id: str, thread_id: str | None
    ) -> None:
        await self.store.save_thread(await self._id(who), channel_id, thread_id)

    async def replace_question(self, who: LearnerRef, where: Where | None) -> Where | None:
        """Remember ``where`` (channel id, message id) as the learner's current public question
        (None: a private one) and return the previous one, whose buttons should be closed."""
        learner = await self._id(who)
        before = await self.store.last_question(learner)
        if before != where:
            await self.store.save_last_question(learner, where)
        return before if before != where else None

    async def choose(self, who: LearnerRef, mode: Mode | None) -> Reply:
        """A learner's ``/settings study``: their own mode, within what the server allows."""
        server = await self._server(who.platform, who.guild_id)
        refused = choice_refusal(server, mode)
        if refused is not None:
            return _private(refused, kind=Kind.ERROR)
        learner = await self._id(who)
        state = await self.store.state(learner)
        await self.store.save_state(learner, replace(state, mode=mode))
        if mode is None:
            return _private("You study the way this server does by default.", title="Study mode")
        what = {
            Mode.THREAD: "in a study thread of your own in each channel",
            Mode.EPHEMERAL: "in messages only you can see",
            Mode.CHANNEL: "in the channel, where everyone sees your questions",
        }[mode]
        return _private(f"From your next /quiz on, you study {what}.", title="Study mode")

    async def server(self, platform: str, guild_id: str) -> Reply:
        settings = await self._server(platform, guild_id)
        return _private(settings.describe(), title="How this server studies")

    async def configure(
        self,
        actor: Actor,
        *,
        default: Mode | str = "keep",
        learners_choose: bool | None = None,
        add_channel: str | None = None,
        remove_channel: str | None = None,
        names: Names | None = None,
        reason: str = "",
    ) -> Reply:
        """``/mod settings study``: each option given changes its setting (``default`` "auto":
        automatic; "keep": unchanged); the result is shown. A change is a moderator action:
        logged with the settings before and after (``names``: channel id -> name, for the log)
        and undone by /mod undo."""
        # Imported here: bot.tutor.moderator imports the tutor service, which imports this.
        from bot.tutor.moderation import ActionKind
        from bot.tutor.moderator import MAX_REASON_CHARS, refusal

        if refused := refusal(actor, ActionKind.STUDY):
            return _private(refused, kind=Kind.ERROR)

        def change(settings: ServerStudy) -> ServerStudy:
            if isinstance(default, Mode):
                settings = replace(settings, default=default)
            elif default == "auto":
                settings = replace(settings, default=None)
            if learners_choose is not None:
                settings = replace(settings, learners_choose=learners_choose)
            channels = list(settings.channels)
            if add_channel is not None and add_channel not in channels:
                if len(channels) >= MAX_STUDY_CHANNELS:
                    raise SettingsRefused(
                        f"At most {MAX_STUDY_CHANNELS} study channels; remove one first."
                    )
                channels.append(add_channel)
            if remove_channel is not None and remove_channel in channels:
                channels.remove(remove_channel)
            return replace(settings, channels=tuple(channels))

        why = " ".join(reason.split())[:MAX_REASON_CHARS] or "no reason given"
        try:
            settings, action = await self.store.change_server(
                actor, change, names or {}, why, self.now()
            )
        except SettingsRefused as exc:
            return _private(str(exc), kind=Kind.ERROR)
        note = ""
        if settings.learners_choose:
            modes = ", ".join(sorted(allowed_modes(settings)))
            note = f"\nLearners may choose: {modes}."
        logged = (
            "\nNothing changed, so nothing was logged."
            if action is None
            else f"\nLogged as action #{action}; /mod undo {action} puts the previous ones back."
        )
        return _private(settings.describe() + note + logged, title="Study settings saved")
