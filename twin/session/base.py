"""The Telegram seam: what the twin needs from an account, in twin's own types."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from twin.media.describe import label_of
from twin.types import HistoryMessage, Me, Media, MessageKind, Update, VoiceNote

Action = Literal["typing", "record-audio", "cancel"]
TELEGRAM_TEXT_LIMIT = 4096


@dataclass(frozen=True, slots=True)
class Dialog:
    """A chat in the owner's dialog list."""

    chat_id: int
    title: str
    kind: str  # private | group | channel
    is_bot: bool = False
    muted: bool = False
    archived: bool = False
    username: str | None = None


@dataclass(frozen=True, slots=True)
class CodeSent:
    """Telegram sent a login code; `phone_code_hash` goes back with the code."""

    phone_code_hash: str
    via: str = "app"  # app | sms | call | ...


def history_message(message_id: int, date: datetime, outgoing: bool, caption: str, sender_id: int,
                    kind: MessageKind = "text", media: Media | None = None,
                    reaction: str = "") -> HistoryMessage | None:
    """A past message as a person sees it: a media line ("[photo]", "[sticker 😂]") before the caption.

    None for a message with nothing to show (a service message, an empty one).
    """
    if kind == "service":
        return None
    line = f"[{label_of(media or Media(kind))}]" if kind != "text" else ""
    text = "\n".join(x for x in (line, caption.strip()) if x)
    if not text:
        return None
    return HistoryMessage(message_id, date, outgoing, text, sender_id, kind, line, reaction)


class Telegram(Protocol):
    """A logged-in account: receive, send, and read history."""

    async def start(self) -> Me:
        """Connect with the saved session; AuthError when it is missing or revoked."""
        ...

    async def stop(self) -> None:
        """Disconnect (the session stays valid)."""
        ...

    def incoming(self) -> AsyncIterator[Update]:
        """New messages as they arrive, until stop() or a lost connection (TelegramError).

        Besides Incoming messages it may yield changes in the same order as Telegram delivered
        them: MessageEdited, MessagesDeleted (private chats: ids only) and ContactTyping.
        Outgoing messages come too, the twin's own sends included (Telegram does not tell them
        from the owner's writing on another device), at any time: with the send's answer, pushed
        later, or in a catch-up after a crash or a reconnect.
        """
        ...

    async def catch_up(self) -> None:
        """Ask Telegram for what this session missed (its difference); it arrives through incoming().

        A session the server has forgotten (after a server restart or a reconnect) gets no pushed
        updates until it asks. Cheap: returns at once, the answer comes as updates.
        """
        ...

    @property
    def last_catch_up(self) -> datetime | None:
        """When the difference was last asked for: by catch_up(), or after a reconnect the client made itself."""
        ...

    async def send_text(self, chat_id: int, text: str, *, random_id: int, reply_to: int | None = None) -> int:
        """Send one text message (at most 4,096 characters); returns its message id.

        The same random_id sent twice is delivered once by Telegram.
        """
        ...

    async def send_voice(self, chat_id: int, note: VoiceNote, *, random_id: int, reply_to: int | None = None) -> int:
        """Send an Ogg/Opus voice note; returns its message id."""
        ...

    async def action(self, chat_id: int, action: Action) -> None:
        """Show (or cancel) "typing…" / "recording voice…" once; the caller refreshes it."""
        ...

    async def react(self, chat_id: int, message_id: int, emoji: str) -> None:
        """Put the owner's reaction (one standard emoji) on a message; "" removes it."""
        ...

    async def mark_read(self, chat_id: int, max_id: int) -> None:
        """Mark the chat read up to max_id."""
        ...

    async def history(self, chat_id: int, limit: int, min_id: int = 0) -> list[HistoryMessage]:
        """The chat's latest messages newer than min_id, oldest first: every one a person sees, media as a
        short line of words ("[photo]", "[voice message 0:07]") with its kind, and the owner's reaction."""
        ...

    async def dialogs(self, limit: int) -> list[Dialog]:
        """The owner's dialogs, most recent first."""
        ...

    async def download(self, chat_id: int, message_id: int, max_bytes: int) -> bytes:
        """The media of one message (voice note, audio); TelegramError past max_bytes."""
        ...


class LoginClient(Protocol):
    """The calls of Telegram's login, for the flow in twin.session.login."""

    async def connect(self) -> None:
        """Open the connection (no session needed)."""
        ...

    async def current_user(self) -> Me | None:
        """Who the saved session belongs to, or None when it is not authorised."""
        ...

    async def send_code(self, phone: str) -> CodeSent:
        """Ask Telegram to send a login code."""
        ...

    async def sign_in_code(self, phone: str, code: str, sent: CodeSent) -> Me | None:
        """Sign in with the code; None means the account has a 2FA password."""
        ...

    async def sign_in_password(self, password: str) -> Me:
        """Finish signing in with the 2FA password."""
        ...

    async def log_out(self) -> None:
        """End the session on the server."""
        ...

    async def disconnect(self) -> None:
        """Close the connection, saving the session."""
        ...
