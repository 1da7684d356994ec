"""A local stand-in for Telegram: try twin end to end with no account and no network.

Everything lives in data/sandbox/<account>/events.jsonl, one JSON object a line, shared by
`twin sandbox say` (a contact writes) and the daemon (the twin answers). Message ids are line
numbers, so they grow like a private chat's. Log in with any phone number and code 12345.

As inconvenient as Telegram: the twin's own sends come back through incoming() as outgoing
messages, looking exactly like the owner writing from another device; a "forgotten" session
(`twin sandbox forget`) gets nothing pushed until it asks for the difference (catch_up); a dropped
connection (`twin sandbox drop`) fails every call for a while, and a send caught by the drop may
have been delivered with its answer lost.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from twin.errors import AuthError, CodeInvalid, Disconnected, PhoneInvalid, TelegramError
from twin.media.describe import duration
from twin.session.base import Action, CodeSent, Dialog, history_message
from twin.session.sandbox_world import OWNER, SANDBOX_CODE, SandboxWorld, contact_id
from twin.types import (
    ContactTyping,
    HistoryMessage,
    Incoming,
    Me,
    Media,
    MessageEdited,
    MessagesDeleted,
    Update,
    VoiceNote,
    media_from_json,
)

__all__ = ["OWNER", "SANDBOX_CODE", "SandboxTelegram", "SandboxWorld", "contact_id"]
CHANGE_DIRS = ("edit", "delete", "typing")


def _change(event: dict[str, Any]) -> Update:
    """An edit, deletion or typing event as Telegram delivers it (private deletions carry only ids)."""
    if event["dir"] == "edit":
        return MessageEdited(event["chat"], event["to"], event["text"], datetime.fromisoformat(event["date"]))
    if event["dir"] == "delete":
        return MessagesDeleted(None, tuple(event["ids"]))
    return ContactTyping(event["chat"], event["chat"])


def _incoming(event: dict[str, Any], names: dict[int, str]) -> Incoming:
    """An event as the account sees it: the twin's sends and the owner's own messages look the same."""
    mine = event["dir"] in ("out", "own")
    chat = int(event["chat"])
    name = names.get(chat) or ("Saved Messages" if chat == OWNER.id else str(event.get("name", "")))
    media: Media | None = media_from_json(event.get("media"))
    if media is None and "voice_s" in event:
        seconds = float(event["voice_s"])
        media = Media("voice", "audio/ogg", 0, seconds, f"voice message {duration(seconds)}")  # as Telethon's
    return Incoming(
        chat_id=chat, message_id=event["id"], sender_id=OWNER.id if mine else chat,
        date=datetime.fromisoformat(event["date"]), text=str(event.get("text", "")),
        kind=media.kind if media else "text", chat_title=name, sender_name=OWNER.name if mine else name,
        sender_is_bot=bool(event.get("bot")), sender_is_contact=not mine, outgoing=mine, sender_is_self=mine,
        media=media,
    )


def _names(events: list[dict[str, Any]]) -> dict[int, str]:
    """Each chat's contact name, from what the contacts wrote."""
    return {int(e["chat"]): str(e["name"]) for e in events if e["dir"] == "in"}


