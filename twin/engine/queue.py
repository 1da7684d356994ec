"""The durable reply queue: every answerable message is a row before anything else happens.

A turn row moves waiting -> composing -> sending -> answered (or cancelled / skipped / failed /
stale / needs_owner / blocked / review). Messages that arrive while the chat's reply is still
waiting are folded into it. One chat is answered one turn at a time, oldest first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa

from twin.db.store import Store
from twin.db.tables import ChatRow, MessageRow, TurnRow
from twin.llm.health import MODEL_WAIT  # the reason of a turn waiting out an outage: it still folds
from twin.types import Decision, Incoming

OPEN_STATES = ("waiting", "composing", "sending", "review")
OFFLINE_REASON = "connection lost"  # how a turn waiting for the connection is marked (retry_offline)
RUNNABLE = ("waiting", "sending")


@dataclass(frozen=True)
class Ingested:
    turn_id: int | None  # None: this message was seen before (a redelivery)
    folded: bool = False
    status: str = ""


T = cast(sa.Table, TurnRow.__table__)
C = cast(sa.Table, ChatRow.__table__)
_OPEN_TURN = (
    sa.select(T.c.id, T.c.extra, T.c.due_at, T.c.incoming_ids, T.c.incoming_text)
    .where(T.c.account == sa.bindparam("account"), T.c.chat_id == sa.bindparam("chat_id"),
           T.c.status == "waiting", sa.or_(T.c.attempts == 0, T.c.reason.startswith(MODEL_WAIT)))
    .order_by(T.c.id.desc()).limit(1)
)
_CHATS = sa.select(C).where(C.c.account == sa.bindparam("account"),
                            C.c.chat_id.in_(sa.bindparam("chat_ids", expanding=True)))
_INSERT_TURN = sa.insert(T)
_SENT = sa.select(
    sa.func.count().filter(T.c.sent_at >= sa.bindparam("hour_ago")), sa.func.count()
).where(T.c.account == sa.bindparam("account"), T.c.chat_id == sa.bindparam("chat_id"),
        T.c.sent_at >= sa.bindparam("day_ago"))


class ReplyQueue:
    """Queue operations for one account, each in its own transaction (hot paths in plain SQL Core)."""

    def __init__(self, store: Store, account: str) -> None:
        self.store = store
        self.account = account
        self._insert_message = store.insert_ignore(MessageRow)

    def _merge_chat(self, conn: sa.Connection, chat_id: int, title: str, values: dict[str, Any]) -> None:
        row = conn.execute(_CHATS, {"account": self.account, "chat_ids": [chat_id]}).first()
        if row is None:
            conn.execute(sa.insert(C).values(account=self.account, chat_id=chat_id, title=title,
                                             history_fetched=False, extra=values))
        else:
            conn.execute(sa.update(C).where(C.c.account == self.account, C.c.chat_id == chat_id)
                         .values(extra={**(row.extra or {}), **values}))

    def ingest(self, message: Incoming, decision: Decision, now: datetime, *, quiet_window_s: float,
               extra: dict[str, Any] | None = None, chat_extra: dict[str, Any] | None = None) -> Ingested:
        """Record the message and its decision atomically: a new turn, a fold, or a skip."""
        with self.store.engine.begin() as conn:
            new = conn.execute(self._insert_message, {
                "account": self.account, "chat_id": message.chat_id, "message_id": message.message_id,
                "date": message.date, "outgoing": message.outgoing or message.sender_is_self, "text": message.text})
            if not new.rowcount:
                return Ingested(None)  # delivered twice (a catch-up after a crash): already recorded
            if chat_extra:
                self._merge_chat(conn, message.chat_id, message.chat_title, chat_extra)
            if decision.answer:
                open_turn = conn.execute(_OPEN_TURN, {"account": self.account, "chat_id": message.chat_id}).first()
                if open_turn is not None and not (open_turn.extra or {}).get("deferred"):
                    merged = dict(open_turn.extra or {})
                    if extra and extra.get("media"):
                        merged["media"] = {**merged.get("media", {}), **extra["media"]}
                    quiet_until = now + timedelta(seconds=quiet_window_s)
                    conn.execute(sa.update(T).where(T.c.id == open_turn.id).values(
                        incoming_ids=[*open_turn.incoming_ids, message.message_id],
                        incoming_text="\n".join(t for t in (open_turn.incoming_text, message.text) if t),
                        due_at=max(open_turn.due_at or now, quiet_until), updated_at=now, extra=merged))
                    return Ingested(open_turn.id, folded=True, status="waiting")
            status = "waiting" if decision.answer else decision.status
            result = conn.execute(_INSERT_TURN, dict(
                account=self.account, chat_id=message.chat_id, chat_title=message.chat_title,
                sender_id=message.sender_id, sender_name=message.sender_name,
                incoming_ids=[message.message_id], incoming_text=message.text, kind=message.kind,
                transcript=None, status=status, reason=decision.reason, reply_text=None, reply_ids=[],
                random_id=None, voice=False, provider="", model="", tokens_in=0, tokens_out=0, attempts=0,
                received_at=now, due_at=decision.due_at, sent_at=None, updated_at=now, extra=extra or {},
            ))
            key = result.inserted_primary_key
            assert key is not None
            return Ingested(int(key[0]), status=status)

    def runnable(self, now: datetime, busy: Sequence[int] = ()) -> list[tuple[int, int]]:
        """(turn id, chat id) to start now: per chat, the oldest open turn, if it is due and the chat is free."""
        first_open = (
            sa.select(TurnRow.chat_id, sa.func.min(TurnRow.id).label("first"))
            .where(TurnRow.account == self.account, TurnRow.status.in_(OPEN_STATES))
            .group_by(TurnRow.chat_id).subquery()
        )
        query = (
            sa.select(TurnRow.id, TurnRow.chat_id)
            .join(first_open, TurnRow.id == first_open.c.first)
            .where(TurnRow.status.in_(RUNNABLE), TurnRow.due_at <= now)
            .order_by(TurnRow.due_at, TurnRow.id)
        )
        with self.store.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [(int(r.id), int(r.chat_id)) for r in rows if r.chat_id not in busy]

    def next_due(self) -> datetime | None:
        """The earliest due time of a runnable turn."""
        with self.store.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.min(T.c.due_at)).where(
                T.c.account == self.account, T.c.status.in_(RUNNABLE))).scalar()

    def cancel_chat(self, chat_id: int, reason: str, now: datetime) -> int:
        """Cancel every reply of a chat that has not started sending; returns how many."""
        with self.store.session() as s, s.begin():
            result = s.execute(sa.update(TurnRow).where(
                TurnRow.account == self.account, TurnRow.chat_id == chat_id,
                TurnRow.status.in_(("waiting", "composing", "review")),
            ).values(status="cancelled", reason=reason, updated_at=now))
            return int(getattr(result, "rowcount", 0) or 0)

    def pause_chat(self, chat_id: int, until: datetime, reason: str) -> None:
        """Pause a chat (chat_id 0: the whole account) until a time, saying why."""
        with self.store.session() as s, s.begin():
            row = s.get(ChatRow, (self.account, chat_id))
            if row is None:
                row = ChatRow(account=self.account, chat_id=chat_id, title="", history_fetched=False, extra={})
                s.add(row)
            row.paused_until = until
            row.extra = {**(row.extra or {}), "pause_reason": reason}

    def recover(self, now: datetime, stale_after: timedelta) -> tuple[int, int]:
        """After a stop or crash: composing turns run again; a backlog older than stale_after is stale."""
        with self.store.session() as s, s.begin():
            resumed = s.execute(sa.update(TurnRow).where(
                TurnRow.account == self.account, TurnRow.status == "composing",
            ).values(status="waiting", updated_at=now))
            rows = s.scalars(sa.select(TurnRow).where(
                TurnRow.account == self.account, TurnRow.status == "waiting",
                TurnRow.received_at < now - stale_after)).all()
            stale = 0
            for row in rows:
                if (row.extra or {}).get("deferred") or (row.extra or {}).get("approved"):
                    continue  # deliberately waiting for opening hours or approved by the owner
                row.status, row.reason, row.updated_at = "stale", _stale_reason(now - row.received_at), now
                stale += 1
            return int(getattr(resumed, "rowcount", 0) or 0), stale

    def wait_for_connection(self, turn_id: int, now: datetime, due: datetime, reason: str) -> bool:
        """A turn cut off by a lost connection runs again at `due` (or at the reconnect): composed again, or
        its planned parts sent again with the same random_ids."""
        with self.store.engine.begin() as conn:
            status = conn.execute(sa.select(T.c.status).where(T.c.id == turn_id)).scalar()
            if status not in ("composing", "sending"):
                return False
            conn.execute(sa.update(T).where(T.c.id == turn_id).values(
                status="waiting" if status == "composing" else "sending", reason=reason, due_at=due, updated_at=now))
            return True

    def retry_offline(self, now: datetime) -> int:
        """The connection is back: turns that wait only for it are due now (same random_ids)."""
        with self.store.engine.begin() as conn:
            result = conn.execute(sa.update(T).where(
                T.c.account == self.account, T.c.status.in_(RUNNABLE), T.c.due_at > now,
                T.c.reason.like(f"{OFFLINE_REASON}%")).values(due_at=now, updated_at=now))
            return int(getattr(result, "rowcount", 0) or 0)

    def sent_since(self, since: datetime, chat_id: int | None = None) -> list[datetime]:
        """Send times of answered turns since a moment (for caps and the loop guard)."""
        query = sa.select(TurnRow.sent_at).where(
            TurnRow.account == self.account, TurnRow.sent_at.is_not(None), TurnRow.sent_at >= since)
        if chat_id is not None:
            query = query.where(TurnRow.chat_id == chat_id)
        with self.store.session() as s:
            return sorted(t for t in s.scalars(query).all() if t is not None)


    def may_send(self, turn_id: int, chat_id: int, now: datetime) -> str | None:
        """The check right before sending: None, or why the reply must not go (one read)."""
        query = sa.select(TurnRow.status, ChatRow.chat_id, ChatRow.paused_until).select_from(TurnRow).outerjoin(
            ChatRow, sa.and_(ChatRow.account == self.account, ChatRow.chat_id.in_((chat_id, 0)))
        ).where(TurnRow.id == turn_id)
        with self.store.engine.connect() as conn:
            rows = conn.execute(query).all()
        if not rows or rows[0].status not in ("composing", "sending"):
            return "cancelled"
        for row in rows:
            if row.paused_until is not None and row.paused_until > now:
                return "chat paused" if row.chat_id == chat_id else "twin paused"
        return None

    def finish(self, turn_id: int, chat_id: int, now: datetime, sent: Sequence[tuple[int, str]],
               values: dict[str, Any]) -> None:
        """Record a delivered reply in one transaction: the turn, the chat's messages, the last send."""
        rows = [{"account": self.account, "chat_id": chat_id, "message_id": i, "date": now, "outgoing": True,
                 "text": text} for i, text in sent if i]
        with self.store.engine.begin() as conn:
            if isinstance(values.get("extra"), dict):  # keep edits/deletions recorded while it was sending
                current = conn.execute(sa.select(T.c.extra).where(T.c.id == turn_id)).scalar() or {}
                if current.get("changes"):
                    values = {**values, "extra": {**values["extra"], "changes": current["changes"]}}
            conn.execute(sa.update(T).where(T.c.id == turn_id).values(updated_at=now, **values))
            if rows:  # the messages the twin sent become context for later turns
                conn.execute(self._insert_message, rows)
            self._merge_chat(conn, chat_id, "", {"last_sent_at": now.isoformat()})

    def chat_states(self, chat_id: int) -> tuple[Any, Any]:
        """This chat's state row and the account's (chat 0), in one read (None when absent)."""
        with self.store.engine.connect() as conn:
            rows = {r.chat_id: r for r in conn.execute(_CHATS, {"account": self.account, "chat_ids": [chat_id, 0]})}
        return rows.get(chat_id), rows.get(0)

    def sent_counts(self, chat_id: int, now: datetime) -> tuple[int, int]:
        """Replies sent in this chat in the last hour and the last day."""
        params = {"account": self.account, "chat_id": chat_id, "hour_ago": now - timedelta(hours=1),
                  "day_ago": now - timedelta(days=1)}
        with self.store.engine.connect() as conn:
            hour, day = conn.execute(_SENT, params).one()
        return int(hour), int(day)


def _stale_reason(age: timedelta) -> str:
    hours = age.total_seconds() / 3600
    return f"stale: arrived {hours:.1f} h before the twin could answer (timing.stale_after_h)"
