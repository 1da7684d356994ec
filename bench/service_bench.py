"""Service numbers on 1,000,000 stored turns: `twin history --search`, `twin stats`, `twin status` wall time.

Run: .venv/bin/python bench/service_bench.py [--runs 5] [--turns 1000000]
     bash -c 'source scripts/pg-start; .venv/bin/python bench/service_bench.py'   # PostgreSQL too

Each figure is the wall time of the real CLI process (python start-up, imports, settings, the query,
rendering), median of --runs. The SQLite file is seeded once under /tmp/twin-bench and reused; the
PostgreSQL figures use TWIN_TEST_DATABASE_URL (schema "bench", seeded with COPY when it is not there).
`twin stats --since all` is reported cold (day cache emptied: every day aggregated and cached) and warm.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from twin.db.derived import STATS, ensure_derived_reader  # noqa: E402
from twin.db.reader import open_reader  # noqa: E402

BENCH = Path("/tmp/twin-bench")
SEED_VERSION = 1
COLUMNS = ("account", "chat_id", "chat_title", "sender_id", "sender_name", "incoming_ids", "incoming_text", "kind",
           "transcript", "status", "reason", "reply_text", "reply_ids", "random_id", "voice", "provider", "model",
           "tokens_in", "tokens_out", "attempts", "received_at", "due_at", "sent_at", "updated_at", "extra")
SKIPS = [("skipped", "sender is a bot"), ("skipped", "group chat not enabled (rules.groups)"),
         ("skipped", "not a contact (rules.contacts_only)"), ("failed", "model failed: 429 Too Many Requests"),
         ("cancelled", "the owner wrote in this chat (takeover)"), ("stale", "stale: arrived 7.2 h before"),
         ("needs_owner", "guarded topic: money")]
SYLLABLES = ["ka", "lo", "mi", "ne", "ra", "to", "su", "vi", "de", "po", "la", "zu", "fe", "gi", "ho", "ba"]


def vocabulary(n: int = 5000) -> list[str]:
    """Distinct made-up words; their frequency in the seed follows Zipf's law by rank."""
    rng, words = random.Random(7), []
    seen: set[str] = set()
    while len(words) < n:
        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


def rows(total: int, words: list[str], now: datetime, dialect: str) -> Iterator[tuple[object, ...]]:
    """Turns over the past year: 72% answered, the rest skipped for various reasons; 12% voice."""
    rng = random.Random(1)
    weights = [1 / (r + 1) for r in range(len(words))]
    pool_in = [" ".join(rng.choices(words, weights, k=rng.randint(3, 15))) for _ in range(20_000)]
    pool_out = [" ".join(rng.choices(words, weights, k=rng.randint(3, 20))) for _ in range(20_000)]
    start = now - timedelta(days=365)
    step = 365 * 86400 / total

    def t(when: datetime) -> object:
        naive = when.replace(tzinfo=None)
        return naive.strftime("%Y-%m-%d %H:%M:%S.%f") if dialect == "sqlite" else naive

    for i in range(total):
        at = start + timedelta(seconds=i * step)
        chat = 1000 + int(rng.paretovariate(1.2)) % 2000
        roll = rng.random()
        status, reason = ("answered", "") if roll < 0.72 else SKIPS[int((roll - 0.72) / 0.28 * len(SKIPS))]
        voice_in = rng.random() < 0.12
        answered = status == "answered"
        sent = at + timedelta(seconds=rng.lognormvariate(4, 1)) if answered else None
        provider = rng.choice(("gemini", "gemini", "openai")) if answered else ""
        extra = (f'{{"seed":{i},"steps":{{"received":"{at.isoformat()}"'
                 + (f',"sent":"{sent.isoformat()}"' if sent else "") + "}}")
        yield ("default", chat, f"Contact {chat}", chat, f"Contact {chat}", f"[{i}]", pool_in[i % 20_000],
               "voice" if voice_in else "text", pool_in[(i * 7) % 20_000] if voice_in else None, status, reason,
               pool_out[i % 20_000] if answered else None, f"[{i}]" if answered else "[]", None,
               answered and rng.random() < 0.08, provider,
               {"gemini": "gemini-2.5-flash", "openai": "gpt-4o-mini"}.get(provider, ""),
               rng.randint(300, 2500) if answered else 0, rng.randint(10, 120) if answered else 0, 0,
               t(at), t(at), t(sent) if sent else None, t(sent or at), extra)


def seed_sqlite(home: Path, total: int, words: list[str]) -> None:
    marker = home / "seeded.json"
    if marker.exists() and json.loads(marker.read_text()) == {"turns": total, "version": SEED_VERSION}:
        return
    from twin.db.store import Store

    db = home / "data" / "twin.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    Store(f"sqlite:///{db}").close()
    began = time.perf_counter()
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA synchronous=OFF")
    sql = f"INSERT INTO turns ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
    with conn:
        conn.executemany(sql, rows(total, words, datetime.now(UTC), "sqlite"))
    conn.close()
    print(f"  seeded {total:,} turns into SQLite in {time.perf_counter() - began:.0f} s", flush=True)
    began = time.perf_counter()
    reader = open_reader(f"sqlite:///{db}")
    assert reader is not None
    with reader:
        ensure_derived_reader(reader)
    print(f"  built the FTS5 index in {time.perf_counter() - began:.0f} s", flush=True)
    marker.write_text(json.dumps({"turns": total, "version": SEED_VERSION}))


