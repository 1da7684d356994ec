"""The store on a real SQLite file: migrations, turns, messages, chats."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from tests.fakes import T0, incoming
from twin.db.engine import MIGRATIONS
from twin.db.store import SCHEMA_HEAD, UNFINISHED, Store
from twin.types import HistoryMessage


def test_schema_head_matches_the_newest_migration():
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(cfg).get_current_head() == SCHEMA_HEAD


def test_migrates_a_new_file_in_wal_mode(tmp_path: Path):
    store = Store(f"sqlite:///{tmp_path}/sub/twin.db")
    assert store.schema_version() == SCHEMA_HEAD
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
    Store(store.url)  # a second open is a no-op


def test_turn_round_trip_with_aware_times(tmp_path: Path):
    store = Store(f"sqlite:///{tmp_path}/t.db")
    msgs = [incoming("a", message_id=1), incoming("b", message_id=2)]
    turn_id = store.add_turn("default", msgs, status="waiting", now=T0)
    store.update_turn(turn_id, T0 + timedelta(seconds=5), status="answered", reply_text="ok", reply_ids=[9],
                      sent_at=T0 + timedelta(seconds=5))
    turn = store.turn(turn_id)
    assert turn.incoming_ids == (1, 2) and turn.incoming_text == "a\nb"
    assert turn.sent_at == T0 + timedelta(seconds=5) and turn.sent_at.tzinfo is not None
    assert store.turn(turn_id, "other-account") is None


def test_turns_filters_and_accounts(tmp_path: Path):
    store = Store(f"sqlite:///{tmp_path}/t.db")
    for i in range(5):
        store.add_turn("default", [incoming(f"m{i}", chat_id=1 + i % 2, message_id=i)], status="answered",
                       now=T0 + timedelta(hours=i))
    store.add_turn("work", [incoming("w", chat_id=1)], status="answered", now=T0)
    assert [t.incoming_text for t in store.turns("default", limit=2)] == ["m4", "m3"]
    assert [t.incoming_text for t in store.turns("default", chat=2)] == ["m3", "m1"]
    assert [t.incoming_text for t in store.turns("default", since=T0 + timedelta(hours=3))] == ["m4", "m3"]
    assert [t.incoming_text for t in store.turns("work")] == ["w"]
    assert store.resolve_chat("default", "alice") == 1 and store.resolve_chat("default", "17") == 17


def test_messages_are_kept_once_and_returned_oldest_first(tmp_path: Path):
    store = Store(f"sqlite:///{tmp_path}/t.db")
    msgs = [HistoryMessage(i, T0 + timedelta(minutes=i), i % 2 == 0, f"t{i}") for i in range(1, 6)]
    store.add_messages("default", 5, msgs)
    store.add_messages("default", 5, msgs[:2])  # duplicates ignored
    assert [m.text for m in store.recent_messages("default", 5, 3)] == ["t3", "t4", "t5"]


def test_unfinished_lists_the_queue_in_order(tmp_path: Path):
    store = Store(f"sqlite:///{tmp_path}/t.db")
    a = store.add_turn("default", [incoming("a")], status="waiting", now=T0)
    store.add_turn("default", [incoming("b")], status="answered", now=T0)
    c = store.add_turn("default", [incoming("c")], status="sending", now=T0)
    assert [t.id for t in store.turns("default", status=UNFINISHED, newest_first=False)] == [a, c]


class _Killed(Exception):
    """Stands in for SIGKILL: the migration stops right after one statement went through."""


def test_a_migration_cut_short_leaves_no_half_made_schema(tmp_path: Path):
    # Found by the crash test: a daemon killed during its first migration left `chats` created and
    # no version row, and every later start failed with "table chats already exists".
    from twin.db.engine import open_engine, upgrade

    url = f"sqlite:///{tmp_path}/twin.db"
    engine = open_engine(url)

    def die_after_chats(conn, cursor, statement, *_args):  # type: ignore[no-untyped-def]
        if statement.lstrip().startswith("CREATE TABLE chats"):
            raise _Killed

    sa.event.listen(engine, "after_cursor_execute", die_after_chats)
    try:
        upgrade(engine)
    except _Killed:
        pass
    else:
        raise AssertionError("the migration was expected to stop after CREATE TABLE chats")
    sa.event.remove(engine, "after_cursor_execute", die_after_chats)
    with engine.connect() as conn:  # nothing of it is left: not the table, not a version row
        names = conn.execute(sa.text("SELECT name FROM sqlite_master WHERE type = 'table'")).scalars().all()
    assert "chats" not in names and "alembic_version" not in names
    engine.dispose()
    store = Store(url)  # the next start migrates from scratch
    assert store.schema_version() == SCHEMA_HEAD
