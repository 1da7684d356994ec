"""Telethon's edit, deletion and typing events -> twin's change values. Pure: no I/O.

Imported by the inbox's handlers only, once Telethon is loaded anyway.
"""

from __future__ import annotations

from typing import Any

from telethon import events
from telethon.tl import types

from twin.session.convert import utc
from twin.types import Change, ContactTyping, MessageEdited, MessagesDeleted

# Someone composing a message: typing, recording or uploading something to send.
COMPOSING = (
    types.SendMessageTypingAction, types.SendMessageRecordAudioAction, types.SendMessageRecordRoundAction,
    types.SendMessageRecordVideoAction, types.SendMessageUploadAudioAction, types.SendMessageUploadRoundAction,
    types.SendMessageUploadPhotoAction, types.SendMessageUploadVideoAction, types.SendMessageUploadDocumentAction,
)


def _chat_id(event: Any) -> int | None:
    chat_id = event.chat_id
    return int(chat_id) if chat_id is not None else None


def edited(event: Any) -> MessageEdited:
    """A MessageEdited event (the new text; its date is the edit's)."""
    message = event.message
    return MessageEdited(_chat_id(event), int(message.id), str(message.message or ""),
                         utc(message.edit_date or message.date), bool(message.out))


def deleted(event: Any) -> MessagesDeleted:
    """A MessageDeleted event: private chats and basic groups give only ids (chat_id None), channels their id."""
    return MessagesDeleted(_chat_id(event), tuple(int(i) for i in event.deleted_ids or ()))


def typing(event: Any) -> ContactTyping | None:
    """A UserUpdate about composing or cancelling; None for the other kinds (online status, games)."""
    action = getattr(event, "action", None)
    if action is None or event.chat_id is None:
        return None
    if isinstance(action, types.SendMessageCancelAction):
        return ContactTyping(int(event.chat_id), int(event.user_id or 0), active=False)
    if isinstance(action, COMPOSING):
        return ContactTyping(int(event.chat_id), int(event.user_id or 0))
    return None


def to_change(event: Any) -> Change | None:
    """Any of the three events as a change; None when it is nothing the twin acts on."""
    if isinstance(event, events.MessageEdited.Event):
        return edited(event)
    if isinstance(event, events.MessageDeleted.Event):
        return deleted(event)
    if isinstance(event, events.UserUpdate.Event):
        return typing(event)
    return None