def seed_postgres(url: str, total: int, words: list[str]) -> None:
    import psycopg

    from twin.db.store import Store

    admin_url = url.split("?")[0].replace("+psycopg", "")
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute("CREATE SCHEMA IF NOT EXISTS bench")
        has = admin.execute("SELECT to_regclass('bench.turns') IS NOT NULL").fetchone()
        if has and has[0] and admin.execute("SELECT count(*) FROM bench.turns").fetchone() == (total,):
            return
        admin.execute("DROP SCHEMA bench CASCADE")
        admin.execute("CREATE SCHEMA bench")
    Store(url).close()
    began = time.perf_counter()
    with psycopg.connect(admin_url) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY bench.turns ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in rows(total, words, datetime.now(UTC), "postgresql"):
                copy.write_row(row)
        cur.execute("ANALYZE bench.turns")
    print(f"  seeded {total:,} turns into PostgreSQL in {time.perf_counter() - began:.0f} s", flush=True)
    began = time.perf_counter()
    reader = open_reader(url)
    assert reader is not None
    with reader:
        ensure_derived_reader(reader)
    print(f"  built the GIN index in {time.perf_counter() - began:.0f} s", flush=True)


def timed(env: dict[str, str], *args: str, runs: int) -> tuple[float, str]:
    """Median wall time of `twin ARGS` over runs, and the last output."""
    times, out = [], ""
    for _ in range(runs):
        began = time.perf_counter()
        done = subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], env=env, capture_output=True, text=True,
                              cwd=env["TWIN_HOME"])
        times.append(time.perf_counter() - began)
        if done.returncode != 0:
            raise SystemExit(f"twin {' '.join(args)} failed: {done.stderr}")
        out = done.stdout
    return statistics.median(times), out


def clear_stats_cache(url: str) -> None:
    reader = open_reader(url)
    assert reader is not None
    with reader:
        reader.execute(f"DELETE FROM {STATS}")


def measure(label: str, env: dict[str, str], url: str, words: list[str], runs: int) -> None:
    load = Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"
    print(f"\n{label}; load average {load} on {os.cpu_count()} CPUs", flush=True)
    line = "  {:<44} {:>8.3f} s   {}"
    for rank in (20, 300, 3000):
        seconds, out = timed(env, "history", "--search", words[rank], "--json", runs=runs)
        print(line.format(f"history --search {words[rank]} (rank {rank})", seconds,
                          f"{len(out.splitlines())} rows shown"), flush=True)
    seconds, _ = timed(env, "history", "--search", words[20], "--page", "50", "--json", runs=runs)
    print(line.format("history --search (common word) --page 50", seconds, ""))
    seconds, _ = timed(env, "history", "--status", "needs_owner", "--chat", "1001", runs=runs)
    print(line.format("history --status needs_owner --chat 1001", seconds, "table"))
    clear_stats_cache(url)
    seconds, out = timed(env, "stats", "--since", "all", "--json", runs=1)
    turns = json.loads(out)["turns"]
    print(line.format("stats --since all, cold (day cache empty)", seconds, f"{turns:,} turns"), flush=True)
    seconds, _ = timed(env, "stats", "--since", "all", runs=runs)
    print(line.format("stats --since all, warm", seconds, "table"))
    seconds, _ = timed(env, "stats", runs=runs)
    print(line.format("stats (default: last 30 days)", seconds, "table"))
    seconds, _ = timed(env, "status", runs=runs)
    print(line.format("status", seconds, "no daemon running"))
    seconds, _ = timed(env, "--help", runs=runs)
    print(line.format("--help (start-up floor)", seconds, ""))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--turns", type=int, default=1_000_000)
    args = parser.parse_args()
    words = vocabulary()
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("TWIN_", "GEMINI", "OPENAI", "ELEVENLABS"))}
    home = BENCH / "sqlite"
    (home / "data").mkdir(parents=True, exist_ok=True)
    print(f"SQLite, {args.turns:,} turns in {home / 'data' / 'twin.db'}", flush=True)
    seed_sqlite(home, args.turns, words)
    env = {**base_env, "TWIN_HOME": str(home), "COLUMNS": "120"}
    measure(f"SQLite ({args.runs} runs each, median)", env, f"sqlite:///{home / 'data' / 'twin.db'}", words, args.runs)
    pg = os.environ.get("TWIN_TEST_DATABASE_URL")
    if not pg:
        print("\nPostgreSQL: skipped (set TWIN_TEST_DATABASE_URL, e.g. `source scripts/pg-start`)")
        return
    url = pg + ("&" if "?" in pg else "?") + "options=-csearch_path%3Dbench"
    print(f"\nPostgreSQL, {args.turns:,} turns in schema bench", flush=True)
    seed_postgres(url, args.turns, words)
    pg_home = BENCH / "pg"
    (pg_home / "data").mkdir(parents=True, exist_ok=True)
    env = {**base_env, "TWIN_HOME": str(pg_home), "TWIN_DATABASE_URL": url, "COLUMNS": "120"}
    measure(f"PostgreSQL ({args.runs} runs each, median)", env, url, words, args.runs)


if __name__ == "__main__":
    main()
