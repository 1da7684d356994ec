"""Edits, deletions and typing in a chat, applied to the queue the way a person would take them.

- An edit before the reply goes out: the turn's text becomes the new wording (a turn being
  composed is composed again by the pipeline's re-check, which sees the changed text).
- A deletion before the reply goes out: the message leaves the turn; a turn left empty is
  cancelled with the reason. After the reply (or once it is being sent): recorded, nothing sent.
- The contact is typing: the chat's waiting reply waits a few seconds more (bounded), so what
  they send next is folded into it.

Private-chat deletions carry only message ids: the chat is found through the stored messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa

from twin.clock import Clock
from twin.db.store import Store
from twin.db.tables import MessageRow, TurnRow
from twin.sections import TimingSettings
from twin.types import Change, ContactTyping, MessageEdited, MessagesDeleted

TYPING_PUSH_S = 6.0  # a typing status lasts about this long unless renewed
TYPING_MAX_S = 60.0  # the most a reply waits for a contact who keeps typing
CHANNEL_IDS_BELOW = -1_000_000_000_000  # Telethon's marked ids of channels and supergroups
BEFORE = ("waiting", "composing", "review")  # the reply has not started going out
OPEN = ("before", "composing")  # changes that still shape the reply
RECENT_TURNS = 50  # turns of a chat searched for a changed message
M = cast(sa.Table, MessageRow.__table__)
T = cast(sa.Table, TurnRow.__table__)


class Changes:
    """Applies MessageEdited / MessagesDeleted / ContactTyping to one account's stored chats and turns."""

    def __init__(self, store: Store, account: str, timing: TimingSettings, clock: Clock) -> None:
        self.store = store
        self.account = account
        self.timing = timing
        self.clock = clock

    def apply(self, change: Change) -> str:
        """Apply one change; returns what it did, for the log."""
        if isinstance(change, MessageEdited):
            return self.edited(change)
        if isinstance(change, MessagesDeleted):
            return self.deleted(change)
        return self.typing(change)

    # --- lookups ------------------------------------------------------------------------
    def _chats_of(self, conn: sa.Connection, chat_id: int | None, ids: Sequence[int]) -> dict[int, list[int]]:
        """chat -> the given message ids stored in it (chat_id None: any chat but channels)."""
        if chat_id is not None:
            return {chat_id: list(ids)}
        rows = conn.execute(sa.select(M.c.chat_id, M.c.message_id).where(
            M.c.account == self.account, M.c.message_id.in_(list(ids)), M.c.chat_id > CHANNEL_IDS_BELOW)).all()
        found: dict[int, list[int]] = {}
        for row in rows:
            found.setdefault(int(row.chat_id), []).append(int(row.message_id))
        return found

    def _turns_with(self, conn: sa.Connection, chat_id: int, ids: Sequence[int]) -> list[Any]:
        rows = conn.execute(sa.select(T).where(T.c.account == self.account, T.c.chat_id == chat_id)
                            .order_by(T.c.id.desc()).limit(RECENT_TURNS)).all()
        wanted = set(ids)
        return [r for r in rows if wanted & set(r.incoming_ids or ())]

    def _text_of(self, conn: sa.Connection, chat_id: int, ids: Sequence[int]) -> str:
        """A turn's incoming text rebuilt from its stored messages, in order."""
        rows = conn.execute(sa.select(M.c.message_id, M.c.text).where(
            M.c.account == self.account, M.c.chat_id == chat_id, M.c.message_id.in_(list(ids)))).all()
        texts = {int(r.message_id): r.text for r in rows}
        return "\n".join(texts[i] for i in ids if texts.get(i))

    def _record(self, turn: Any, entry: dict[str, object]) -> dict[str, Any]:
        extra = dict(turn.extra or {})
        extra["changes"] = [*extra.get("changes", []), entry]
        return extra

    # --- changes ------------------------------------------------------------------------
    def edited(self, change: MessageEdited) -> str:
        now = self.clock.now()
        with self.store.engine.begin() as conn:
            chats = self._chats_of(conn, change.chat_id, [change.message_id])
            if not chats:
                return f"edit of message {change.message_id}: not a message the twin has seen"
            chat_id = next(iter(chats))
            where = sa.and_(M.c.account == self.account, M.c.chat_id == chat_id,
                            M.c.message_id == change.message_id)
            old = conn.execute(sa.select(M.c.text).where(where)).scalar()
            if old is None or old == change.text:
                return f"edit of message {change.message_id}: text unchanged"
            conn.execute(sa.update(M).where(where).values(text=change.text))
            said = []
            for turn in self._turns_with(conn, chat_id, [change.message_id]):
                when = _when(turn.status)
                values: dict[str, Any] = {"extra": self._record(turn, {
                    "kind": "edit", "id": change.message_id, "at": now.isoformat(), "when": when})}
                if when in OPEN:
                    values["incoming_text"] = self._text_of(conn, chat_id, list(turn.incoming_ids))
                conn.execute(sa.update(T).where(T.c.id == turn.id).values(updated_at=now, **values))
                said.append(f"turn {turn.id} ({when})")
        return f"message {change.message_id} in chat {chat_id} edited: " + (", ".join(said) or "context only")

    def deleted(self, change: MessagesDeleted) -> str:
        now = self.clock.now()
        said = []
        with self.store.engine.begin() as conn:
            for chat_id, ids in self._chats_of(conn, change.chat_id, change.ids).items():
                gone = set(ids)
                for turn in self._turns_with(conn, chat_id, ids):
                    said.append(self._delete_from(conn, turn, chat_id, gone, now))
                # A deleted message is no longer context for later replies.
                conn.execute(sa.delete(M).where(M.c.account == self.account, M.c.chat_id == chat_id,
                                                M.c.message_id.in_(ids)))
        return f"messages {list(change.ids)} deleted: " + (", ".join(said) or "no turn affected")

    def _delete_from(self, conn: sa.Connection, turn: Any, chat_id: int, gone: set[int], now: datetime) -> str:
        when = _when(turn.status)
        extra = self._record(turn, {"kind": "delete", "ids": sorted(gone & set(turn.incoming_ids)),
                                    "at": now.isoformat(), "when": when})
        values: dict[str, Any] = {"extra": extra}
        left = [i for i in turn.incoming_ids if i not in gone]
        if when in OPEN and not left:
            values.update(status="cancelled", reason="the contact deleted the message before the reply went out")
        elif when in OPEN:
            media = extra.get("media")
            if isinstance(media, dict):
                extra["media"] = {k: v for k, v in media.items() if int(k) not in gone}
            values.update(incoming_ids=left, incoming_text=self._text_of(conn, chat_id, left))
        conn.execute(sa.update(T).where(T.c.id == turn.id).values(updated_at=now, **values))
        return f"turn {turn.id} ({when}{', cancelled' if 'status' in values else ''})"

    def typing(self, change: ContactTyping) -> str:
        """Hold the chat's waiting reply while the contact types (at most TYPING_MAX_S after they began)."""
        if not change.active:
            return f"chat {change.chat_id}: stopped typing"
        now = self.clock.now()
        scale = self.timing.scale
        with self.store.engine.begin() as conn:
            turn = conn.execute(sa.select(T).where(
                T.c.account == self.account, T.c.chat_id == change.chat_id, T.c.status == "waiting",
                T.c.attempts == 0).order_by(T.c.id.desc()).limit(1)).first()
            extra = dict(turn.extra or {}) if turn is not None else {}
            if turn is None or turn.due_at is None or extra.get("deferred") or extra.get("approved"):
                return f"chat {change.chat_id}: typing, no reply waiting"
            since = datetime.fromisoformat(str(extra.get("typing_since") or now.isoformat()))
            due = min(max(turn.due_at, now + timedelta(seconds=TYPING_PUSH_S * scale)),
                      since + timedelta(seconds=TYPING_MAX_S * scale))
            if due <= turn.due_at:
                return f"chat {change.chat_id}: typing, turn {turn.id} already waits"
            extra.update(typing_since=since.isoformat(), typing_holds=int(extra.get("typing_holds", 0)) + 1)
            conn.execute(sa.update(T).where(T.c.id == turn.id).values(due_at=due, extra=extra, updated_at=now))
        return f"chat {change.chat_id}: typing, turn {turn.id} waits until {due.isoformat(timespec='seconds')}"


def _when(status: str) -> str:
    """before (not started) | composing (the pipeline recomposes) | sending (not touched) | after."""
    if status == "composing":
        return "composing"
    if status in BEFORE:
        return "before"
    return "sending" if status == "sending" else "after"
