"""SQLAlchemy table definitions. Migrations in twin/db/migrations/ are append-only."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Stored as naive UTC (SQLite has no zones), always read back as aware UTC."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    type_annotation_map: dict[Any, Any] = {datetime: UTCDateTime(), dict[str, Any]: sa.JSON, list[int]: sa.JSON}


class TurnRow(Base):
    """One turn: the incoming message(s), what the twin did, and why. Also the reply queue."""

    __tablename__ = "turns"
    id: Mapped[int] = mapped_column(primary_key=True)
    account: Mapped[str] = mapped_column(sa.String(40))
    chat_id: Mapped[int] = mapped_column(sa.BigInteger)
    chat_title: Mapped[str] = mapped_column(sa.String(255), default="")
    sender_id: Mapped[int] = mapped_column(sa.BigInteger)
    sender_name: Mapped[str] = mapped_column(sa.String(255), default="")
    incoming_ids: Mapped[list[int]] = mapped_column(default=list)
    incoming_text: Mapped[str] = mapped_column(sa.Text, default="")
    kind: Mapped[str] = mapped_column(sa.String(16), default="text")
    transcript: Mapped[str | None] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(16))
    reason: Mapped[str] = mapped_column(sa.Text, default="")
    reply_text: Mapped[str | None] = mapped_column(sa.Text)
    reply_ids: Mapped[list[int]] = mapped_column(default=list)
    random_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    voice: Mapped[bool] = mapped_column(default=False)
    provider: Mapped[str] = mapped_column(sa.String(32), default="")
    model: Mapped[str] = mapped_column(sa.String(128), default="")
    tokens_in: Mapped[int] = mapped_column(default=0)
    tokens_out: Mapped[int] = mapped_column(default=0)
    attempts: Mapped[int] = mapped_column(default=0)
    received_at: Mapped[datetime]
    due_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)  # context, timing, steps

    __table_args__ = (
        sa.Index("ix_turns_account_chat", "account", "chat_id", "id"),
        sa.Index("ix_turns_account_status", "account", "status", "id"),
        sa.Index("ix_turns_account_received", "account", "received_at"),
    )


class MessageRow(Base):
    """A chat's messages as the twin has seen them: the context the model gets."""

    __tablename__ = "messages"
    id: Mapped[int] = mapped_column(primary_key=True)
    account: Mapped[str] = mapped_column(sa.String(40))
    chat_id: Mapped[int] = mapped_column(sa.BigInteger)
    message_id: Mapped[int] = mapped_column(sa.BigInteger)
    date: Mapped[datetime]
    outgoing: Mapped[bool]
    text: Mapped[str] = mapped_column(sa.Text)

    __table_args__ = (sa.UniqueConstraint("account", "chat_id", "message_id", name="uq_messages_msg"),)


class SentPartRow(Base):
    """One part of a reply the twin sends: planned before the first send, its message id stored on delivery.

    The durable answer to "is this outgoing message the twin's?" (twin.db.sent).
    """

    __tablename__ = "sent_parts"
    id: Mapped[int] = mapped_column(primary_key=True)
    account: Mapped[str] = mapped_column(sa.String(40))
    chat_id: Mapped[int] = mapped_column(sa.BigInteger)
    turn_id: Mapped[int] = mapped_column(sa.BigInteger)
    part: Mapped[int]  # index in the reply
    kind: Mapped[str] = mapped_column(sa.String(16))  # text | voice
    text: Mapped[str] = mapped_column(sa.Text)
    random_id: Mapped[int] = mapped_column(sa.BigInteger)
    message_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    source: Mapped[str] = mapped_column(sa.String(16), default="")  # sent | echo | history; "" while unknown
    planned_at: Mapped[datetime]
    attempted_at: Mapped[datetime | None]  # the first send attempt: no echo can exist before it

    __table_args__ = (
        sa.UniqueConstraint("account", "turn_id", "part", name="uq_sent_parts_part"),
        sa.Index("ix_sent_parts_message", "account", "chat_id", "message_id"),
    )


