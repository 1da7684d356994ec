"""Frozen values that cross seams. No SDK object ever leaves its adapter."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

ChatKind = Literal["private", "group", "channel"]
MessageKind = Literal[
    "text", "voice", "audio", "video_note", "photo", "video", "animation", "sticker", "document", "link",
    "location", "venue", "contact", "poll", "dice", "service", "other",
]
Role = Literal["user", "assistant"]
Status = Literal[
    "waiting", "composing", "sending", "answered", "skipped", "failed",
    "cancelled", "needs_owner", "blocked", "stale", "reacted", "no_reply",
]


@dataclass(frozen=True, slots=True)
class Media:
    """What an incoming message carries besides text (enough to decide and download)."""

    kind: MessageKind
    mime: str = ""
    size: int = 0
    duration_s: float = 0.0
    label: str = ""  # one line saying what it is, without brackets: 'sticker 😂', 'file "a.pdf" (PDF, 1.2 MB)'


@dataclass(frozen=True, slots=True)
class Incoming:
    """One message seen on the account, converted at the Telegram boundary."""

    chat_id: int
    message_id: int
    sender_id: int
    date: datetime
    text: str
    kind: MessageKind = "text"
    chat_kind: ChatKind = "private"
    chat_title: str = ""
    sender_name: str = ""
    sender_username: str | None = None
    reply_to: int | None = None
    outgoing: bool = False  # written by the owner (from any device)
    sender_is_bot: bool = False
    sender_is_self: bool = False
    sender_is_contact: bool = False
    sender_phone: str | None = None  # only for allow/deny matching; never stored
    mentioned: bool = False
    media: Media | None = None
    forwarded_from: str = ""  # a forward: who or which chat it comes from ("someone" when hidden)
    quote: str = ""  # a reply: the part of the replied-to message the contact quoted, when they did


@dataclass(frozen=True, slots=True)
class Me:
    """The logged-in owner."""

    id: int
    name: str
    username: str | None = None


@dataclass(frozen=True, slots=True)
class HistoryMessage:
    """A message of a chat's past, as Telegram returns it."""

    message_id: int
    date: datetime
    outgoing: bool
    text: str  # what a person sees in words: the media line ("[photo]") first, then the caption
    sender_id: int = 0
    kind: MessageKind = "text"
    media: str = ""  # the media line alone ("[sticker 😂]", "[voice message 0:07]"); "" for plain text
    reaction: str = ""  # the owner's own reaction on this message ("" when none or not known)

    @property
    def words(self) -> str:
        """What the sender wrote themselves: the text without its media line (a caption, or "")."""
        if self.media and self.text.startswith(self.media):
            return self.text[len(self.media):].strip()
        return self.text


@dataclass(frozen=True, slots=True)
class Image:
    """An image for a vision model: already downscaled, JPEG (or PNG), as bytes."""

    mime: str
    data: bytes
    source: str = ""  # what it shows for the record: "photo", "frame of a video"


@dataclass(frozen=True, slots=True)
class PromptMessage:
    role: Role
    text: str
    images: tuple[Image, ...] = ()  # shown with the text to a model that can see them


@dataclass(frozen=True, slots=True)
class Prompt:
    """Everything a model sees: a system instruction and the turns in order.

    structured: the model must answer with one JSON object of CHOICE_SCHEMA (adapters that can
    ask their provider for JSON do so; the caller parses and validates the answer either way).
    """

    system: str
    messages: tuple[PromptMessage, ...]
    structured: bool = False


# The structured answer of a turn: reply with text, react with one emoji, or do nothing.
CHOICE_ACTIONS = ("reply", "react", "nothing")
CHOICE_SCHEMA: dict[str, object] = {
    "type": "object",
    "properties": {
        "action": {"type": "string", "enum": list(CHOICE_ACTIONS)},
        "text": {"type": "string"},
        "emoji": {"type": "string"},
        "reason": {"type": "string"},
    },
    "required": ["action", "text", "emoji", "reason"],
    "additionalProperties": False,
}


