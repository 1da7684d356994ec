"""A local stand-in for Telegram: try twin end to end with no account and no network.

Everything lives in data/sandbox/<account>/events.jsonl, one JSON object a line, shared by
`twin sandbox say` (a contact writes) and the daemon (the twin answers). Message ids are line
numbers, so they grow like a private chat's. Log in with any phone number and code 12345.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import json
import mimetypes
import os
import zlib
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from twin.errors import AuthError, CodeInvalid, PhoneInvalid, TelegramError
from twin.session.base import Action, CodeSent, Dialog
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

SANDBOX_CODE = "12345"
IMAGE_MAGIC = ((b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG", "image/png"), (b"GIF8", "image/gif"))
OWNER = Me(id=1, name="Sandbox Owner", username="owner")


def contact_id(name: str) -> int:
    """A stable user id for a sandbox contact's name."""
    return 100_000 + zlib.crc32(name.strip().lower().encode()) % 900_000


class SandboxWorld:
    """The shared event file of one account's sandbox."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.path = root / "events.jsonl"

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def events(self) -> list[dict[str, Any]]:
        """Every event so far (a line cut short by a killed writer is passed over)."""
        if not self.path.exists():
            return []
        found = []
        with open(self.path, encoding="utf-8") as fh:
            for line in fh:
                try:
                    found.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
        return found

    @property
    def cursor_path(self) -> Path:
        return self.root / "cursor"

    def cursor(self) -> int:
        """The id of the last event the twin has fully handled."""
        try:
            return int(self.cursor_path.read_text())
        except (FileNotFoundError, ValueError):
            return 0

    def save_cursor(self, event_id: int) -> None:
        tmp = self.cursor_path.with_suffix(".tmp")
        tmp.write_text(str(event_id))
        os.replace(tmp, self.cursor_path)

    def append(self, event: dict[str, Any]) -> dict[str, Any]:
        """Add an event under the lock; it gets the next message id."""
        with self._locked():
            event = {**event, "id": len(self.events()) + 1}
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(event, ensure_ascii=False) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
        return event

    def say(self, name: str, text: str, *, bot: bool = False, date: datetime | None = None,
            media: dict[str, Any] | None = None) -> dict[str, Any]:
        """A contact writes to the owner (with media: what store_photo or sticker made)."""
        when = (date or datetime.now(UTC)).isoformat()
        event = {"dir": "in", "chat": contact_id(name), "name": name, "text": text, "date": when, "bot": bot}
        if media:
            event["media"] = media
        return self.append(event)

    def store_photo(self, data: bytes, file_name: str = "") -> dict[str, Any]:
        """Keep a photo's bytes in the sandbox (media/<hash>) for download(); the event's media field."""
        mime = next((m for magic, m in IMAGE_MAGIC if data.startswith(magic)), "")
        if not mime and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            mime = "image/webp"
        mime = mime or mimetypes.guess_type(file_name)[0] or "application/octet-stream"
        name = f"media/{hashlib.sha256(data).hexdigest()[:20]}"
        folder = self.root / "media"
        folder.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f"{name}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, self.root / name)
        return {"kind": "photo", "mime": mime, "size": len(data), "label": "photo", "file": name}

    @staticmethod
    def sticker(emoji: str) -> dict[str, Any]:
        """The media field of a sticker event: its emoji is all a contact's sticker says."""
        return {"kind": "sticker", "mime": "image/webp", "size": 0, "label": f"sticker {emoji}".strip()}

    def media_bytes(self, event: dict[str, Any]) -> bytes | None:
        """The stored bytes of an event's media, if it has any."""
        media = event.get("media")
        name = media.get("file") if isinstance(media, dict) else None
        if not isinstance(name, str) or "/" not in name or ".." in name:
            return None
        path = self.root / name
        return path.read_bytes() if path.is_file() else None


    def owner_says(self, text: str, *, to: str | None = None) -> dict[str, Any]:
        """The owner writes from another device: in a contact's chat, or (to=None) in Saved Messages."""
        chat = contact_id(to) if to else OWNER.id
        event = {"dir": "own", "chat": chat, "name": to or "Saved Messages", "text": text,
                 "date": datetime.now(UTC).isoformat()}
        return self.append(event)

    # --- changes: a contact edits or deletes a message, or is typing --------------------
    def _contact_message(self, message_id: int) -> dict[str, Any]:
        for event in self.events():
            if event["id"] == message_id and event["dir"] == "in":
                return event
        raise TelegramError(f"message {message_id} is not a contact's message in the sandbox")

    def edit(self, message_id: int, text: str) -> dict[str, Any]:
        """The contact edits their message."""
        if not text.strip():
            raise TelegramError("an edit needs the new text")
        said = self._contact_message(message_id)
        return self.append({"dir": "edit", "chat": said["chat"], "name": said["name"], "to": message_id, "text": text,
                            "date": datetime.now(UTC).isoformat()})

    def delete(self, message_id: int) -> dict[str, Any]:
        """The contact deletes their message (for both sides, as Telegram's private chats do)."""
        said = self._contact_message(message_id)
        return self.append({"dir": "delete", "chat": said["chat"], "name": said["name"], "ids": [message_id]})

    def typing(self, name: str) -> dict[str, Any]:
        """The contact is typing."""
        return self.append({"dir": "typing", "chat": contact_id(name), "name": name})


