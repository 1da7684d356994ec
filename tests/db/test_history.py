"""Reviewing what the twin did, on a seeded SQLite file: history filters, search, paging, CSV/JSON,
show, stats, export and forget — each through the real CLI."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.fakes import incoming
from tests.service_helpers import twin
from twin.db.store import Store
from twin.types import HistoryMessage

NOW = datetime.now(UTC).replace(microsecond=0)


def seed(home: Path) -> dict[str, int]:
    """A small account history (ids by name) plus another account's turn."""
    store = Store(f"sqlite:///{home / 'data' / 'twin.db'}")
    ids: dict[str, int] = {}

    def add(name: str, text: str, chat: int, title: str, ago: timedelta, status: str, **values: object) -> None:
        at = NOW - ago
        extra = values.pop("extra", {})
        account = str(values.pop("account", "default"))
        turn_id = store.add_turn(account, [incoming(text, chat_id=chat, chat_title=title, sender_name=title,
                                                    kind=str(values.pop("kind", "text")))],
                                 status=status, reason=str(values.pop("reason", "")), now=at, extra=extra)
        if values:
            store.update_turn(turn_id, at, **values)
        ids[name] = turn_id

    steps = {"received": (NOW - timedelta(minutes=30)).isoformat(), "read": (NOW - timedelta(minutes=29)).isoformat(),
             "typing": (NOW - timedelta(seconds=1760)).isoformat(), "sent": (NOW - timedelta(seconds=1740)).isoformat()}
    add("meeting", "are we meeting tomorrow?", 1, "Alice", timedelta(minutes=30), "answered",
        reply_text="yes, at noon", sent_at=NOW - timedelta(seconds=1740), provider="gemini",
        model="gemini-2.5-flash", tokens_in=500, tokens_out=20,
        extra={"steps": steps, "context": [{"out": False, "text": "hey"}, {"out": True, "text": "hi!"}],
               "examples": [{"contact": "lunch tomorrow?", "owner": "sure, 1pm", "score": 0.82}]})
    add("voice", "", 1, "Alice", timedelta(hours=3), "answered", kind="voice", transcript="call me about the concert",
        reply_text="sure, calling later", voice=True, sent_at=NOW - timedelta(hours=3) + timedelta(minutes=5),
        provider="openai", model="gpt-4o-mini", tokens_in=300, tokens_out=10)
    add("bot", "buy crypto now", 2, "Bob", timedelta(days=2), "skipped", reason="sender is a bot")
    add("failed", "ping", 2, "Bob", timedelta(days=1), "failed", reason="model failed: 429")
    add("money", "lend me money?", 3, "Carol", timedelta(hours=1), "needs_owner", reason="guarded topic: money")
    add("draft", "hello?", 3, "Carol", timedelta(minutes=10), "review", reply_text="hi Carol!")
    for i in range(24):
        add(f"filler{i}", f"filler message {i}", 4, "Dave", timedelta(days=5, minutes=-i), "answered",
            reply_text=f"ok {i}", sent_at=NOW - timedelta(days=5, minutes=-i) + timedelta(seconds=30),
            provider="gemini", model="gemini-2.5-flash", tokens_in=100, tokens_out=5)
    add("work", "meeting notes for work", 9, "Boss", timedelta(minutes=5), "answered", account="work")
    store.save_chat("default", 1, title="Alice", username="alice_w")
    store.add_messages("default", 2, [HistoryMessage(1, NOW, False, "buy crypto now")])
    store.close()
    return ids


def history(home: Path, *args: str) -> list[dict]:
    out = twin(home, "history", "--json", *args)
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines()]


def texts(rows: list[dict]) -> list[str]:
    return [r["incoming"] or r["transcript"] for r in rows]


@pytest.fixture
def ids(twin_home: Path) -> dict[str, int]:
    return seed(twin_home)


def test_filters_by_chat_status_voice_and_time(twin_home, ids):
    h = twin_home
    # --json lists a page oldest first (by id)
    assert [r["id"] for r in history(h, "--chat", "@alice_w")] == [ids["meeting"], ids["voice"]]
    assert [r["id"] for r in history(h, "--chat", "alice")] == [ids["meeting"], ids["voice"]]
    assert [r["id"] for r in history(h, "--chat", "2")] == [ids["bot"], ids["failed"]]
    assert texts(history(h, "--status", "needs_owner")) == ["lend me money?"]
    assert texts(history(h, "--status", "skipped,failed")) == ["buy crypto now", "ping"]
    assert texts(history(h, "--status", "review")) == ["hello?"]
    assert texts(history(h, "--voice")) == ["call me about the concert"]
    assert texts(history(h, "--since", "2h")) == ["are we meeting tomorrow?", "lend me money?", "hello?"]
    assert texts(history(h, "--since", "3d", "--until", "2h", "--chat", "Bob")) == ["buy crypto now", "ping"]
    bad = twin(h, "history", "--status", "answred")
    assert bad.returncode == 1 and "unknown status 'answred'" in bad.stderr


def test_search_covers_messages_transcripts_and_replies_of_this_account(twin_home, ids):
    h = twin_home
    assert [r["id"] for r in history(h, "--search", "meeting")] == [ids["meeting"]]  # not the work account's
    assert [r["id"] for r in history(h, "--search", "concert")] == [ids["voice"]]  # in the transcript
    assert [r["id"] for r in history(h, "--search", "NOON")] == [ids["meeting"]]  # in the reply, any case
    assert [r["id"] for r in history(h, "--search", "we tomorrow")] == [ids["meeting"]]  # every word
    assert history(h, "--search", "tomorrow concert") == []
    assert len(history(h, "--search", "filler", "--limit", "100")) == 24
    assert [r["id"] for r in history(h, "--search", "filler", "--chat", "Dave", "--limit", "2")] == \
        [ids["filler22"], ids["filler23"]]  # the newest two
    assert [r["id"] for r in twin_rows(h, "--account", "work", "history", "--json", "--search", "meeting")] == \
        [ids["work"]]


