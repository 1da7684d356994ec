"""The Telegram seam over Telethon: the owner's account over MTProto, and the calls of its login.

Telethon is imported inside the methods, so `import twin.session.telethon` stays cheap for
commands that never talk to Telegram.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from twin.clock import Clock, SystemClock
from twin.errors import AudioError, AuthError, Disconnected, FloodWait, TelegramError
from twin.session.base import TELEGRAM_TEXT_LIMIT, Action, CodeSent, Dialog
from twin.session.client import build_client, delete_session, secure_session, telegram_errors
from twin.session.inbox import Inbox
from twin.session.stickers import StickerSets
from twin.types import HistoryMessage, Me, Update, VoiceNote

if TYPE_CHECKING:
    from twin.config import Settings

log = logging.getLogger(__name__)


class TelethonTelegram:
    """A Telegram account through Telethon; implements both Telegram and LoginClient."""

    def __init__(self, client: Any, *, account: str = "default", session_path: Path | None = None,
                 clock: Clock | None = None) -> None:
        self._client = client
        self._account = account
        self._session_path = session_path
        self._clock = clock or SystemClock()
        self._me: Me | None = None
        self._inbox = Inbox(client, account, StickerSets(client).title)  # sticker set titles: one request a set
        self._last_catch_up: datetime | None = None
        if hasattr(client, "on_reconnect"):  # a CatchingUpClient: hear about the reconnects Telethon makes itself
            client.on_reconnect = self._reconnected

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock | None = None) -> TelethonTelegram:
        """The adapter for settings.account: its session file, api id/hash and server applied."""
        return cls(build_client(settings), account=settings.account, session_path=settings.session_path,
                   clock=clock)

    @property
    def client(self) -> Any:
        """The underlying TelegramClient (for diagnostics and tests)."""
        return self._client

    # --- Telegram ------------------------------------------------------------------------
    async def start(self) -> Me:
        """Connect with the saved session; AuthError when it is missing or revoked."""
        not_logged_in = AuthError(f"not logged in for account {self._account}: run `twin login`")
        if self._client.session.auth_key is None:
            raise not_logged_in  # no key was ever made: no need to reach the network to know
        from twin.session.convert import to_me

        self._inbox.prepare()
        try:
            await self._connect()
            with telegram_errors(self._account):
                user = await self._client.get_me()  # None when the key is unregistered or revoked
            if user is None:
                raise not_logged_in
        except BaseException:
            self._inbox.close()
            await self.disconnect()
            raise
        self._me = to_me(user)
        self._inbox.open(self._me.id)
        return self._me

    async def stop(self) -> None:
        """Disconnect (the session stays valid); incoming() ends."""
        self._inbox.close()
        await self.disconnect()

    def incoming(self) -> AsyncIterator[Update]:
        """New messages, incoming and outgoing, and edits, deletions and typing, until stop() or a lost
        connection (TelegramError)."""
        return self._inbox.messages()

    async def catch_up(self) -> None:
        """Ask for the difference: Telethon's update loop sends updates.getDifference and dispatches the result.

        Covers the account's updates (private chats and basic groups); a supergroup's own gaps are
        still found by Telethon itself.
        """
        with telegram_errors(self._account):
            await self._client.catch_up()
        self._last_catch_up = self._clock.now()

    @property
    def last_catch_up(self) -> datetime | None:
        """When the difference was last asked for (by catch_up() or after an automatic reconnect)."""
        return self._last_catch_up

    async def _reconnected(self) -> None:
        log.warning("Telethon reconnected to Telegram by itself; asking for missed updates")
        try:
            await self.catch_up()
        except TelegramError as exc:  # the daemon's safety net asks again
            log.warning("could not ask for missed updates after the reconnect: %s", exc)

    async def send_text(self, chat_id: int, text: str, *, random_id: int, reply_to: int | None = None) -> int:
        """Send one text message with the caller's random_id; its id, or 0 when delivered earlier."""
        from telethon.tl import functions

        from twin.session.convert import reply_header

        if not text.strip():
            raise TelegramError("MESSAGE_EMPTY")
        if len(text) > TELEGRAM_TEXT_LIMIT:
            raise TelegramError("MESSAGE_TOO_LONG")
        request = functions.messages.SendMessageRequest(
            peer=await self._peer(chat_id), message=text, random_id=random_id, reply_to=reply_header(reply_to))
        return await self._send_once(request)

    async def send_voice(self, chat_id: int, note: VoiceNote, *, random_id: int, reply_to: int | None = None) -> int:
        """Send an Ogg/Opus voice note with the caller's random_id; its id, or 0 when delivered earlier."""
        from telethon.tl import functions

        from twin.session.convert import reply_header, voice_media

        if not note.data.startswith(b"OggS"):
            raise AudioError("a voice note must be Ogg/Opus")
        peer = await self._peer(chat_id)
        with telegram_errors(self._account):
            file = await self._client.upload_file(note.data, file_name="voice.ogg")
        request = functions.messages.SendMediaRequest(
            peer=peer, media=voice_media(file, note), message="", random_id=random_id, reply_to=reply_header(reply_to))
        return await self._send_once(request)

    async def action(self, chat_id: int, action: Action) -> None:
        """Show (or cancel) "typing…" / "recording voice…" once; a FloodWait is only logged."""
        from telethon.tl import functions

        from twin.session.convert import ACTIONS

        request = functions.messages.SetTypingRequest(peer=await self._peer(chat_id), action=ACTIONS[action]())
        try:
            with telegram_errors(self._account):
                await self._client(request)
        except FloodWait as exc:  # typing is cosmetic: never hold a reply back for it
            log.info("chat action skipped: Telegram asks to wait %s s", exc.seconds)

    async def react(self, chat_id: int, message_id: int, emoji: str) -> None:
        """Set the owner's reaction on a message (messages.sendReaction); "" removes it."""
        from telethon.tl import functions, types

        reaction = [types.ReactionEmoji(emoticon=emoji)] if emoji else []
        request = functions.messages.SendReactionRequest(
            peer=await self._peer(chat_id), msg_id=message_id, reaction=reaction)
        with telegram_errors(self._account):
            await self._client(request)

    async def mark_read(self, chat_id: int, max_id: int) -> None:
        """Mark the chat read up to max_id."""
        peer = await self._peer(chat_id)
        with telegram_errors(self._account):
            await self._client.send_read_acknowledge(peer, max_id=max_id)

    async def history(self, chat_id: int, limit: int, min_id: int = 0) -> list[HistoryMessage]:
        """The chat's latest messages newer than min_id, oldest first, media as a line of words (see to_history)."""
        from twin.session.convert import to_history

        peer = await self._peer(chat_id)
        with telegram_errors(self._account):
            messages = await self._client.get_messages(peer, limit=limit, min_id=min_id)
        converted = (to_history(m, self._me.id if self._me else 0) for m in reversed(list(messages)))
        return [m for m in converted if m is not None]

    async def dialogs(self, limit: int) -> list[Dialog]:
        """The owner's dialogs, most recent first."""
        from twin.session.convert import to_dialog

        with telegram_errors(self._account):
            found = await self._client.get_dialogs(limit=limit)
        now = self._clock.now()
        return [to_dialog(d.entity, d.dialog, now) for d in found]

    async def download(self, chat_id: int, message_id: int, max_bytes: int) -> bytes:
        """The media of one message; TelegramError past max_bytes, checked before downloading."""
        from twin.session.convert import media_of

        peer = await self._peer(chat_id)
        with telegram_errors(self._account):
            message = await self._client.get_messages(peer, ids=message_id)
        media = media_of(message.media)[1] if message is not None else None
        if media is None:
            raise TelegramError(f"message {message_id} in chat {chat_id} has no downloadable media")
        if media.size > max_bytes:
            raise TelegramError(f"media is {media.size} bytes, over the {max_bytes} byte limit")
        with telegram_errors(self._account):
            data = await self._client.download_media(message, file=bytes)
        if not isinstance(data, bytes) or len(data) > max_bytes:
            raise TelegramError(f"media of message {message_id} could not be downloaded within {max_bytes} bytes")
        return data

    # --- LoginClient ---------------------------------------------------------------------
    async def connect(self) -> None:
        """Open the connection (no session needed)."""
        await self._connect()

    async def current_user(self) -> Me | None:
        """Who the saved session belongs to, or None when it is not authorised."""
        from twin.session.convert import to_me

        with telegram_errors(self._account):
            user = await self._client.get_me()
        return to_me(user) if user is not None else None

    async def send_code(self, phone: str) -> CodeSent:
        """Ask Telegram to send a login code."""
        from twin.session.convert import SENT_CODE_VIA

        with telegram_errors(self._account, login=True):
            sent = await self._client.send_code_request(phone)
        kind = type(sent.type).__name__
        if kind == "SentCodeTypeSetUpEmailRequired":
            raise AuthError("Telegram wants a login email set up first: log in once with an official app")
        return CodeSent(phone_code_hash=str(sent.phone_code_hash), via=SENT_CODE_VIA.get(kind, "telegram"))

    async def sign_in_code(self, phone: str, code: str, sent: CodeSent) -> Me | None:
        """Sign in with the code; None means the account has a 2FA password."""
        from telethon import errors

        from twin.session.convert import to_me

        with telegram_errors(self._account, login=True):
            try:
                user = await self._client.sign_in(phone=phone, code=code, phone_code_hash=sent.phone_code_hash)
            except errors.SessionPasswordNeededError:
                return None
        secure_session(self._session_path)
        return to_me(user)

    async def sign_in_password(self, password: str) -> Me:
        """Finish signing in with the 2FA password."""
        from twin.session.convert import to_me

        with telegram_errors(self._account, login=True):
            user = await self._client.sign_in(password=password)
        secure_session(self._session_path)
        return to_me(user)

    async def log_out(self) -> None:
        """End the session on the server and delete the session file."""
        with telegram_errors(self._account):
            if not await self._client.log_out():  # refused (already revoked): still close and forget it
                await self._client.disconnect()
        delete_session(self._session_path)

    async def disconnect(self) -> None:
        """Close the connection, saving the session."""
        try:
            await self._client.disconnect()
        finally:
            secure_session(self._session_path)

    # --- internals -----------------------------------------------------------------------
    async def _connect(self) -> None:
        session = self._client.session
        with telegram_errors(self._account):
            try:
                await self._client.connect()
            except OSError as exc:  # Telethon's ConnectionError after its retries, DNS, refused
                where = f"{session.server_address}:{session.port}"
                raise Disconnected(f"cannot reach Telegram at {where} ({type(exc).__name__})") from None
        secure_session(self._session_path)

    async def _peer(self, chat_id: int) -> Any:
        with telegram_errors(self._account):
            try:
                return await self._client.get_input_entity(chat_id)
            except ValueError:  # no access hash cached: Telegram never showed us this chat
                raise TelegramError(f"unknown chat {chat_id}") from None

    async def _send_once(self, request: Any) -> int:
        """One send through the MTProto sender; the caller retries, with the same random_id.

        Not `client(request)`: Telethon retries 5xx errors itself, and RANDOM_ID_DUPLICATE is a 500,
        so it would sleep 2 s six times and end in a bare ValueError instead of this answer.
        """
        from telethon import errors, utils

        from twin.session.convert import sent_message_id

        with telegram_errors(self._account):
            try:
                result = await self._client._sender.send(request)
            except errors.RandomIdDuplicateError:
                return 0  # an earlier attempt was delivered; its id is unknown
            await utils.maybe_async(self._client.session.process_entities(result))
        return sent_message_id(result, request.random_id)
