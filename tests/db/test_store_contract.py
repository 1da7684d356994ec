"""One suite, every database: SQLite always, PostgreSQL when TWIN_TEST_DATABASE_URL is set.

Each PostgreSQL test runs in a schema of its own (search_path in the URL), dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.fakes import T0, incoming
from tests.helpers import make_settings
from twin.db.derived import ensure_derived
from twin.db.export import all_turns, forget, forget_counts
from twin.db.reader import Reader, open_reader
from twin.db.search import HistoryFilter, find_turns, get_turn, resolve_chat
from twin.db.stats import compute_stats
from twin.db.store import SCHEMA_HEAD, UNFINISHED, Store
from twin.engine.review import approve
from twin.engine.steer import pause, set_mode
from twin.service.status import status_report
from twin.types import HistoryMessage

BIG_CHAT = -1001234567890123  # a supergroup id: needs BIGINT
BIG_USER = 7_000_000_001
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _pg_url(base: str, schema: str) -> str:
    return base + ("&" if "?" in base else "?") + f"options=-csearch_path%3D{schema}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/contract.db"
        return
    base = os.environ.get("TWIN_TEST_DATABASE_URL")
    if not base:
        pytest.skip("PostgreSQL: set TWIN_TEST_DATABASE_URL (scripts/test starts one with scripts/pg-start)")
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base.replace("+psycopg", ""), autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
        try:
            yield _pg_url(base, schema)
        finally:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def store(url: str) -> Iterator[Store]:
    s = Store(url)
    yield s
    s.close()


@pytest.fixture
def reader(store: Store) -> Iterator[Reader]:
    r = open_reader(store.url)
    assert r is not None
    yield r
    r.close()


def _answered(store: Store, text: str, reply: str, *, chat: int = 1, at: datetime = T0, account: str = "default",
              delay_s: float = 30.0, **values: object) -> int:
    turn_id = store.add_turn(account, [incoming(text, chat_id=chat, chat_title=f"chat{chat}")], status="waiting",
                             now=at)
    store.update_turn(turn_id, at, status="answered", reply_text=reply, sent_at=at + timedelta(seconds=delay_s),
                      provider="gemini", model="gemini-2.5-flash", tokens_in=100, tokens_out=10, **values)
    return turn_id


def test_schema_and_turn_round_trip_with_big_ids_and_json(store: Store, reader: Reader):
    assert store.schema_version() == SCHEMA_HEAD
    turn_id = store.add_turn("default", [incoming("héllo 👋", chat_id=BIG_CHAT, sender_id=BIG_USER, message_id=2**40)],
                             status="waiting", now=T0, due_at=T0, extra={"seed": 7, "nested": {"a": [1, "ü"]}})
    store.update_turn(turn_id, T0, status="sending", random_id=2**62 + 5, reply_ids=[2**40 + 1])
    steps = {"typing": (T0 + timedelta(seconds=3)).isoformat()}
    store.update_turn(turn_id, T0, extra={"seed": 7, "nested": {"a": [1, "ü"]}, "context": [], "steps": steps})
    for turn in (store.turn(turn_id), get_turn(reader, "default", turn_id)):
        assert turn is not None
        assert (turn.chat_id, turn.sender_id, turn.random_id) == (BIG_CHAT, BIG_USER, 2**62 + 5)
        assert turn.incoming_ids == (2**40,) and turn.reply_ids == (2**40 + 1,) and turn.incoming_text == "héllo 👋"
        assert turn.received_at == T0 and turn.received_at.tzinfo is not None and turn.due_at == T0
        assert turn.extra["nested"] == {"a": [1, "ü"]} and turn.extra["steps"]["typing"] == "2026-11-02T10:00:03+00:00"
    assert store.turn(turn_id) == get_turn(reader, "default", turn_id)  # both read paths agree, field by field
    assert get_turn(reader, "other", turn_id) is None


def test_turn_queries_messages_and_chats(store: Store, reader: Reader):
    ids = [_answered(store, f"m{i}", f"r{i}", chat=1 + i % 2, at=T0 + timedelta(hours=i)) for i in range(5)]
    waiting = store.add_turn("default", [incoming("w", chat_id=3)], status="waiting", now=T0)
    store.add_turn("work", [incoming("x", chat_id=1)], status="waiting", now=T0)
    assert [t.id for t in store.turns("default", chat=2)] == [ids[3], ids[1]]
    assert [t.id for t in store.turns("default", since=T0 + timedelta(hours=3))] == [ids[4], ids[3]]
    assert [t.id for t in store.turns("default", status=UNFINISHED, newest_first=False)] == [waiting]
    msgs = [HistoryMessage(i, T0 + timedelta(minutes=i), i % 2 == 0, f"t{i}") for i in (1, 2, 3)]
    store.add_messages("default", BIG_CHAT, msgs)
    store.add_messages("default", BIG_CHAT, msgs[:2])  # ON CONFLICT DO NOTHING on both databases
    assert [m.text for m in store.recent_messages("default", BIG_CHAT, 2)] == ["t2", "t3"]
    store.save_chat("default", BIG_CHAT, title="Big Group", username="BigGroup")
    store.merge_chat_extra("default", BIG_CHAT, muted=True, streak={"n": 2})
    state = store.chat("default", BIG_CHAT)
    assert state is not None and state.extra == {"muted": True, "streak": {"n": 2}} and state.title == "Big Group"
    assert resolve_chat(reader, "default", "@biggroup") == BIG_CHAT == resolve_chat(reader, "default", "big group")
    assert resolve_chat(reader, "default", "chat2") == 2 and resolve_chat(reader, "default", "nobody") is None
    page = find_turns(reader, "default", HistoryFilter(statuses=("answered",), limit=2, page=2))
    assert [t.id for t in page] == [ids[2], ids[1]]
    assert [t.id for t in all_turns(reader, "default")] == [*ids, waiting]


def test_full_text_search_follows_every_change(store: Store, reader: Reader):
    def search(text: str, account: str = "default") -> list[int]:
        return [t.id for t in find_turns(reader, account, HistoryFilter(text=text, limit=50))]

    a = _answered(store, "dinner on friday?", "sounds great")
    b = store.add_turn("default", [incoming("", chat_id=1, kind="voice")], status="waiting", now=T0)
    store.update_turn(b, T0, transcript="remember the Friday concert")
    c = _answered(store, "friday plans", "no plans", account="work")
    assert search("friday") == [b, a] and search("FRIDAY dinner") == [a] and search("friday", "work") == [c]
    assert search("great") == [a] and search("concert") == [b]
    store.update_turn(a, T0, reply_text="cannot make it")  # the index follows an edited reply
    assert search("great") == [] and search("cannot") == [a]
    ensure_derived(store.url)  # idempotent
    assert search("cannot") == [a]
    forget(store, "default", 1)
    assert search("friday") == [] and search("friday", "work") == [c]


def test_stats_cache_is_used_and_invalidated(store: Store, reader: Reader):
    day = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)
    ids = [_answered(store, f"m{i}", "ok", chat=1 + i % 3, at=day + timedelta(hours=i), delay_s=10 * (i + 1))
           for i in range(10)]
    store.add_turn("default", [incoming("bot", chat_id=9)], status="skipped", reason="sender is a bot", now=day)
    _answered(store, "other account", "ok", account="work", at=day)

    def stats() -> object:
        return compute_stats(reader, "default", since=day - timedelta(days=2), until=None, now=NOW, tz=UTC)

    first = stats()
    assert (first.turns, first.replies, first.days_computed) == (11, 10, 11)  # whole days 9 to 19 November
    assert (first.delay_median_s, first.delay_p90_s) == (50.0, 95.0)  # 90 s falls in the 10 s bucket 90-100
    assert first.per_chat[0] == (1, "chat1", 4) and first.skips == [("skipped", "sender is a bot", 1)]
    assert first.providers[0].tokens_in == 1000 and [n for d, n in first.per_day if n] == [10]
    again = stats()
    assert again.days_computed == 0 and again.as_json() == first.as_json()
    store.update_turn(ids[0], NOW, status="failed", reason="send failed")  # a change in a cached day
    changed = stats()
    assert changed.days_computed == 1 and changed.replies == 9 and ("failed", "send failed", 1) in changed.skips
    forget(store, "default", 9)
    assert stats().skips == [("failed", "send failed", 1)]
    partial = compute_stats(reader, "default", since=day + timedelta(hours=4, minutes=30),
                            until=day + timedelta(hours=7, minutes=30), now=NOW, tz=UTC)
    assert partial.turns == 3 and partial.days_computed == 0


def test_forget_removes_one_chat_everywhere(store: Store, reader: Reader):
    _answered(store, "keep me", "ok", chat=1)
    _answered(store, "forget me", "ok", chat=2)
    _answered(store, "other account", "ok", chat=2, account="work")
    store.add_messages("default", 2, [HistoryMessage(1, T0, False, "forget me")])
    store.save_chat("default", 2, title="Bob", mode="off")
    assert forget_counts(store, "default", 2) == {"chats": 1, "messages": 1, "turns": 1}
    assert forget(store, "default", 2) == {"chats": 1, "messages": 1, "turns": 1}
    assert [t.incoming_text for t in store.turns("default")] == ["keep me"]
    assert store.chat("default", 2) is None and store.recent_messages("default", 2, 5) == []
    assert [t.incoming_text for t in store.turns("work")] == ["other account"]


def test_steering_and_status_read_back(store: Store, twin_home: Path):
    settings = make_settings(twin_home).__class__(**{**make_settings(twin_home).__dict__, "database_url": store.url})
    _answered(store, "hi", "hello", chat=5, at=NOW - timedelta(minutes=3))
    draft = store.add_turn("default", [incoming("a question", chat_id=5, chat_title="chat5")], status="review",
                           now=NOW)
    store.update_turn(draft, NOW, reply_text="a draft")
    store.add_turn("default", [incoming("queued", chat_id=6)], status="waiting", now=NOW)
    pause(store, "default", 6, NOW + timedelta(hours=1))
    pause(store, "default", None, None)
    set_mode(store, "default", None, "review")
    set_mode(store, "default", 5, "off")
    report = status_report(settings, NOW)
    assert report["queue"] == {"review": 1, "waiting": 1, "composing": 0, "sending": 0}
    assert report["mode"] == "review" and report["chat_modes"] == [{"chat_id": 5, "chat": "chat5", "mode": "off"}]
    assert [(p["chat_id"], p["until"]) for p in report["pauses"]] == [(0, None), (6, "2026-11-20T13:00:00+00:00")]
    assert report["last_reply"]["chat_id"] == 5 and report["running"] is False
    approve(store, draft, "the final text", NOW)
    assert status_report(settings, NOW)["queue"]["review"] == 0


def test_two_accounts_share_one_database(url: str):
    a, b = Store(url), Store(url)  # two daemons on one database; the second open finds it migrated
    _answered(a, "for alice's twin", "ok", account="alice")
    _answered(b, "for bob's twin", "ok", account="bob")
    a.add_messages("alice", 1, [HistoryMessage(1, T0, False, "x")])
    b.add_messages("bob", 1, [HistoryMessage(1, T0, False, "y")])  # same chat and message id, other account
    pause(a, "alice", None, None)
    assert [t.incoming_text for t in a.turns("alice")] == ["for alice's twin"]
    assert [t.incoming_text for t in b.turns("bob")] == ["for bob's twin"]
    assert [m.text for m in b.recent_messages("bob", 1, 5)] == ["y"] and b.chat("bob", 0) is None
    reader = open_reader(url)
    assert reader is not None
    with reader:
        assert [t.incoming_text for t in find_turns(reader, "bob", HistoryFilter(text="twin"))] == ["for bob's twin"]
        assert compute_stats(reader, "alice", since=None, until=None, now=NOW, tz=UTC).turns == 1
    a.close()
    b.close()