def twin_rows(home: Path, *args: str) -> list[dict]:
    return [json.loads(x) for x in twin(home, *args).stdout.splitlines()]


def test_paging_json_csv_and_the_table(twin_home, ids):
    h = twin_home
    page1 = history(h, "--limit", "4")
    page2 = history(h, "--limit", "4", "--page", "2")
    newest = sorted(ids[k] for k in ids if k != "work")[::-1]
    assert [r["id"] for r in page1] == sorted(newest[:4]) and [r["id"] for r in page2] == sorted(newest[4:8])
    table = twin(h, "history", "--limit", "4").stdout
    assert "page 1 · older: --page 2" in table and "filler message 23" in table and "ok 23" in table
    last = twin(h, "history", "--limit", "4", "--page", "8").stdout
    assert "page 8 · the oldest" in last
    out = twin(h, "history", "--csv", "--chat", "Alice")
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert [r["status"] for r in rows] == ["answered", "answered"]
    assert rows[1]["transcript"] == "call me about the concert" and rows[1]["voice"] == "True"
    assert rows[0]["reply"] == "yes, at noon" and rows[0]["tokens_in"] == "500" and rows[0]["chat"] == "Alice"


def test_show_has_steps_reason_model_context_and_examples(twin_home, ids):
    out = twin(twin_home, "show", str(ids["meeting"]))
    assert out.returncode == 0, out.stderr
    for text in ("steps", "received", "typing", "40 s", "sent", "60 s", "gemini gemini-2.5-flash", "500 in / 20 out",
                 "context (2 messages)", "owner: hi!", "examples (1)", "[0.82] contact: lunch tomorrow?", "delay"):
        assert text in out.stdout, text
    skipped = twin(twin_home, "show", str(ids["bot"])).stdout
    assert "sender is a bot" in skipped
    assert "waiting for you" in twin(twin_home, "show", str(ids["draft"])).stdout
    assert twin(twin_home, "--account", "work", "show", str(ids["meeting"])).returncode == 1


def test_stats_numbers_and_chart(twin_home, ids):
    out = twin(twin_home, "stats", "--since", "all", "--json")
    assert out.returncode == 0, out.stderr
    s = json.loads(out.stdout)
    assert s["turns"] == 30 and s["replies"] == 26
    assert s["per_chat"][0] == {"chat_id": 4, "chat": "Dave", "replies": 24}
    assert {"status": "needs_owner", "reason": "guarded topic: money", "turns": 1} in s["skips"]
    assert {"status": "review", "reason": "", "turns": 1} in s["skips"]
    assert s["delay_median_s"] == 30.0 and s["delay_p90_s"] == 30.0  # 24 x 30 s, 1 x 60 s, 1 x 5 min
    assert s["voice_in_share"] == pytest.approx(1 / 30) and s["voice_out_share"] == pytest.approx(1 / 26)
    gemini = next(p for p in s["providers"] if p["provider"] == "gemini")
    assert (gemini["turns"], gemini["tokens_in"], gemini["tokens_out"]) == (25, 2900, 140)
    assert gemini["cost_usd"] == pytest.approx((2900 * 0.30 + 140 * 2.50) / 1e6) and s["cost_is_estimate"]
    assert sum(n for _, n in s["per_day"]) == 26
    recent = json.loads(twin(twin_home, "stats", "--since", "1d", "--json").stdout)
    assert recent["turns"] == 4 and recent["replies"] == 2
    table = twin(twin_home, "stats", "--since", "7d").stdout
    assert "█" in table and "Dave" in table and "estimate" in table and "sender is a bot" in table


def test_export_and_forget(twin_home, ids):
    out = twin(twin_home, "export")
    rows = [json.loads(x) for x in out.stdout.splitlines()]
    assert len(rows) == 30 and rows[0]["id"] < rows[-1]["id"] and {r["account"] for r in rows} == {"default"}
    assert twin(twin_home, "export", "--out", str(twin_home / "all.jsonl")).stdout.strip().startswith("30 turns")
    assert len((twin_home / "all.jsonl").read_text().splitlines()) == 30

    kept = twin(twin_home, "forget", "Bob", stdin="n\n")
    assert kept.returncode == 1 and "1 messages, 2 turns of chat 2" in kept.stdout
    assert len(history(twin_home, "--chat", "2")) == 2
    gone = twin(twin_home, "forget", "Bob", "--yes")
    assert gone.returncode == 0 and "3 rows deleted" in gone.stdout
    assert history(twin_home, "--chat", "2") == [] and history(twin_home, "--search", "crypto") == []
    store = Store(f"sqlite:///{twin_home / 'data' / 'twin.db'}")
    assert store.recent_messages("default", 2, 10) == []
    again = twin(twin_home, "forget", "2", "--yes")
    assert again.returncode == 1 and "nothing is stored for chat 2" in again.stderr


@pytest.mark.parametrize("command", [("history",), ("history", "--search", "noon"), ("show", "1"), ("stats",),
                                     ("status",), ("export",)])
def test_read_commands_import_no_sdk_and_no_sqlalchemy(twin_home, ids, command):
    out = twin(twin_home, *command, env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert out.returncode == 0, out.stderr
    loaded = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in out.stderr.splitlines() if "|" in line}
    assert "typer" in loaded  # the import log is there
    assert not loaded & {"sqlalchemy", "telethon", "google", "openai", "elevenlabs", "llama_cpp", "asyncio"}
