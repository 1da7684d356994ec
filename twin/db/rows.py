"""Rows as values: a turns row as a Turn, a chats row as a ChatState."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from twin.types import Turn


@dataclass(frozen=True)
class ChatState:
    chat_id: int
    title: str
    username: str | None
    history_fetched: bool
    paused_until: datetime | None
    mode: str | None
    extra: dict[str, Any]


def to_turn(row: Any) -> Turn:
    """A turns row (ORM or Core) as a Turn."""
    return Turn(
        id=row.id,
        account=row.account,
        chat_id=row.chat_id,
        chat_title=row.chat_title,
        sender_id=row.sender_id,
        sender_name=row.sender_name,
        incoming_ids=tuple(row.incoming_ids or ()),
        incoming_text=row.incoming_text,
        kind=row.kind,
        status=row.status,
        reason=row.reason,
        received_at=row.received_at,
        reply_text=row.reply_text,
        reply_ids=tuple(row.reply_ids or ()),
        provider=row.provider,
        model=row.model,
        tokens_in=row.tokens_in,
        tokens_out=row.tokens_out,
        sent_at=row.sent_at,
        transcript=row.transcript,
        voice=row.voice,
        random_id=row.random_id,
        attempts=row.attempts,
        due_at=row.due_at,
        extra=dict(row.extra or {}),
    )