CHANGE_DIRS = ("edit", "delete", "typing")


def _change(event: dict[str, Any]) -> Update:
    """An edit, deletion or typing event as Telegram delivers it (private deletions carry only ids)."""
    if event["dir"] == "edit":
        return MessageEdited(event["chat"], event["to"], event["text"], datetime.fromisoformat(event["date"]))
    if event["dir"] == "delete":
        return MessagesDeleted(None, tuple(event["ids"]))
    return ContactTyping(event["chat"], event["chat"])


def _incoming(event: dict[str, Any]) -> Incoming:
    own = event["dir"] == "own"
    media: Media | None = media_from_json(event.get("media"))
    return Incoming(
        chat_id=event["chat"], message_id=event["id"], sender_id=OWNER.id if own else event["chat"],
        date=datetime.fromisoformat(event["date"]), text=event["text"], chat_title=event["name"],
        sender_name=OWNER.name if own else event["name"], sender_is_bot=bool(event.get("bot")),
        sender_is_contact=not own, outgoing=own, sender_is_self=own,
        kind=media.kind if media else "text", media=media,
    )


class SandboxTelegram:
    """The Telegram and LoginClient seams over a SandboxWorld."""

    def __init__(self, world: SandboxWorld, session_path: Path, poll_s: float = 0.2) -> None:
        self.world = world
        self.session_path = session_path
        self.poll_s = poll_s
        self._stopped = asyncio.Event()

    # --- Telegram -----------------------------------------------------------------------
    async def start(self) -> Me:
        """Check the sandbox session exists, as Telethon checks authorisation."""
        me = await self.current_user()
        if me is None:
            raise AuthError("not logged in (sandbox): run `twin login`")
        self._stopped.clear()
        return me

    async def stop(self) -> None:
        self._stopped.set()

    async def incoming(self) -> AsyncIterator[Update]:
        """Events after the saved cursor, then new ones; the cursor moves once each is handled.

        Like Telegram's update state, this delivers what arrived while the twin was down.
        """
        seen = self.world.cursor()
        while not self._stopped.is_set():
            for event in self.world.events():
                if event["id"] <= seen:
                    continue
                if event["dir"] in ("in", "own"):
                    yield _incoming(event)  # resumes only after the daemon has recorded it
                elif event["dir"] in CHANGE_DIRS:
                    yield _change(event)
                seen = event["id"]
                self.world.save_cursor(seen)
            try:
                await asyncio.wait_for(self._stopped.wait(), timeout=self.poll_s)
            except TimeoutError:
                pass

    async def _send(self, chat_id: int, random_id: int, **fields: Any) -> int:
        if any(e.get("random_id") == random_id for e in self.world.events() if e["dir"] == "out"):
            self.world.append({"dir": "dup", "chat": chat_id, "random_id": random_id})
            return 0  # delivered before, as Telegram drops a duplicate random_id
        event = self.world.append({"dir": "out", "chat": chat_id, "random_id": random_id,
                                   "date": datetime.now(UTC).isoformat(), **fields})
        return int(event["id"])

    async def send_text(self, chat_id: int, text: str, *, random_id: int, reply_to: int | None = None) -> int:
        if len(text) > 4096:
            raise TelegramError("MESSAGE_TOO_LONG")
        return await self._send(chat_id, random_id, text=text, **({"reply_to": reply_to} if reply_to else {}))

    async def send_voice(self, chat_id: int, note: VoiceNote, *, random_id: int, reply_to: int | None = None) -> int:
        return await self._send(chat_id, random_id, text="", voice_s=round(note.duration_s, 2))

    async def action(self, chat_id: int, action: Action) -> None:
        return None

    async def mark_read(self, chat_id: int, max_id: int) -> None:
        return None

    async def react(self, chat_id: int, message_id: int, emoji: str) -> None:
        self.world.append({"dir": "react", "chat": chat_id, "to": message_id, "emoji": emoji,
                           "date": datetime.now(UTC).isoformat()})

    async def history(self, chat_id: int, limit: int, min_id: int = 0) -> list[HistoryMessage]:
        events = self.world.events()
        edits = {e["to"]: e["text"] for e in events if e["dir"] == "edit"}
        deleted = {i for e in events if e["dir"] == "delete" for i in e["ids"]}
        found = [
            HistoryMessage(e["id"], datetime.fromisoformat(e["date"]), e["dir"] in ("out", "own"),
                           edits.get(e["id"], e.get("text", "")), OWNER.id if e["dir"] in ("out", "own") else e["chat"])
            for e in events if e["chat"] == chat_id and e["id"] > min_id and e["dir"] in ("in", "out", "own")
            and e.get("text") and e["id"] not in deleted
        ]
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
