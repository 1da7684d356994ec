"""A fast read path for the CLI: plain SQL through the DB-API driver (sqlite3 or psycopg).

`twin status` has 0.3 s and importing SQLAlchemy alone takes about that long, so the read
commands (status, history, show, stats, export) query here; writes and migrations stay in
twin.db.store. Queries are written once with :name parameters and small per-dialect snippets.
Datetimes are stored as naive UTC (see twin.db.tables.UTCDateTime) and come back aware.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from twin.errors import StoreError, TwinError
from twin.types import Turn

TURN_COLUMNS = (
    "id", "account", "chat_id", "chat_title", "sender_id", "sender_name", "incoming_ids", "incoming_text", "kind",
    "status", "reason", "received_at", "reply_text", "reply_ids", "provider", "model", "tokens_in", "tokens_out",
    "sent_at", "transcript", "voice", "random_id", "attempts", "due_at", "extra",
)
SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"  # SQLAlchemy's storage format for DateTime on SQLite
_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


class Reader:
    """One DB-API connection in autocommit mode, with helpers that hide the dialect."""

    def __init__(self, conn: Any, dialect: str) -> None:
        self.conn = conn
        self.dialect = dialect  # "sqlite" | "postgresql"

    def _sql(self, sql: str) -> str:
        if self.dialect == "postgresql":
            return _PARAM.sub(r"%(\1)s", sql.replace("%", "%%"))
        return sql

    def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Run a query and fetch every row."""
        cur = self.conn.execute(self._sql(sql), dict(params or {}))
        return list(cur.fetchall())

    def stream(self, sql: str, params: Mapping[str, Any] | None = None, size: int = 2000) -> Iterator[tuple[Any, ...]]:
        """Run a query and yield its rows in batches (for exports)."""
        cur = self.conn.execute(self._sql(sql), dict(params or {}))
        while batch := cur.fetchmany(size):
            yield from batch

    def value(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        """The first column of the first row, or None."""
        found = self.rows(sql, params)
        return found[0][0] if found else None

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        """Run a statement (DDL or a small write) in its own transaction."""
        self.conn.execute(self._sql(sql), dict(params or {}))

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction (SQLite: BEGIN IMMEDIATE, so writers queue instead of racing)."""
        if self.dialect != "sqlite":
            with self.conn.transaction():
                yield
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def has_table(self, name: str) -> bool:
        """Whether a table (or an FTS virtual table) exists."""
        if self.dialect == "sqlite":
            sql = "SELECT 1 FROM sqlite_master WHERE name = :n"
        else:
            sql = "SELECT 1 FROM pg_catalog.pg_tables WHERE tablename = :n AND schemaname = ANY(current_schemas(false))"
        return self.value(sql, {"n": name}) is not None

    def time(self, when: datetime) -> Any:
        """A datetime as a query parameter in the stored form."""
        naive = when.astimezone(UTC).replace(tzinfo=None)
        return naive.strftime(SQLITE_TIME) if self.dialect == "sqlite" else naive

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def read_time(value: Any) -> datetime | None:
    """A stored datetime (string on SQLite, naive datetime on PostgreSQL) as aware UTC."""
    if value is None:
        return None
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def read_json(value: Any) -> Any:
    """A JSON column: text on SQLite, already parsed by psycopg."""
    return json.loads(value) if isinstance(value, str | bytes) else value


def turn_columns(prefix: str = "") -> str:
    """The turn columns for a SELECT, in TURN_COLUMNS order."""
    return ", ".join(prefix + c for c in TURN_COLUMNS)


def to_turn(row: Sequence[Any]) -> Turn:
    """A row selected with turn_columns() as a Turn."""
    v = dict(zip(TURN_COLUMNS, row, strict=True))
    received = read_time(v["received_at"])
    assert received is not None
    return Turn(
        id=int(v["id"]), account=v["account"], chat_id=int(v["chat_id"]), chat_title=v["chat_title"] or "",
        sender_id=int(v["sender_id"]), sender_name=v["sender_name"] or "",
        incoming_ids=tuple(read_json(v["incoming_ids"]) or ()), incoming_text=v["incoming_text"] or "",
        kind=v["kind"], status=v["status"], reason=v["reason"] or "", received_at=received,
        reply_text=v["reply_text"], reply_ids=tuple(read_json(v["reply_ids"]) or ()), provider=v["provider"] or "",
        model=v["model"] or "", tokens_in=int(v["tokens_in"] or 0), tokens_out=int(v["tokens_out"] or 0),
        sent_at=read_time(v["sent_at"]), transcript=v["transcript"], voice=bool(v["voice"]),
        random_id=v["random_id"], attempts=int(v["attempts"] or 0), due_at=read_time(v["due_at"]),
        extra=dict(read_json(v["extra"]) or {}),
    )


def sqlite_path(url: str) -> Path | None:
    """The file of a sqlite:/// URL (None for other URLs)."""
    for prefix in ("sqlite+pysqlite:///", "sqlite:///"):
        if url.startswith(prefix):
            return Path(url.removeprefix(prefix).split("?", 1)[0])
    return None


def open_reader(url: str) -> Reader | None:
    """A reader on the database, or None when there is none yet (no file, or no turns table)."""
    path = sqlite_path(url)
    if path is not None:
        if not path.exists():
            return None
        try:
            conn = sqlite3.connect(path, isolation_level=None, timeout=10)
            conn.execute("PRAGMA busy_timeout=10000")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the database: {exc}") from None
        reader = Reader(conn, "sqlite")
    elif url.startswith(("postgresql", "postgres")):
        reader = Reader(_pg_connect(url), "postgresql")
    else:
        raise StoreError(f"unsupported database URL '{url.split(':', 1)[0]}' (SQLite and PostgreSQL are)")
    if not reader.has_table("turns"):
        reader.close()
        return None
    return reader


def _pg_connect(url: str) -> Any:
    try:
        import psycopg
    except ImportError:
        raise StoreError("PostgreSQL needs psycopg: pip install 'twin[postgres]'") from None
    conninfo = re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql://", url)
    try:
        return psycopg.connect(conninfo, autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        raise StoreError(f"cannot open the database: {str(exc).strip().splitlines()[0]}") from None


@contextmanager
def reading(url: str) -> Iterator[Reader]:
    """A reader for one command; TwinError when there is no database (or no turns table) yet."""
    reader = open_reader(url)
    if reader is None:
        raise TwinError("no turns yet: the database is empty")
    with reader:
        yield reader