class ChatRow(Base):
    """Per-chat state: title, whether history was fetched, pauses and mode."""

    __tablename__ = "chats"
    account: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    chat_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(255), default="")
    username: Mapped[str | None] = mapped_column(sa.String(64))
    history_fetched: Mapped[bool] = mapped_column(default=False)
    paused_until: Mapped[datetime | None]
    mode: Mapped[str | None] = mapped_column(sa.String(16))
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)


class StateRow(Base):
    """Small durable state of the running twin, one JSON value per key (a model's health, ...)."""

    __tablename__ = "twin_state"
    account: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(160), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime]


# --- persona learning (twin/persona/): the owner's messages, exchanges, notes, eval runs --------------
# The full-text index over persona_exchanges.contact_text is raw DDL (an FTS5 table on SQLite, a GIN
# expression index on PostgreSQL): twin.db.exchange_index creates it.


class OwnerMessageRow(Base):
    """A message the owner wrote in a private chat, read by `twin persona learn`."""

    __tablename__ = "persona_owner_messages"
    id: Mapped[int] = mapped_column(primary_key=True)
    account: Mapped[str] = mapped_column(sa.String(40))
    chat_id: Mapped[int] = mapped_column(sa.BigInteger)
    message_id: Mapped[int] = mapped_column(sa.BigInteger)
    date: Mapped[datetime]
    text: Mapped[str] = mapped_column(sa.Text)

    __table_args__ = (sa.UniqueConstraint("account", "chat_id", "message_id", name="uq_persona_owner_msg"),)


class ExchangeRow(Base):
    """What a contact said (one burst) and what the owner answered (the next burst)."""

    __tablename__ = "persona_exchanges"
    id: Mapped[int] = mapped_column(primary_key=True)
    account: Mapped[str] = mapped_column(sa.String(40))
    chat_id: Mapped[int] = mapped_column(sa.BigInteger)
    contact_text: Mapped[str] = mapped_column(sa.Text)
    owner_text: Mapped[str] = mapped_column(sa.Text)
    contact_messages: Mapped[int] = mapped_column(default=1)
    owner_messages: Mapped[int] = mapped_column(default=1)
    date: Mapped[datetime]  # when the owner's answer began
    first_message_id: Mapped[int] = mapped_column(sa.BigInteger)  # the contact's first message
    last_message_id: Mapped[int] = mapped_column(sa.BigInteger)  # the owner's last message

    __table_args__ = (
        sa.UniqueConstraint("account", "chat_id", "first_message_id", name="uq_persona_exchange"),
        sa.Index("ix_persona_exchanges_recent", "account", "date", "id"),
    )


class LearnProgressRow(Base):
    """How far `twin persona learn` has read a chat, and the bursts it may still extend."""

    __tablename__ = "persona_learn_progress"
    account: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    chat_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(255), default="")
    last_message_id: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    messages_read: Mapped[int] = mapped_column(default=0)
    tail: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"messages": [...]} not yet closed
    updated_at: Mapped[datetime]


class ChatNoteRow(Base):
    """The owner's note about a chat (`twin persona note`) and the persona assigned to it."""

    __tablename__ = "persona_chat_notes"
    account: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    chat_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    note: Mapped[str] = mapped_column(sa.Text, default="")
    persona: Mapped[str | None] = mapped_column(sa.String(64))
    updated_at: Mapped[datetime]


class EvalRunRow(Base):
    """One `twin eval` run: which persona and model, and how close the replies came."""

    __tablename__ = "persona_eval_runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    account: Mapped[str] = mapped_column(sa.String(40), index=True)
    created_at: Mapped[datetime]
    label: Mapped[str] = mapped_column(sa.String(64), default="")
    persona_hash: Mapped[str] = mapped_column(sa.String(64))
    provider: Mapped[str] = mapped_column(sa.String(32), default="")
    model: Mapped[str] = mapped_column(sa.String(128), default="")
    cases: Mapped[int] = mapped_column(default=0)
    score: Mapped[float] = mapped_column(default=0.0)
    scores: Mapped[dict[str, Any]] = mapped_column(default=dict)  # metric means and per-case figures
