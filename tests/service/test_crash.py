"""Crash safety: SIGKILL the real daemon at random moments; nothing lost, nothing doubled."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from tests.httpserver import Recorded, Reply
from twin.db.store import Store
from twin.session.sandbox import SandboxTelegram, SandboxWorld

ROOT = Path(__file__).resolve().parents[2]
ROUNDS = 12
PER_ROUND = 25
CONTACTS = [f"contact{i}" for i in range(20)]


def echo(request: Recorded) -> Reply:
    body = request.json()
    last = body["messages"][-1]["content"]
    return Reply(200, {"choices": [{"message": {"role": "assistant", "content": f"re: {last[-40:]}"}}]})


def daemon_env(home: Path, url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWIN_", "GEMINI", "OPENAI"))}
    env.update({
        "TWIN_HOME": str(home), "TWIN_TELEGRAM_BACKEND": "sandbox", "TWIN_LLM_PROVIDER": "openai",
        "TWIN_LLM_BASE_URL": url + "/v1", "OPENAI_API_KEY": "test-key", "TWIN_LLM_RETRIES": "0",
        "TWIN_TIMING_SCALE": "0", "TWIN_TIMING_TICK_S": "0.2", "TWIN_HOURS_QUIET": "[]",
        "TWIN_RULES_LOOP_STREAK": "1000000", "TWIN_RULES_MAX_TURNS_PER_HOUR": "1000000",
        "TWIN_RULES_MAX_TURNS_PER_DAY": "1000000", "TWIN_RULES_MAX_SENDS_PER_HOUR": "1000000",
    })
    return env


def start(home: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, str(ROOT / "cli.py"), "run"], env=env, cwd=home,
                            stdout=subprocess.DEVNULL, stderr=open(home / "daemon.log", "ab"))


async def run_crash(home: Path, url: str, *, rounds: int = ROUNDS, per_round: int = PER_ROUND,
                    seed: int = 2026) -> dict[str, int]:
    """Write messages while killing the daemon at random moments; check every one; return the counts."""
    world = SandboxWorld(home / "data" / "sandbox" / "default")
    await SandboxTelegram(world, home / "sessions" / "default.sandbox.json").sign_in_code("+99966", "12345", None)  # type: ignore[arg-type]
    env = daemon_env(home, url)
    rng = random.Random(seed)
    kills = 0
    for _ in range(rounds):
        proc = start(home, env)
        for _ in range(per_round):
            world.say(rng.choice(CONTACTS), f"message {rng.randrange(10**6)}")
            time.sleep(rng.uniform(0, 0.02))  # arrival spacing only; correctness does not depend on it
        time.sleep(rng.uniform(0.0, 1.5))  # the kill lands at a random point of start-up or work
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        kills += 1
    proc = start(home, env)
    store = Store(f"sqlite:///{home / 'data' / 'twin.db'}")
    incoming_ids = {e["id"] for e in world.events() if e["dir"] == "in"}
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        turns = store.turns("default", limit=10**6)
        covered = {i for t in turns for i in t.incoming_ids}
        if covered == incoming_ids and all(t.status not in ("waiting", "composing", "sending") for t in turns):
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0, (home / "daemon.log").read_text()[-2000:]

    turns = store.turns("default", limit=10**6)
    events = world.events()
    # every incoming message belongs to exactly one turn, and every turn reached a final state
    per_message = Counter(i for t in turns for i in t.incoming_ids)
    assert set(per_message) == incoming_ids and set(per_message.values()) == {1}
    assert {t.status for t in turns} <= {"answered", "skipped", "stale"}, Counter(t.status for t in turns)
    answered = [t for t in turns if t.status == "answered"]
    assert len(answered) >= len(turns) * 0.9
    # exactly one delivered message per answered turn, identified by its random_id
    outs = [e for e in events if e["dir"] == "out"]
    delivered = Counter(e["random_id"] for e in outs)
    assert set(delivered.values()) == {1}
    assert sorted(delivered) == sorted(t.random_id for t in answered)
    # per chat: as many answers delivered as answered turns, never a second answer to one turn
    assert Counter(e["chat"] for e in outs) == Counter(t.chat_id for t in answered)
    return {"kills": kills, "messages": len(incoming_ids), "turns": len(turns), "answered": len(answered),
            "deduplicated_retries": sum(1 for e in events if e["dir"] == "dup"), "lost": 0, "doubled": 0}


async def test_sigkill_at_random_points_loses_and_doubles_nothing(twin_home, server):
    server.default = echo
    report = await run_crash(twin_home, server.url)
    assert report["kills"] == ROUNDS and report["messages"] == ROUNDS * PER_ROUND
