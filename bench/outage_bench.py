"""Outage: the model's provider is down for 10 simulated minutes while 50 messages come from 10 chats.

Simulated time: the whole daemon (queue, rules, pipeline, SQLite store) runs on the fake clock,
with human delays at full scale; the provider is the scripted one of the tests (every call a 503
or a connection reset while it is down). Prints, per seed: messages answered after recovery,
replies doubled, requests sent to the dead provider, and the time from recovery to the last reply.

Run: .venv/bin/python bench/outage_bench.py [--seeds 5] [--minutes 10] [--messages 50] [--chats 10]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.engine.test_outage import Driver, outage_rig  # noqa: E402
from tests.fakes import DownLLM, FakeClock  # noqa: E402


async def one_run(seed: int, minutes: float, messages: int, chats: int, scale: float) -> dict[str, float]:
    clock = FakeClock(auto=False)
    llm = DownLLM(clock, provider="gemini", default="sorry, I was away: yes, sounds good")
    rig = outage_rig(Path(tempfile.mkdtemp()), llm, clock=clock, **{"timing.scale": scale})
    rig.pipeline.rng.seed(seed)
    rig.daemon.rng.seed(seed + 1)
    driver = Driver(rig)
    await driver.start()
    rng = random.Random(seed)
    outage_s = minutes * 60
    plan = [(rng.uniform(0, outage_s - 5), 5000 + i % chats, f"message {i}") for i in range(messages)]
    llm.down = True
    await driver.run_for(outage_s, plan, step=1.0)
    sent_during = sum(1 for s in rig.telegram.sent if s.chat_id != rig.telegram.me.id)
    llm.down = False
    recovered = clock.now()
    last = await driver.until_answered(step=1.0)
    await driver.finish()

    turns = driver.turns()
    me = rig.telegram.me.id
    sends = [s for s in rig.telegram.sent if s.chat_id != me]
    answered = {m for t in turns if t.status == "answered" and t.sent_at and t.sent_at >= recovered
                for m in t.incoming_ids}
    delivered = Counter(m for t in turns if t.status == "answered" for m in t.incoming_ids)
    doubled = (len(sends) - sum(1 for t in turns if t.status == "answered")) + sum(n - 1 for n in delivered.values())
    first = min(t.sent_at for t in turns if t.sent_at)
    return {
        "answered": len(answered), "messages": messages, "replies": len(sends), "doubled": doubled,
        "sent_during_outage": sent_during, "dead_requests": llm.calls_while_down,
        "first_after_s": (first - recovered).total_seconds(), "last_after_s": (last - recovered).total_seconds(),
        "notices": sum(1 for s in rig.telegram.sent if s.chat_id == me),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--messages", type=int, default=50)
    parser.add_argument("--chats", type=int, default=10)
    parser.add_argument("--scale", type=float, default=1.0, help="timing.scale (1.0: a person's delays)")
    args = parser.parse_args()
    print(f"{args.minutes:g}-minute outage (simulated time, fake clock), {args.messages} messages from "
          f"{args.chats} chats, timing.scale={args.scale:g}, provider: every call 503/reset while down")
    print(f"{'seed':>4} {'answered':>9} {'replies':>7} {'doubled':>7} {'dead reqs':>9} "
          f"{'first reply':>11} {'last reply':>10} {'notices':>7} {'wall':>6}")
    rows = []
    for seed in range(1, args.seeds + 1):
        wall = time.perf_counter()
        r = asyncio.run(one_run(seed, args.minutes, args.messages, args.chats, args.scale))
        wall = time.perf_counter() - wall
        rows.append(r)
        print(f"{seed:>4} {r['answered']:>4.0f}/{r['messages']:<4.0f} {r['replies']:>7.0f} {r['doubled']:>7.0f} "
              f"{r['dead_requests']:>9.0f} {r['first_after_s']:>9.0f} s {r['last_after_s']:>8.0f} s "
              f"{r['notices']:>7.0f} {wall:>5.1f}s")
        assert r["sent_during_outage"] == 0
    print("after recovery: first reply median "
          f"{statistics.median(r['first_after_s'] for r in rows):.0f} s, last reply median "
          f"{statistics.median(r['last_after_s'] for r in rows):.0f} s (max "
          f"{max(r['last_after_s'] for r in rows):.0f} s); requests to the dead provider: "
          f"{min(r['dead_requests'] for r in rows):.0f}-{max(r['dead_requests'] for r in rows):.0f} per outage")


if __name__ == "__main__":
    main()
