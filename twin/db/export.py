"""Getting data out (JSON Lines, CSV) and forgetting a chat entirely."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, TextIO

from twin.db.reader import Reader, to_turn, turn_columns
from twin.types import Turn, turn_json

if TYPE_CHECKING:
    import sqlalchemy as sa
    from sqlalchemy.orm import Session

    from twin.db.store import Store

CSV_COLUMNS = ("id", "received_at", "chat_id", "chat", "sender", "kind", "incoming", "transcript", "status",
               "reason", "reply", "sent_at", "voice", "provider", "model", "tokens_in", "tokens_out")
BATCH = 5000


def all_turns(reader: Reader, account: str) -> Iterator[Turn]:
    """Every turn of the account, oldest first, read in batches (memory stays flat)."""
    last = 0
    while True:
        rows = reader.rows(f"SELECT {turn_columns()} FROM turns WHERE account = :a AND id > :last "
                           f"ORDER BY id LIMIT {BATCH}", {"a": account, "last": last})
        for row in rows:
            yield to_turn(row)
        if len(rows) < BATCH:
            return
        last = int(rows[-1][0])


def write_jsonl(turns: Iterable[Turn], out: TextIO) -> int:
    """One JSON object per turn (the keys of `twin history --json`); returns how many."""
    count = 0
    for turn in turns:
        out.write(json.dumps(turn_json(turn), ensure_ascii=False) + "\n")
        count += 1
    return count


def write_csv(turns: Iterable[Turn], out: TextIO) -> int:
    """A header and one row per turn; returns how many rows."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    count = 0
    for turn in turns:
        data = turn_json(turn)
        writer.writerow(["" if data[k] is None else data[k] for k in CSV_COLUMNS])
        count += 1
    return count


def _chat_tables(s: Session) -> list[sa.Table]:
    """Every table in the database that keeps rows per (account, chat_id): turns, messages, chats, persona data."""
    import sqlalchemy as sa

    from twin.db.tables import Base

    present = set(sa.inspect(s.connection()).get_table_names())
    return [table for name, table in sorted(Base.metadata.tables.items())
            if name in present and {"account", "chat_id"} <= set(table.columns.keys())]


def forget_counts(store: Store, account: str, chat_id: int) -> dict[str, int]:
    """How many rows each table holds for this chat (what forget() would delete)."""
    import sqlalchemy as sa

    counts: dict[str, int] = {}
    with store.session() as s:
        for table in _chat_tables(s):
            n = s.scalar(sa.select(sa.func.count()).select_from(table).where(
                table.c.account == account, table.c.chat_id == chat_id)) or 0
            if n:
                counts[table.name] = int(n)
    return counts


def forget(store: Store, account: str, chat_id: int) -> dict[str, int]:
    """Delete everything stored for one chat, in one transaction; returns rows deleted per table.

    The full-text entries and cached stats go with the turns (database triggers, see twin.db.derived).
    """
    import sqlalchemy as sa

    deleted: dict[str, int] = {}
    with store.session() as s, s.begin():
        for table in _chat_tables(s):
            result = s.execute(sa.delete(table).where(table.c.account == account, table.c.chat_id == chat_id))
            if getattr(result, "rowcount", 0):
                deleted[table.name] = int(getattr(result, "rowcount", 0))
    return deleted
