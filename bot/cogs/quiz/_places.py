"""Where a question goes: the learner's study thread, a message only they see, or the channel
(bot/tutor/study.py decides; this does the Discord part).

Slash commands that ask a question defer privately, so that a refusal (or anything that goes
wrong) stays private; the question then goes to its place and the private "thinking…" becomes a
pointer to it (thread), the question itself (ephemeral), or is deleted (channel). A click that
asks a question (Skip, Next) was deferred silently: the question follows the same rule.
"""

from __future__ import annotations

import logging

import discord

from bot.cogs._handling import bot_of
from bot.cogs.render import THINKING, embed_for, learner, send, send_reply
from bot.tutor.replies import Reply
from bot.tutor.study import Mode, Room, thread_name

log = logging.getLogger(__name__)

REPLACED = "-# ⏭️ Replaced by a newer question: its buttons are closed."


def room_of(interaction: discord.Interaction) -> Room:
    """Where the interaction came from, and what the bot may do there."""
    channel = interaction.channel
    allowed = interaction.app_permissions
    # Study threads are made in text channels (not in a voice channel's chat, nor a forum).
    threads = isinstance(channel, discord.TextChannel) and allowed.send_messages_in_threads
    return Room(
        channel_id=str(interaction.channel_id),
        parent_id=str(channel.parent_id) if isinstance(channel, discord.Thread) else None,
        private_threads=threads and allowed.create_private_threads,
        public_threads=threads and allowed.create_public_threads,
    )


async def mode_for(interaction: discord.Interaction) -> Mode | Reply:
    """The study mode here, or a refusal to send (privately). Direct messages are private
    already: the question goes there."""
    if interaction.guild_id is None:
        return Mode.CHANNEL
    tutor = bot_of(interaction).services.tutor
    return await tutor.study.place(learner(interaction), room_of(interaction))


def attribution(interaction: discord.Interaction, ephemeral: bool) -> str | None:
    """Who a public message is for: a mention (which pings no one: the client's
    allowed_mentions is none). A private message needs none."""
    return None if ephemeral else interaction.user.mention


async def _study_thread(interaction: discord.Interaction, room: Room) -> discord.Thread:
    """The learner's study thread in this channel: the one they have (unarchived if need be),
    or a new one, private where the bot may create private threads."""
    tutor = bot_of(interaction).services.tutor
    who = learner(interaction)
    channel = interaction.channel
    assert isinstance(channel, discord.TextChannel)  # place() gives THREAD in channels only
    known = await tutor.study.thread(who, room.channel_id)
    if known is not None:
        found = channel.guild.get_thread(int(known))
        if found is None:
            try:
                fetched = await bot_of(interaction).fetch_channel(int(known))
            except (discord.NotFound, discord.Forbidden):
                fetched = None
            found = fetched if isinstance(fetched, discord.Thread) else None
        if found is not None and not found.locked:
            if found.archived:
                await found.edit(archived=False)
            if found.is_private():  # they may have left it: then they could not see it
                await found.add_user(interaction.user)
            return found
    kind = (
        discord.ChannelType.private_thread
        if room.private_threads
        else discord.ChannelType.public_thread
    )
    thread = await channel.create_thread(
        name=thread_name(interaction.user.display_name),
        type=kind,
        invitable=False,
        auto_archive_duration=1440,
    )
    await thread.add_user(interaction.user)
    await tutor.study.remember_thread(who, room.channel_id, str(thread.id))
    return thread


async def _close_replaced(interaction: discord.Interaction, where: tuple[str, str]) -> None:
    """Take the buttons off the learner's previous public question and say why."""
    channel = bot_of(interaction).get_partial_messageable(int(where[0]))
    try:
        await channel.get_partial_message(int(where[1])).edit(content=REPLACED, view=None)
    except discord.HTTPException as exc:  # deleted, or no longer reachable: nothing to close
        log.info("could not close a replaced question: %s", exc.text)


async def _remember(interaction: discord.Interaction, message: discord.Message | None) -> None:
    where = (str(message.channel.id), str(message.id)) if message is not None else None
    tutor = bot_of(interaction).services.tutor
    before = await tutor.study.replace_question(learner(interaction), where)
    if before is not None:
        await _close_replaced(interaction, before)


async def present(
    interaction: discord.Interaction,
    reply: Reply,
    view: discord.ui.View,
    mode: Mode,
) -> None:
    """Send a question (with ``view``, its buttons) to its place for ``mode``."""
    embed = embed_for(reply)
    embed.set_footer(
        text="Click the number of your answer." if reply.choices else "Click Answer to type it."
    )
    thinking = interaction.extras.get(THINKING) is not None
    if mode is Mode.EPHEMERAL:
        await send(interaction, embed=embed, ephemeral=True, view=view)
        await _remember(interaction, None)
        return
    if mode is Mode.CHANNEL:
        if thinking:
            # A follow-up sent while the private "thinking…" is open would replace it, and
            # stay private: close it first, post the question, then remove it.
            interaction.extras.pop(THINKING, None)
            await interaction.edit_original_response(content="⬇️", embed=None)
        mention = interaction.user.mention if interaction.guild_id else ""
        message = await interaction.followup.send(
            content=mention, embed=embed, view=view, wait=True
        )
        if thinking:
            await interaction.delete_original_response()
        await _remember(interaction, message)
        return
    thread = await _study_thread(interaction, room_of(interaction))
    posted = await thread.send(content=interaction.user.mention, embed=embed, view=view)
    pointer = Reply(text=f"Your question is in {thread.mention}.", ephemeral=True)
    await send_reply(interaction, pointer)
    await _remember(interaction, posted)
