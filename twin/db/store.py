"""The database behind domain methods: turns, chat messages, chat state.

Opening and migrating is twin.db.engine; rows become values in twin.db.rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from twin.db.derived import ensure_derived
from twin.db.engine import open_engine, schema_version, upgrade
from twin.db.exchange_index import create_exchange_index
from twin.db.rows import ChatState, to_turn
from twin.db.tables import Base, ChatRow, MessageRow, TurnRow
from twin.errors import StoreError
from twin.types import HistoryMessage, Incoming, Turn

SCHEMA_HEAD = "0003"  # the newest migration in twin/db/migrations/versions; a test keeps them equal
UNFINISHED = ("waiting", "composing", "sending")


class Store:
    """Domain methods over one SQLAlchemy engine (SQLite file or any URL)."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        self.engine = open_engine(url)
        self._session = sessionmaker(self.engine, expire_on_commit=False)
        if migrate:
            self.migrate()

    # --- schema -----------------------------------------------------------------------
    def schema_version(self) -> str | None:
        """The applied migration, or None for an empty database (one query when there is a schema)."""
        return schema_version(self.engine)

    def migrate(self) -> None:
        """Bring the schema to the newest migration (Alembic is imported only when needed)."""
        if self.schema_version() == SCHEMA_HEAD:
            return
        upgrade(self.engine)
        self.ensure_search()

    def ensure_search(self) -> None:
        """Indexes models cannot express (FTS5 tables, tsvector columns, stats triggers); idempotent."""
        create_exchange_index(self.engine)
        ensure_derived(self.url)

    def session(self) -> Session:
        return self._session()

    def close(self) -> None:
        self.engine.dispose()

    # --- turns ------------------------------------------------------------------------
    def add_turn(
        self,
        account: str,
        messages: Sequence[Incoming],
        *,
        status: str,
        now: datetime,
        reason: str = "",
        due_at: datetime | None = None,
        extra: dict[str, Any] | None = None,
    ) -> int:
        """Record incoming message(s) as one turn before anything else happens."""
        first = messages[0]
        row = TurnRow(
            account=account,
            chat_id=first.chat_id,
            chat_title=first.chat_title,
            sender_id=first.sender_id,
            sender_name=first.sender_name,
            incoming_ids=[m.message_id for m in messages],
            incoming_text="\n".join(m.text for m in messages if m.text),
            kind=first.kind,
            status=status,
            reason=reason,
            received_at=now,
            due_at=due_at,
            updated_at=now,
            extra=extra or {},
        )
        with self.session() as s, s.begin():
            s.add(row)
            s.flush()
            return row.id

    def update_turn(self, turn_id: int, now: datetime, **values: Any) -> None:
        """Change a turn's fields in one UPDATE (an `extra` given replaces the whole extra)."""
        with self.engine.begin() as conn:
            conn.execute(_TURNS.update().where(_TURNS.c.id == turn_id).values(updated_at=now, **values))

    def turn(self, turn_id: int, account: str | None = None) -> Turn | None:
        """One turn by id (of this account when given)."""
        with self.engine.connect() as conn:
            row = conn.execute(_TURN_BY_ID, {"id": turn_id}).first()
        if row is None or (account is not None and row.account != account):
            return None
        return to_turn(row)

    def turns(
        self,
        account: str,
        *,
        chat: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        status: Iterable[str] | None = None,
        limit: int = 50,
        newest_first: bool = True,
    ) -> list[Turn]:
        """The latest turns matching the filters."""
        query = sa.select(TurnRow).where(TurnRow.account == account)
        if chat is not None:
            query = query.where(TurnRow.chat_id == chat)
        if since is not None:
            query = query.where(TurnRow.received_at >= since)
        if until is not None:
            query = query.where(TurnRow.received_at < until)
        if status is not None:
            query = query.where(TurnRow.status.in_(list(status)))
        order = TurnRow.id.desc() if newest_first else TurnRow.id.asc()
        with self.session() as s:
            rows = s.scalars(query.order_by(order).limit(limit)).all()
        return [to_turn(r) for r in rows]

    def resolve_chat(self, account: str, text: str) -> int | None:
        """A chat id from an id, an @username or a chat title (the latest match)."""
        stripped = text.strip()
        if stripped.lstrip("-").isdigit():
            return int(stripped)
        with self.session() as s:
            if stripped.startswith("@"):
                found = s.scalar(sa.select(ChatRow.chat_id).where(
                    ChatRow.account == account, sa.func.lower(ChatRow.username) == stripped[1:].lower()))
                if found is not None:
                    return int(found)
            found = s.scalar(sa.select(TurnRow.chat_id).where(
                TurnRow.account == account, sa.func.lower(TurnRow.chat_title) == stripped.lower(),
            ).order_by(TurnRow.id.desc()).limit(1))
        return None if found is None else int(found)

    def is_outgoing(self, account: str, chat_id: int, message_id: int) -> bool:
        """Whether the message is one the owner (or the twin) sent in this chat."""
        with self.session() as s:
            return bool(s.scalar(sa.select(MessageRow.outgoing).where(
                MessageRow.account == account, MessageRow.chat_id == chat_id, MessageRow.message_id == message_id)))

    def message_text(self, account: str, chat_id: int, message_id: int) -> str | None:
        """The stored text of one chat message (None when the twin never saw it)."""
        with self.session() as s:
            return s.scalar(sa.select(MessageRow.text).where(
                MessageRow.account == account, MessageRow.chat_id == chat_id, MessageRow.message_id == message_id))

    # --- chat messages ----------------------------------------------------------------
    def add_messages(self, account: str, chat_id: int, messages: Iterable[HistoryMessage]) -> None:
        """Remember chat messages; ones already stored are left as they are."""
        rows = [
            {"account": account, "chat_id": chat_id, "message_id": m.message_id,
             "date": m.date, "outgoing": m.outgoing, "text": m.text}
            for m in messages
        ]
        if rows:
            with self.session() as s, s.begin():
                s.execute(self.insert_ignore(MessageRow), rows)

    def insert_ignore(self, table: type[Base]) -> Any:
        """INSERT that skips rows whose unique key exists (SQLite and PostgreSQL)."""
        dialect = self.engine.dialect.name
        if dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            return sqlite_insert(table).on_conflict_do_nothing()
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            return pg_insert(table).on_conflict_do_nothing()
        raise StoreError(f"unsupported database '{dialect}' (SQLite and PostgreSQL are)")

    def recent_messages(self, account: str, chat_id: int, limit: int) -> list[HistoryMessage]:
        """The chat's last `limit` messages, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(_RECENT, {"account": account, "chat_id": chat_id, "limit": limit}).all()
        return [HistoryMessage(message_id=r.message_id, date=r.date, outgoing=r.outgoing, text=r.text)
                for r in reversed(rows)]

    # --- chats ------------------------------------------------------------------------
    def chat(self, account: str, chat_id: int) -> ChatState | None:
        """A chat's stored state, or None when the twin has never seen it."""
        with self.session() as s:
            row = s.get(ChatRow, (account, chat_id))
        if row is None:
            return None
        return ChatState(row.chat_id, row.title, row.username, row.history_fetched,
                         row.paused_until, row.mode, dict(row.extra))

    def save_chat(self, account: str, chat_id: int, **values: Any) -> None:
        """Create or change a chat's state."""
        with self.session() as s, s.begin():
            row = s.get(ChatRow, (account, chat_id))
            if row is None:
                row = ChatRow(account=account, chat_id=chat_id, title="", history_fetched=False, extra={})
                s.add(row)
            for key, value in values.items():
                setattr(row, key, value)

    def merge_chat_extra(self, account: str, chat_id: int, **values: Any) -> None:
        """Add keys to a chat's extra state (last send, away period, streaks, muted...)."""
        with self.session() as s, s.begin():
            row = s.get(ChatRow, (account, chat_id))
            if row is None:
                row = ChatRow(account=account, chat_id=chat_id, title="", history_fetched=False, extra={})
                s.add(row)
            row.extra = {**(row.extra or {}), **values}


_TURNS = cast(sa.Table, TurnRow.__table__)
_MESSAGES = cast(sa.Table, MessageRow.__table__)
_TURN_BY_ID = sa.select(_TURNS).where(_TURNS.c.id == sa.bindparam("id"))
_RECENT = (
    sa.select(_MESSAGES.c.message_id, _MESSAGES.c.date, _MESSAGES.c.outgoing, _MESSAGES.c.text)
    .where(_MESSAGES.c.account == sa.bindparam("account"), _MESSAGES.c.chat_id == sa.bindparam("chat_id"))
    .order_by(_MESSAGES.c.message_id.desc()).limit(sa.bindparam("limit"))
)


__all__ = ["Store", "ChatState", "Base", "SCHEMA_HEAD"]
