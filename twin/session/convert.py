"""Telethon objects -> twin's frozen values. Pure: no I/O, no filtering (twin.engine.rules decides).

Imported by the Telethon adapter only, so its module-level Telethon import is paid once Telethon
is needed anyway.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from telethon import utils
from telethon.tl import types

from twin.session.base import Dialog, history_message
from twin.session.media import media_of, sticker_set, with_set_title
from twin.types import ChatKind, HistoryMessage, Incoming, Me, VoiceNote

__all__ = [
    "event_to_incoming", "media_of", "owner_reaction", "reply_header", "sent_message_id", "to_dialog", "to_history",
    "to_incoming", "to_me", "voice_media",
]

ARCHIVE_FOLDER = 1
# How Telegram delivered the login code, by the class name of auth.SentCode.type.
SENT_CODE_VIA = {
    "SentCodeTypeApp": "app", "SentCodeTypeSms": "sms", "SentCodeTypeSmsWord": "sms",
    "SentCodeTypeSmsPhrase": "sms", "SentCodeTypeFirebaseSms": "sms", "SentCodeTypeCall": "call",
    "SentCodeTypeFlashCall": "flash call", "SentCodeTypeMissedCall": "missed call",
    "SentCodeTypeEmailCode": "email", "SentCodeTypeFragmentSms": "fragment",
}
ACTIONS = {"typing": types.SendMessageTypingAction, "record-audio": types.SendMessageRecordAudioAction,
           "cancel": types.SendMessageCancelAction}
SetTitle = Callable[[Any], Awaitable[str]]  # a sticker set reference -> its title, "" when unknown


def utc(when: datetime | None) -> datetime:
    """An aware UTC datetime (Telethon's are already UTC; naive ones are taken as UTC)."""
    if when is None:
        return datetime.fromtimestamp(0, UTC)
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def display_name(entity: Any) -> str:
    """A user's full name or a chat's title; empty for None or a deleted account."""
    return str(utils.get_display_name(entity)) if entity is not None else ""


def username(entity: Any) -> str | None:
    """The public @username (the first active one for collectible usernames), without the @."""
    name = getattr(entity, "username", None)
    if name:
        return str(name)
    for extra in getattr(entity, "usernames", None) or []:
        if getattr(extra, "active", False):
            return str(extra.username)
    return None


def to_me(user: Any) -> Me:
    """The logged-in Telethon User as Me."""
    return Me(id=int(user.id), name=display_name(user) or str(user.id), username=username(user))


def chat_kind(peer: Any, chat: Any = None, post: bool = False) -> ChatKind:
    """private | group | channel; a megagroup (supergroup) is a group, a broadcast channel a channel."""
    if isinstance(peer, types.PeerUser):
        return "private"
    if isinstance(peer, types.PeerChat):
        return "group"
    broadcast = getattr(chat, "broadcast", None)
    if broadcast is not None:
        return "channel" if broadcast else "group"
    return "channel" if post else "group"  # no entity: only broadcast channels carry `post`


def sender_id(message: Any, self_id: int) -> int:
    """Who wrote it: from_id, else the owner for outgoing, else the chat (private peer or channel post)."""
    if message.from_id is not None:
        return int(utils.get_peer_id(message.from_id))
    if message.out:
        return self_id
    return int(utils.get_peer_id(message.peer_id))


def reply_to_id(message: Any) -> int | None:
    """The id of the message in this chat that this one answers, if any."""
    header = message.reply_to
    if not isinstance(header, types.MessageReplyHeader) or header.reply_to_msg_id is None:
        return None
    if header.forum_topic and header.reply_to_top_id is None:
        return None  # only says which forum topic the message is in
    if header.reply_to_peer_id is not None and utils.get_peer_id(header.reply_to_peer_id) != utils.get_peer_id(
        message.peer_id
    ):
        return None  # a reply to a message of another chat: its id means nothing here
    return int(header.reply_to_msg_id)


def quote_text(message: Any) -> str:
    """The part of the replied-to message the sender selected as a quote, if they did."""
    header = message.reply_to
    if not isinstance(header, types.MessageReplyHeader):
        return ""
    return str(header.quote_text or "")


def forwarded_from(message: Any, origin: Any = None) -> str:
    """Who a forwarded message comes from: the original author's or chat's name when known."""
    header = getattr(message, "fwd_from", None)
    if header is None:
        return ""
    if header.from_name:
        return str(header.from_name)  # an account that hides itself in forwards
    name = display_name(origin)
    if name and header.post_author:
        return f"{name} ({header.post_author})"
    if name:
        return name
    if isinstance(header.from_id, types.PeerChannel):
        return "a channel"
    return "someone"


def _origin(message: Any) -> Any:
    """The forward's original author or chat, from the entities Telegram sent with the update."""
    forward = getattr(message, "forward", None)  # set by Telethon when it finishes the message
    if forward is None:
        return None
    return forward.sender or forward.chat


def to_incoming(message: Any, *, self_id: int, sender: Any = None, chat: Any = None) -> Incoming:
    """A Telethon Message or MessageService (with its sender and chat entities, when known) as Incoming."""
    service = isinstance(message, types.MessageService)
    kind, media = ("service", None) if service else media_of(message.media)
    who = sender_id(message, self_id)
    peer = message.peer_id
    kind_of_chat = chat_kind(peer, chat, bool(message.post))
    if chat is None and kind_of_chat == "private":
        chat = sender if not message.out else None
    return Incoming(
        chat_id=int(utils.get_peer_id(peer)),
        message_id=int(message.id),
        sender_id=who,
        date=utc(message.date),
        text="" if service else str(message.message or ""),
        kind=kind,
        chat_kind=kind_of_chat,
        chat_title=display_name(chat),
        sender_name=display_name(sender),
        sender_username=username(sender),
        reply_to=reply_to_id(message),
        outgoing=bool(message.out),
        sender_is_bot=isinstance(sender, types.User) and bool(sender.bot),
        sender_is_self=who == self_id or bool(getattr(sender, "is_self", False)),
        sender_is_contact=isinstance(sender, types.User) and bool(sender.contact),
        sender_phone=str(sender.phone) if isinstance(sender, types.User) and sender.phone else None,
        mentioned=bool(message.mentioned),
        media=media,
        forwarded_from="" if service else forwarded_from(message, _origin(message)),
        quote="" if service else quote_text(message),
    )


async def event_to_incoming(event: Any, self_id: int, set_title: SetTitle | None = None) -> Incoming:
    """A NewMessage event as Incoming; sender and chat come from the update, else one lookup each.

    set_title (twin.session.stickers) names a sticker's set; without it, or when it fails, the emoji stays alone.
    """
    message = event.message
    sender = message.sender or await _quietly(event.get_sender())
    chat = message.chat or await _quietly(event.get_chat())
    found = to_incoming(message, self_id=self_id, sender=sender, chat=chat)
    if found.kind != "sticker" or found.media is None or set_title is None:
        return found
    title = await _quietly(set_title(sticker_set(message.media)))
    return replace(found, media=with_set_title(found.media, str(title))) if title else found


async def _quietly(lookup: Any) -> Any:
    """An entity lookup that may fail (offline, unknown user): the message matters more than a name."""
    try:
        return await lookup
    except Exception:  # any failure only costs the name and flags
        return None


def owner_reaction(reactions: Any) -> str:
    """The reaction the owner put on a message: its emoji, "custom" for a custom or paid one, "" for none.

    Telegram marks the current user's own reactions with chosen_order (absent in a "min" summary).
    """
    if not isinstance(reactions, types.MessageReactions):
        return ""
    chosen = sorted((r for r in reactions.results or [] if r.chosen_order is not None), key=lambda r: r.chosen_order)
    if not chosen:
        return ""
    first = chosen[0].reaction
    return str(first.emoticon) if isinstance(first, types.ReactionEmoji) else "custom"


def to_history(message: Any, self_id: int) -> HistoryMessage | None:
    """A past message as HistoryMessage (media as a line of words, see history_message); None for service
    messages."""
    if isinstance(message, types.MessageService):
        return None
    kind, media = media_of(message.media)
    return history_message(int(message.id), utc(message.date), bool(message.out), str(message.message or ""),
                           sender_id(message, self_id), kind, media, owner_reaction(message.reactions))


def to_dialog(entity: Any, dialog: Any, now: datetime) -> Dialog:
    """A dialog-list entry: muted while notify_settings.mute_until is in the future, archived in folder 1."""
    settings = getattr(dialog, "notify_settings", None)
    mute_until = getattr(settings, "mute_until", None)
    if isinstance(entity, types.User):
        kind: ChatKind = "private"
    elif isinstance(entity, types.Channel | types.ChannelForbidden):
        kind = "channel" if entity.broadcast else "group"
    else:
        kind = "group"
    return Dialog(
        chat_id=int(utils.get_peer_id(entity)),
        title=display_name(entity),
        kind=kind,
        is_bot=isinstance(entity, types.User) and bool(entity.bot),
        muted=isinstance(mute_until, datetime) and utc(mute_until) > now,
        archived=getattr(dialog, "folder_id", None) == ARCHIVE_FOLDER,
        username=username(entity),
    )


def sent_message_id(result: Any, random_id: int) -> int:
    """The id of the message a send created, from Telegram's updates; 0 when they do not say."""
    if isinstance(result, types.UpdateShortSentMessage):
        return int(result.id)
    updates = [result.update] if isinstance(result, types.UpdateShort) else list(getattr(result, "updates", []))
    for update in updates:
        if isinstance(update, types.UpdateMessageID) and update.random_id == random_id:
            return int(update.id)
    for update in updates:
        if isinstance(update, types.UpdateNewMessage | types.UpdateNewChannelMessage) and update.message.out:
            return int(update.message.id)
    return 0


def reply_header(message_id: int | None) -> Any:
    """The reply_to of a send that quotes message_id; None for a plain message."""
    return types.InputReplyToMessage(reply_to_msg_id=message_id) if message_id else None


def voice_media(file: Any, note: VoiceNote) -> Any:
    """The uploaded Ogg/Opus file as a voice note to send: its duration and waveform (levels 0..31)."""
    levels = bytes(min(31, max(0, int(v))) for v in note.waveform)
    audio = types.DocumentAttributeAudio(duration=max(1, int(round(note.duration_s))), voice=True,
                                         waveform=utils.encode_waveform(levels) if levels else None)
    return types.InputMediaUploadedDocument(file=file, mime_type="audio/ogg", attributes=[audio])
