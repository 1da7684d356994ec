"""Queue numbers: burst ingest rate into the durable queue, drain time, and crash survival.

Run: .venv/bin/python bench/queue_bench.py [--crash-rounds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes import incoming  # noqa: E402
from tests.helpers import make_rig  # noqa: E402
from tests.httpserver import chat_answer, scripted_server  # noqa: E402
from tests.service.test_crash import run_crash  # noqa: E402
from twin.clock import SystemClock  # noqa: E402

UNLIMITED = {"timing__scale": 0.0, "hours__quiet": [], "rules__max_sends_per_hour": 10**6,
             "rules__max_turns_per_hour": 10**6, "rules__max_turns_per_day": 10**6, "rules__loop_streak": 10**6}


async def burst(messages: int = 2000, chats: int = 200) -> None:
    rig = make_rig(Path(tempfile.mkdtemp()), clock=SystemClock(), **UNLIMITED)  # type: ignore[arg-type]
    rig.llm.default = "ok"
    stop = asyncio.Event()
    task = asyncio.create_task(rig.daemon.run(stop))
    await rig.daemon.connected.wait()
    batch = [incoming(f"burst {i}", chat_id=10_000 + i % chats, message_id=1 + i, date=rig.clock.now())
             for i in range(messages)]
    start = time.perf_counter()
    for message in batch:  # ingest only: workers run when the loop is free, after the burst is stored
        rig.daemon._ingest(message)
    ingest_s = time.perf_counter() - start
    stored = sum(len(t.incoming_ids) for t in rig.store.turns("default", limit=10**6))
    await rig.daemon.idle()
    drain_s = time.perf_counter() - start
    stop.set()
    await task
    turns = rig.store.turns("default", limit=10**6)
    answered = sum(1 for t in turns if t.status == "answered")
    print(f"burst: {messages} messages over {chats} chats ingested in {ingest_s:.2f} s = "
          f"{messages / ingest_s:.0f} messages/s (target >= 1000), {messages - stored} lost")
    print(f"burst: drained in {drain_s:.2f} s: {len(turns)} turns (bursts folded per chat), {answered} answered, "
          f"{len(rig.telegram.sent)} replies sent")


async def crash(rounds: int) -> None:
    with scripted_server() as server:
        server.default = chat_answer
        start = time.perf_counter()
        report = await run_crash(Path(tempfile.mkdtemp()), server.url, rounds=rounds, seed=int(time.time()))
    print(f"crash: {report['kills']} SIGKILLs survived, {report['messages']} messages checked in "
          f"{report['turns']} turns, {report['lost']} lost, {report['doubled']} doubled, "
          f"{report['deduplicated_retries']} re-sends dropped by random_id ({time.perf_counter() - start:.0f} s)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--crash-rounds", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(burst())
    asyncio.run(crash(args.crash_rounds))


if __name__ == "__main__":
    main()
