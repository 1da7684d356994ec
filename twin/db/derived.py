"""Data the database derives from turns by itself: a full-text index and a per-day stats cache.

Both are raw DDL, created by ensure_derived() (idempotent, cheap when everything exists) and
kept in sync by the database, so no code path that writes turns has to remember them:

- full text over incoming text, transcripts and replies: on SQLite an external-content FTS5
  table `turns_fts` with triggers; on PostgreSQL a GIN index on SEARCH_VECTOR.
- `turn_stats_days`: one row of aggregates per (account, UTC day) for `twin stats`; a trigger
  deletes a day's row whenever a turn of that day is written, so a cached day is never stale.
  On PostgreSQL the trigger and the cache writer share an advisory lock per day (no race).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from twin.db.reader import Reader

FTS = "turns_fts"
STATS = "turn_stats_days"
SEARCH_VECTOR = ("to_tsvector('simple', coalesce(incoming_text, '') || ' ' || coalesce(transcript, '') || ' ' || "
                 "coalesce(reply_text, ''))")
_STATS_COLUMNS = "status, reason, chat_id, provider, model, voice, kind, tokens_in, tokens_out, sent_at, received_at"
_TEXT = "incoming_text, transcript, reply_text"
_OLD = "old.incoming_text, old.transcript, old.reply_text"
_NEW = "new.incoming_text, new.transcript, new.reply_text"


def _drop_day(row: str) -> str:
    return f"DELETE FROM {STATS} WHERE account = {row}.account AND day = substr({row}.received_at, 1, 10);"


SQLITE_FTS = (
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS} USING fts5({_TEXT}, content='turns', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 2')",
    f"CREATE TRIGGER IF NOT EXISTS {FTS}_ai AFTER INSERT ON turns BEGIN "
    f"INSERT INTO {FTS}(rowid, {_TEXT}) VALUES (new.id, {_NEW}); END",
    f"CREATE TRIGGER IF NOT EXISTS {FTS}_ad AFTER DELETE ON turns BEGIN "
    f"INSERT INTO {FTS}({FTS}, rowid, {_TEXT}) VALUES ('delete', old.id, {_OLD}); END",
    f"CREATE TRIGGER IF NOT EXISTS {FTS}_au AFTER UPDATE OF {_TEXT} ON turns BEGIN "
    f"INSERT INTO {FTS}({FTS}, rowid, {_TEXT}) VALUES ('delete', old.id, {_OLD}); "
    f"INSERT INTO {FTS}(rowid, {_TEXT}) VALUES (new.id, {_NEW}); END",
)
SQLITE_STATS = (
    f"CREATE TABLE IF NOT EXISTS {STATS} (account VARCHAR(40) NOT NULL, day VARCHAR(10) NOT NULL, "
    "data TEXT NOT NULL, PRIMARY KEY (account, day))",
    f"CREATE TRIGGER IF NOT EXISTS {STATS}_ai AFTER INSERT ON turns BEGIN {_drop_day('new')} END",
    f"CREATE TRIGGER IF NOT EXISTS {STATS}_ad AFTER DELETE ON turns BEGIN {_drop_day('old')} END",
    f"CREATE TRIGGER IF NOT EXISTS {STATS}_au AFTER UPDATE OF {_STATS_COLUMNS} ON turns BEGIN "
    f"{_drop_day('old')} {_drop_day('new')} END",
)
SQLITE_NAMES = (FTS, f"{FTS}_ai", f"{FTS}_ad", f"{FTS}_au", STATS, f"{STATS}_ai", f"{STATS}_ad", f"{STATS}_au")

_PG_DROP = """
    PERFORM pg_advisory_xact_lock(hashtext('twin-stats ' || {r}.account || ' ' ||
                                           to_char({r}.received_at, 'YYYY-MM-DD')));
    DELETE FROM turn_stats_days WHERE account = {r}.account AND day = to_char({r}.received_at, 'YYYY-MM-DD');"""
PG_DDL = (
    f"CREATE INDEX IF NOT EXISTS ix_turns_fts ON turns USING gin ({SEARCH_VECTOR})",
    f"CREATE TABLE IF NOT EXISTS {STATS} (account VARCHAR(40) NOT NULL, day VARCHAR(10) NOT NULL, "
    "data TEXT NOT NULL, PRIMARY KEY (account, day))",
    "CREATE OR REPLACE FUNCTION twin_turn_stats_dirty() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n"
    f"  IF TG_OP <> 'INSERT' THEN {_PG_DROP.format(r='OLD')}\n  END IF;\n"
    f"  IF TG_OP <> 'DELETE' THEN {_PG_DROP.format(r='NEW')}\n  END IF;\n  RETURN NULL;\nEND $$",
    f"CREATE OR REPLACE TRIGGER turn_stats_dirty AFTER INSERT OR DELETE OR UPDATE OF {_STATS_COLUMNS} ON turns "
    "FOR EACH ROW EXECUTE FUNCTION twin_turn_stats_dirty()",
)
PG_PRESENT = (
    "SELECT (SELECT count(*) FROM pg_indexes WHERE indexname IN ('ix_turns_fts', 'ix_turns_account_status') "
    "AND schemaname = current_schema())"
    " + (SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE t.tgname = 'turn_stats_dirty'"
    " AND c.relnamespace = current_schema()::regnamespace)"
    f" + (SELECT count(*) FROM pg_tables WHERE tablename = '{STATS}' AND schemaname = current_schema())"
)


def _sqlite_present(reader: Reader) -> set[str]:
    names = ", ".join(f"'{n}'" for n in SQLITE_NAMES)
    return {str(r[0]) for r in reader.rows(f"SELECT name FROM sqlite_master WHERE name IN ({names})")}


def ensure_derived_reader(reader: Reader) -> None:
    """Create the full-text index and the stats cache when missing, over a DB-API reader."""
    if reader.dialect == "sqlite":
        if len(_sqlite_present(reader)) == len(SQLITE_NAMES):
            return
        with reader.transaction():
            present = _sqlite_present(reader)  # again, under the write lock
            for ddl in (*SQLITE_FTS, *SQLITE_STATS):
                reader.execute(ddl)
            if not {FTS, f"{FTS}_ai", f"{FTS}_ad", f"{FTS}_au"} <= present:
                reader.execute(f"INSERT INTO {FTS}({FTS}) VALUES ('rebuild')")
            if not {f"{STATS}_ai", f"{STATS}_ad", f"{STATS}_au"} <= present:
                reader.execute(f"DELETE FROM {STATS}")  # written while nothing invalidated it
        return
    if reader.value(PG_PRESENT) == 4:
        return
    with reader.transaction():
        reader.execute("SELECT pg_advisory_xact_lock(hashtext('twin-ddl'))")
        trigger_missing = reader.value(
            "SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE t.tgname = "
            "'turn_stats_dirty' AND c.relnamespace = current_schema()::regnamespace") == 0
        fts_missing = reader.value("SELECT to_regclass('ix_turns_fts') IS NULL")
        for ddl in PG_DDL:
            reader.execute(ddl)
        if trigger_missing:
            reader.execute(f"DELETE FROM {STATS}")
        if fts_missing:
            # Statistics on the new expression index let the planner tell rare words (bitmap scan) from
            # common ones (newest-first scan); without them a rare word scans the table backwards.
            reader.execute("ANALYZE turns")


def ensure_derived(url: str) -> None:
    """Create the full-text index and the stats cache when missing (call once after migrating)."""
    from twin.db.reader import open_reader

    reader = open_reader(url)
    if reader is not None:
        with reader:
            ensure_derived_reader(reader)
