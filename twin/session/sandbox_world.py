"""The sandbox's server side: one account's event file, shared by `twin sandbox ...` and the daemon,
and the server's moods (a forgotten session, a dropped connection, slow answers, a death after a send).

Each mood is a small file beside events.jsonl, so another terminal (or a test) can set it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import mimetypes
import os
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from twin.errors import TelegramError
from twin.types import Me

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


    # --- the server's moods ---------------------------------------------------------------
    def forget(self) -> None:
        """The server forgets the session: nothing is pushed until the client asks for the difference."""
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "forgotten").touch()

    def forgotten(self) -> bool:
        return (self.root / "forgotten").exists()

    def remember(self) -> None:
        (self.root / "forgotten").unlink(missing_ok=True)

    def drop(self, seconds: float) -> None:
        """The connection drops for `seconds`, and the server forgets the session (as a restart does)."""
        self.forget()
        tmp = self.root / "down.tmp"
        tmp.write_text(str(time.time() + seconds))
        os.replace(tmp, self.root / "down")

    def drop_on_send(self, seconds: float) -> None:
        """The connection drops at the twin's next send (which then may or may not have gone out)."""
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "drop_on_send").write_text(str(seconds))

    def armed_drop(self) -> None:
        """Fire a drop armed by drop_on_send (the sandbox server calls it on a send)."""
        try:
            seconds = float((self.root / "drop_on_send").read_text())
        except (FileNotFoundError, ValueError):
            return
        (self.root / "drop_on_send").unlink(missing_ok=True)
        self.drop(seconds)

    def set_latency(self, seconds: float) -> None:
        """The answer to each send takes this long to come back (a network round trip; 0: at once)."""
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "latency").write_text(str(seconds))

    def latency(self) -> float:
        try:
            return float((self.root / "latency").read_text())
        except (FileNotFoundError, ValueError):
            return 0.0

    def die_after_send(self) -> None:
        """The twin's process is killed (SIGKILL) right after its next send reached the server:
        Telegram has the message, the twin never got to store its id (a crash test's exact window)."""
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "die_after_send").touch()

    def armed_death(self) -> bool:
        """Whether a death was armed (and disarm it: it happens once)."""
        try:
            (self.root / "die_after_send").unlink()
        except FileNotFoundError:
            return False
        return True

    def down(self) -> bool:
        """Whether the connection is down now."""
        try:
            return time.time() < float((self.root / "down").read_text())
        except (FileNotFoundError, ValueError):
            return False
