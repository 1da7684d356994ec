"""Soak: 24 hours of simulated traffic on the fake clock; the daemon's RSS must not grow beyond 10%.

Run: .venv/bin/python bench/soak_bench.py [--hours 24] [--every 30]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes import FakeClock, incoming  # noqa: E402
from tests.helpers import make_rig  # noqa: E402


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    return 0.0


async def soak(hours: float, every_s: float) -> None:
    clock = FakeClock(auto=False)
    rig = make_rig(Path(tempfile.mkdtemp()), clock=clock, hours__quiet=[], timing__tick_s=2.0,
                   rules__max_turns_per_hour=10**6, rules__max_turns_per_day=10**6, rules__loop_streak=10**6,
                   rules__max_sends_per_hour=10**6)
    rig.llm.default = "sure, sounds good"
    stop = asyncio.Event()
    task = asyncio.create_task(rig.daemon.run(stop))
    await rig.daemon.connected.wait()
    rng = random.Random(7)
    steps = int(hours * 3600 / every_s)
    warm = steps // 24  # the first simulated hour warms caches and the allocator
    started = time.perf_counter()
    base = 0.0
    for step in range(steps):
        chat = 10_000 + rng.randrange(100)
        rig.telegram.push(incoming(f"message {step}", chat_id=chat, message_id=step + 1, date=clock.now()))
        await clock.advance(every_s)
        # The fakes record every prompt, send and sleep for tests to assert on: not the daemon's memory.
        rig.llm.prompts.clear()
        rig.telegram.sent.clear()
        rig.telegram.actions.clear()
        rig.telegram.reads.clear()
        rig.telegram.history_calls.clear()
        clock.slept.clear()
        if step == warm:
            gc.collect()
            base = rss_mb()
    await clock.advance(3600)
    gc.collect()
    end = rss_mb()
    stop.set()
    await asyncio.wait_for(task, 10)
    turns = rig.store.turns("default", limit=10**7)
    answered = sum(t.status == "answered" for t in turns)
    print(f"soak: {hours:g} simulated hours, {steps} messages over 100 chats, {len(turns)} turns "
          f"({answered} answered) in {time.perf_counter() - started:.0f} s wall")
    print(f"soak: RSS after the first hour {base:.1f} MB, after {hours:g} h {end:.1f} MB: "
          f"{(end - base) / base * 100:+.1f}% (target: no growth beyond 10%)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--every", type=float, default=30.0, help="seconds of simulated time between messages")
    args = parser.parse_args()
    asyncio.run(soak(args.hours, args.every))


if __name__ == "__main__":
    main()