class SandboxTelegram:
    """The Telegram and LoginClient seams over a SandboxWorld."""

    def __init__(self, world: SandboxWorld, session_path: Path, poll_s: float = 0.2) -> None:
        self.world = world
        self.session_path = session_path
        self.poll_s = poll_s
        self._stopped = asyncio.Event()
        self._poke = asyncio.Event()
        self._last_catch_up: datetime | None = None

    def _online(self) -> None:
        if self.world.down():
            raise Disconnected("sandbox: the connection dropped")

    # --- Telegram -----------------------------------------------------------------------
    async def start(self) -> Me:
        """Check the sandbox session exists, as Telethon checks authorisation."""
        me = await self.current_user()
        if me is None:
            raise AuthError("not logged in (sandbox): run `twin login`")
        self._online()
        self._stopped.clear()
        return me

    async def stop(self) -> None:
        self._stopped.set()
        self._poke.set()

    async def incoming(self) -> AsyncIterator[Update]:
        """Events after the saved cursor, then new ones, in order; the cursor moves once each is handled.

        Like Telegram's update state, this delivers what arrived while the twin was down, and the
        twin's own sends come back as outgoing messages. Nothing comes while the session is forgotten.
        """
        seen = self.world.cursor()
        while not self._stopped.is_set():
            self._online()
            if not self.world.forgotten():
                events = self.world.events()
                names = _names(events)
                for event in events:
                    if event["id"] <= seen:
                        continue
                    if event["dir"] in ("in", "own", "out"):
                        yield _incoming(event, names)  # resumes only after the daemon has recorded it
                    elif event["dir"] in CHANGE_DIRS:
                        yield _change(event)
                    seen = event["id"]
                    self.world.save_cursor(seen)
            self._poke.clear()
            try:
                await asyncio.wait_for(self._poke.wait(), timeout=self.poll_s)
            except TimeoutError:
                pass

    async def catch_up(self) -> None:
        """Ask for the difference: a forgotten session is known again, and what it missed comes now."""
        self._online()
        if self.world.forgotten():
            self.world.append({"dir": "diff", "chat": 0, "date": datetime.now(UTC).isoformat()})
            self.world.remember()
        self._last_catch_up = datetime.now(UTC)
        self._poke.set()

    @property
    def last_catch_up(self) -> datetime | None:
        return self._last_catch_up

    async def _send(self, chat_id: int, random_id: int, **fields: Any) -> int:
        self.world.armed_drop()
        down = self.world.down()
        if down and random_id % 2:
            raise Disconnected("sandbox: the connection dropped before the send reached the server")
        if any(e.get("random_id") == random_id for e in self.world.events() if e["dir"] == "out"):
            self.world.append({"dir": "dup", "chat": chat_id, "random_id": random_id})
            return 0  # RANDOM_ID_DUPLICATE: delivered before; the twin learns no id from this answer
        event = self.world.append({"dir": "out", "chat": chat_id, "random_id": random_id,
                                   "date": datetime.now(UTC).isoformat(), **fields})
        if self.world.armed_death():
            os.kill(os.getpid(), signal.SIGKILL)
        if latency := self.world.latency():
            await asyncio.sleep(latency)  # delivered; the answer is on its way (a crash now loses it)
        if down:
            raise Disconnected("sandbox: the connection dropped; the message went out, its answer is lost")
        return int(event["id"])

    async def send_text(self, chat_id: int, text: str, *, random_id: int, reply_to: int | None = None) -> int:
        if len(text) > 4096:
            raise TelegramError("MESSAGE_TOO_LONG")
        return await self._send(chat_id, random_id, text=text, **({"reply_to": reply_to} if reply_to else {}))

    async def send_voice(self, chat_id: int, note: VoiceNote, *, random_id: int, reply_to: int | None = None) -> int:
        return await self._send(chat_id, random_id, text="", voice_s=round(note.duration_s, 2))

    async def action(self, chat_id: int, action: Action) -> None:
        self._online()

    async def mark_read(self, chat_id: int, max_id: int) -> None:
        self._online()

    async def react(self, chat_id: int, message_id: int, emoji: str) -> None:
        self.world.append({"dir": "react", "chat": chat_id, "to": message_id, "emoji": emoji,
                           "date": datetime.now(UTC).isoformat()})

    async def history(self, chat_id: int, limit: int, min_id: int = 0) -> list[HistoryMessage]:
        self._online()
        events = self.world.events()
        edits = {e["to"]: e["text"] for e in events if e["dir"] == "edit"}
        deleted = {i for e in events if e["dir"] == "delete" for i in e["ids"]}
        reactions = {e["to"]: e["emoji"] for e in events if e["dir"] == "react" and e["chat"] == chat_id}
        found = []
        for e in events:
            if e["dir"] not in ("in", "out", "own") or e["chat"] != chat_id or e["id"] <= min_id or e["id"] in deleted:
                continue
            m = _incoming(e, {})
            shown = history_message(m.message_id, m.date, m.outgoing, edits.get(m.message_id, m.text), m.sender_id,
                                    m.kind, m.media, reactions.get(m.message_id, ""))
            if shown is not None:
                found.append(shown)
        return found[-limit:]

    async def dialogs(self, limit: int) -> list[Dialog]:
        names: dict[int, str] = {}
        for event in reversed(self.world.events()):
            if event["dir"] == "in":
                names.setdefault(event["chat"], event["name"])
        return [Dialog(chat_id, name, "private") for chat_id, name in list(names.items())[:limit]]

    async def download(self, chat_id: int, message_id: int, max_bytes: int) -> bytes:
        event = next((e for e in self.world.events() if e["id"] == message_id and e.get("chat") == chat_id), None)
        data = self.world.media_bytes(event) if event is not None else None
        if data is None:
            raise TelegramError(f"message {message_id} in chat {chat_id} has no downloadable media")
        if len(data) > max_bytes:
            raise TelegramError(f"media is {len(data)} bytes, over the {max_bytes} byte limit")
        return data

    # --- LoginClient --------------------------------------------------------------------
    async def connect(self) -> None:
        return None

    async def current_user(self) -> Me | None:
        if not self.session_path.exists():
            return None
        data = json.loads(self.session_path.read_text())
        return Me(id=data["id"], name=data["name"], username=data.get("username"))

    async def send_code(self, phone: str) -> CodeSent:
        digits = phone.lstrip("+")
        if not digits.isdigit() or not 7 <= len(digits) <= 15:
            raise PhoneInvalid("that phone number is not valid (use international format, e.g. +999 66 1234)")
        return CodeSent(phone_code_hash="sandbox", via="sandbox (the code is 12345)")

    async def sign_in_code(self, phone: str, code: str, sent: CodeSent) -> Me | None:
        if code.strip() != SANDBOX_CODE:
            raise CodeInvalid("the code is not valid")
        self.session_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.session_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump({"backend": "sandbox", "id": OWNER.id, "name": OWNER.name, "username": OWNER.username}, fh)
        return OWNER

    async def sign_in_password(self, password: str) -> Me:
        raise AuthError("the sandbox account has no 2FA password")

    async def log_out(self) -> None:
        self.session_path.unlink(missing_ok=True)

    async def disconnect(self) -> None:
        return None