@dataclass(frozen=True, slots=True)
class Completion:
    """A model's answer; text is None when it returned nothing or was blocked (reason says)."""

    text: str | None
    provider: str
    model: str
    reason: str = ""
    tokens_in: int = 0
    tokens_out: int = 0
    images: int = 0  # image parts the model was sent (0: it saw none)


@dataclass(frozen=True, slots=True)
class VoiceNote:
    """A Telegram-ready voice note: Ogg/Opus mono 48 kHz, its duration and waveform."""

    data: bytes
    duration_s: float
    waveform: tuple[int, ...] = field(default=())  # levels 0..31


@dataclass(frozen=True, slots=True)
class Turn:
    """One stored turn: what came in, what the twin did, and why."""

    id: int
    account: str
    chat_id: int
    chat_title: str
    sender_id: int
    sender_name: str
    incoming_ids: tuple[int, ...]
    incoming_text: str
    kind: str
    status: str
    reason: str
    received_at: datetime
    reply_text: str | None = None
    reply_ids: tuple[int, ...] = ()
    provider: str = ""
    model: str = ""
    tokens_in: int = 0
    tokens_out: int = 0
    sent_at: datetime | None = None
    transcript: str | None = None
    voice: bool = False
    random_id: int | None = None
    attempts: int = 0
    due_at: datetime | None = None
    extra: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether and when to answer a message, and the rule behind it."""

    answer: bool
    reason: str
    due_at: datetime | None = None
    status: str = "skipped"  # the status of a turn that is not answered
    pause_until: datetime | None = None  # pause the chat (loop guard) until then
    deferred: bool = False  # outside working hours: answered after opening
    away: bool = False  # outside working hours: answered with the away message


def media_json(media: Media) -> dict[str, object]:
    """A Media as JSON-ready data (stored in a turn's extra["media"])."""
    found: dict[str, object] = {"kind": media.kind, "mime": media.mime, "size": media.size,
                                "duration_s": media.duration_s}
    if media.label:
        found["label"] = media.label
    return found


def media_from_json(value: object) -> Media | None:
    """The Media that media_json stored; None for anything else."""
    if not isinstance(value, dict) or not isinstance(value.get("kind"), str):
        return None
    try:
        return Media(value["kind"], str(value.get("mime", "")), int(value.get("size", 0)),
                     float(value.get("duration_s", 0.0)), str(value.get("label", "")))
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True, slots=True)
class MessageEdited:
    """A message was edited. chat_id is None when Telegram did not say (never for edits in practice)."""

    chat_id: int | None
    message_id: int
    text: str
    date: datetime
    outgoing: bool = False


@dataclass(frozen=True, slots=True)
class MessagesDeleted:
    """Messages were deleted. Private-chat deletions carry only ids: chat_id is None (map via the store)."""

    chat_id: int | None
    ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ContactTyping:
    """Someone is typing (or recording) in a chat; active False: they stopped."""

    chat_id: int
    user_id: int
    active: bool = True


# What the Telegram seam's incoming() yields: new messages and changes to the chat.
Change = MessageEdited | MessagesDeleted | ContactTyping
Update = Incoming | MessageEdited | MessagesDeleted | ContactTyping


def turn_json(turn: Turn) -> dict[str, object]:
    """A turn as JSON-ready data with stable keys (for --json and export)."""
    return {
        "id": turn.id,
        "account": turn.account,
        "chat_id": turn.chat_id,
        "chat": turn.chat_title,
        "sender_id": turn.sender_id,
        "sender": turn.sender_name,
        "incoming_ids": list(turn.incoming_ids),
        "incoming": turn.incoming_text,
        "kind": turn.kind,
        "transcript": turn.transcript,
        "status": turn.status,
        "reason": turn.reason,
        "reply": turn.reply_text,
        "reply_ids": list(turn.reply_ids),
        "voice": turn.voice,
        "provider": turn.provider,
        "model": turn.model,
        "tokens_in": turn.tokens_in,
        "tokens_out": turn.tokens_out,
        "received_at": turn.received_at.isoformat(),
        "sent_at": turn.sent_at.isoformat() if turn.sent_at else None,
        "extra": turn.extra,
    }
