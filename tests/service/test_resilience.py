"""The real daemon against a sandbox as inconvenient as Telegram: it forgets the session, drops the
connection at any point, and sends the twin's own messages back as outgoing ones. Nothing is lost,
nothing doubled, and the twin never takes its own messages for the owner's.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.httpserver import Recorded, Reply, chat_answer
from tests.service_helpers import (
    ROOT,
    events,
    kill_leftovers,
    replies,
    sandbox_env,
    sandbox_login,
    status_file,
    twin,
    wait_for,
)
from twin.db.store import Store
from twin.session.sandbox import SandboxWorld


@pytest.fixture
def home(twin_home: Path):
    yield twin_home
    kill_leftovers(twin_home)


def run_daemon(home: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    full = {k: v for k, v in __import__("os").environ.items() if not k.startswith(("TWIN_", "GEMINI", "OPENAI"))}
    full.update({"TWIN_HOME": str(home), **env})
    return subprocess.Popen([sys.executable, str(ROOT / "cli.py"), "run"], env=full, cwd=home,
                            stdout=subprocess.DEVNULL, stderr=open(home / "daemon.log", "ab"))


def stop(proc: subprocess.Popen[bytes], home: Path) -> None:
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0, (home / "daemon.log").read_text()[-3000:]


def when(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(event["date"])


@pytest.mark.timeout(900)
def test_a_forgotten_session_is_answered_within_the_safety_net(home, server):
    every = 3.0
    server.default = chat_answer
    env = sandbox_env(server, TWIN_TELEGRAM_CATCH_UP_S=str(every))
    sandbox_login(home, env)
    world = SandboxWorld(home / "data" / "sandbox" / "default")
    proc = run_daemon(home, env)
    try:
        wait_for(lambda: status_file(home).get("connected"), timeout=60, what="the daemon to connect")
        world.say("Alice", "warming up")
        wait_for(lambda: len(replies(home)) == 1, timeout=60, what="the first reply")

        world.forget()  # the server restarted and forgot the session: nothing is pushed any more
        said = world.say("Alice", "are you still there?")
        reply = wait_for(lambda: replies(home)[1:], timeout=60, what="the reply after the catch-up")[0]
        diffs = [e for e in events(home) if e["dir"] == "diff" and e["id"] > said["id"]]
        assert diffs and diffs[0]["id"] < reply["id"]  # released by the twin's catch-up, not pushed
        assert (when(reply) - when(said)).total_seconds() < every + 10  # within the safety net (+ a busy machine)
        # `twin status` shows it (the status file is rewritten every few seconds)
        wait_for(lambda: datetime.fromisoformat(status_file(home).get("last_catch_up") or "2000-01-01T00:00+00:00")
                 >= when(diffs[0]), timeout=30, what="the catch-up in the status file")
        report = json.loads(twin(home, "status", "--json", env=env).stdout)
        assert datetime.fromisoformat(report["last_catch_up"]) >= when(diffs[0])
        shown = twin(home, "status", env=env).stdout
        assert "caught up" in shown and "not yet" not in shown
    finally:
        stop(proc, home)
    store = Store(f"sqlite:///{home / 'data' / 'twin.db'}")
    assert [t.status for t in store.turns("default", newest_first=False)] == ["answered", "answered"]


def compose_with_drops(world: SandboxWorld, every: int):
    """The model answers; every `every`-th request the connection drops while the turn is composing."""
    calls = Counter[str]()
    lock = threading.Lock()

    def handle(request: Recorded) -> Reply:
        with lock:
            calls["n"] += 1
            n = calls["n"]
        if n % every == 0:
            world.drop(0.8)
            time.sleep(0.3)
        return chat_answer(request)

    return handle


@pytest.mark.timeout(1200)
def test_connection_drops_anywhere_lose_nothing_double_nothing(home, server):
    world = SandboxWorld(home / "data" / "sandbox" / "default")
    server.default = compose_with_drops(world, every=4)
    env = sandbox_env(server, TWIN_TELEGRAM_CATCH_UP_S="2")
    sandbox_login(home, env)
    rng = random.Random(7)
    contacts = [f"friend{i}" for i in range(5)]
    proc = run_daemon(home, env)
    try:
        wait_for(lambda: status_file(home).get("connected"), timeout=60, what="the daemon to connect")
        for round_no in range(6):
            if round_no % 3 == 1:
                world.drop_on_send(0.7)  # the next send meets a dropped connection
            for _ in range(5):
                world.say(rng.choice(contacts), f"message {rng.randrange(10**6)}")
                time.sleep(rng.uniform(0, 0.15))
                if rng.random() < 0.2:
                    world.drop(rng.uniform(0.2, 1.0))  # at a random moment: idle, composing or sending
            if round_no % 3 == 2:
                wait_for(lambda: all_answered(home, world), timeout=120, what="the round's replies")
                world.drop(1.0)  # while idle; a message comes while the twin is away
                world.say(rng.choice(contacts), "did you get this while offline?")
        wait_for(lambda: all_answered(home, world), timeout=180, what="every message answered")
    finally:
        stop(proc, home)
    report = check_exactly_once(home, world)
    assert report["messages"] == 32 and report["lost"] == 0 and report["doubled"] == 0
    log = (home / "daemon.log").read_text()
    assert "connection lost" in log  # the drops did happen, while sending too


def all_answered(home: Path, world: SandboxWorld) -> bool:
    store = Store(f"sqlite:///{home / 'data' / 'twin.db'}")
    try:
        turns = store.turns("default", limit=10**6)
    finally:
        store.close()
    all_events = world.events()
    incoming = {e["id"] for e in all_events if e["dir"] == "in"}
    covered = {i for t in turns for i in t.incoming_ids}
    done = all(t.status not in ("waiting", "composing", "sending") for t in turns)
    # ... and the twin has seen every event, the echoes of its own replies included
    return covered == incoming and done and world.cursor() >= max((e["id"] for e in all_events), default=0)


def check_exactly_once(home: Path, world: SandboxWorld) -> dict[str, int]:
    """Every message answered (alone or folded into a burst), every answer delivered once, no chat paused."""
    store = Store(f"sqlite:///{home / 'data' / 'twin.db'}")
    turns = store.turns("default", limit=10**6)
    all_events = world.events()
    incoming = {e["id"] for e in all_events if e["dir"] == "in"}
    per_message = Counter(i for t in turns for i in t.incoming_ids)
    answered = [t for t in turns if t.status == "answered"]
    assert Counter(t.status for t in turns) == {"answered": len(turns)}, Counter(t.status for t in turns)
    outs = [e for e in all_events if e["dir"] == "out" and e["chat"] != 1]
    delivered = Counter(e["random_id"] for e in outs)
    lost = len(incoming - {i for t in answered for i in t.incoming_ids})
    doubled = sum(n - 1 for n in delivered.values()) + sum(n - 1 for n in per_message.values())
    assert sorted(delivered) == sorted(t.random_id for t in answered)
    assert all(t.reply_ids and 0 not in t.reply_ids for t in answered), [t.reply_ids for t in answered]
    assert [c.chat_id for c in paused_chats(store)] == []  # no false takeover
    store.close()
    return {"messages": len(incoming), "turns": len(turns), "lost": lost, "doubled": doubled,
            "duplicates_dropped": sum(1 for e in all_events if e["dir"] == "dup")}


def paused_chats(store: Store) -> list[Any]:
    from twin.db.tables import ChatRow

    with store.session() as s:
        return [r for r in s.query(ChatRow).all() if r.paused_until is not None]
