"""Core numbers: event -> reply handed to the Telegram seam; CLI start-up; idle RSS of `twin run`.

Run: .venv/bin/python bench/core_bench.py
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes import T0, incoming  # noqa: E402
from tests.helpers import make_rig  # noqa: E402
from twin.clock import SystemClock  # noqa: E402
from twin.db.store import Store  # noqa: E402


async def latency(n: int = 1000) -> list[float]:
    """Per message: handed to the daemon -> the reply handed to the fake seam (no delays; 50 chats)."""
    home = Path(tempfile.mkdtemp())
    rig = make_rig(home, clock=SystemClock(), timing__scale=0.0, hours__quiet=[], rules__max_sends_per_hour=10**6,
                   rules__max_turns_per_hour=10**6, rules__max_turns_per_day=10**6, rules__loop_streak=10**6)
    rig.llm.default = "ok"
    stop = asyncio.Event()
    task = asyncio.create_task(rig.daemon.run(stop))
    await rig.daemon.connected.wait()
    samples = []
    for i in range(n):
        sent_before = len(rig.telegram.sent)
        start = time.perf_counter()
        message = incoming(f"message {i}", chat_id=10_000 + i % 50, message_id=100 + 2 * i, date=rig.clock.now())
        await rig.daemon.handle(message)
        while len(rig.telegram.sent) == sent_before:
            await asyncio.sleep(0)
        samples.append(time.perf_counter() - start)
    stop.set()
    await task
    return samples


def wall(args: list[str], env: dict[str, str], runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def seed_history(home: Path, n: int = 10_000) -> None:
    store = Store(f"sqlite:///{home / 'data' / 'twin.db'}")
    rows = []
    with store.session() as s, s.begin():
        from twin.db.tables import TurnRow

        for i in range(n):
            t = T0 + timedelta(seconds=30 * i)
            rows.append(TurnRow(account="default", chat_id=i % 200, chat_title=f"chat {i % 200}", sender_id=i % 200,
                                sender_name="x", incoming_ids=[i], incoming_text=f"hello number {i}", kind="text",
                                status="answered", reason="", reply_text=f"reply {i}", reply_ids=[i + 1],
                                received_at=t, sent_at=t, updated_at=t, extra={}))
        s.add_all(rows)


def rss_idle(home: Path) -> float:
    """RSS (MB) of `twin run` a few seconds after it connected, gemini provider, sandbox seam."""
    env = {**os.environ, "TWIN_HOME": str(home), "TWIN_TELEGRAM_BACKEND": "sandbox", "TWIN_LLM_PROVIDER": "gemini",
           "GEMINI_API_KEY": "bench-not-a-key"}
    asyncio.run(_login(home))
    proc = subprocess.Popen([sys.executable, str(ROOT / "cli.py"), "run"], env=env, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    for line in proc.stderr:
        if "connected as" in line:
            break
    time.sleep(3)
    rss_kb = int(next(x for x in Path(f"/proc/{proc.pid}/status").read_text().splitlines()
                      if x.startswith("VmRSS")).split()[1])
    proc.terminate()
    proc.wait(timeout=30)
    return rss_kb / 1024


async def _login(home: Path) -> None:
    from twin.session.sandbox import SandboxTelegram, SandboxWorld

    await SandboxTelegram(SandboxWorld(home / "data" / "sandbox" / "default"),
                          home / "sessions" / "default.sandbox.json").sign_in_code("+99966", "12345", None)  # type: ignore[arg-type]


def main() -> None:
    samples = sorted(asyncio.run(latency()))
    p50 = samples[len(samples) // 2] * 1000
    p99 = samples[int(len(samples) * 0.99) - 1] * 1000
    print(f"event -> reply at the seam, 1000 messages: median {p50:.2f} ms, p99 {p99:.2f} ms (target p99 < 5 ms)")
    home = Path(tempfile.mkdtemp())
    env = {**os.environ, "TWIN_HOME": str(home)}
    print(f"twin --help: {wall(['--help'], env):.3f} s (target < 0.3 s)")
    seed_history(home)
    print(f"twin history on 10,000 turns: {wall(['history'], env):.3f} s (target < 0.5 s)")
    print(f"twin run idle RSS, gemini provider: {rss_idle(Path(tempfile.mkdtemp())):.1f} MB (target < 80 MB)")


if __name__ == "__main__":
    main()
