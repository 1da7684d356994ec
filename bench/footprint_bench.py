"""Footprint: RSS of a real `twin run`, CLI start-up, and the import cost of every heavy piece.

A real `twin run` subprocess on the sandbox backend (there is no MTProto server here), Gemini as the
model (google-genai against a loopback scripted server), speech configured but unused (OpenAI and
ElevenLabs keys set, tts.when = "mirror"). Messages are written with SandboxWorld, progress is read
from the sandbox's own event file, RSS from /proc/PID/status. Telethon is not loaded by the sandbox,
so its cost is measured apart, in fresh interpreters, and reported as a separate estimated figure.

Run: .venv/bin/python bench/footprint_bench.py [--tree DIR] [--versus DIR] [--quick] [--chats-1000] [--json FILE]
                                             [--before FILE]
--tree measures another checkout of twin (e.g. the main branch, for a before/after table); --versus adds a
second checkout's CLI figures, run interleaved with the first so both see the same machine load; --before
takes the --json of an earlier run and prints the final table, before and after, against the targets.
Every process measured loads compiled bytecode, as an installed twin does: the tree is compiled first and
PYTHONDONTWRITEBYTECODE is dropped (with it, each start compiles twin's modules from source again).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parents[1]
HEAVY = ("telethon", "google.genai", "openai", "elevenlabs", "sqlalchemy", "alembic", "typer", "rich", "click",
         "pygments", "pydantic", "httpx", "httpx2", "websockets")
# Fresh-interpreter import cost of each piece (statement, label).
PIECES = [
    ("import sqlite3", "sqlite3 (stdlib)"),
    ("import sqlalchemy", "sqlalchemy (core)"),
    ("import sqlalchemy.orm", "sqlalchemy.orm"),
    ("import alembic.command", "alembic"),
    ("from google import genai; from google.genai import types", "google.genai"),
    ("import telethon; from telethon import TelegramClient", "telethon"),
    ("import openai", "openai"),
    ("import elevenlabs.client", "elevenlabs"),
    ("import typer", "typer"),
    ("import rich.console", "rich"),
    ("import pydantic", "pydantic"),
    ("import httpx", "httpx (with its CLI: click, rich, pygments)"),
    ("import sys; sys.modules['httpx._main'] = None; import httpx", "httpx as the daemon loads it (no CLI)"),
    ("import twin.engine.daemon", "twin.engine.daemon (+ sqlalchemy)"),
]
# Loaded in a daemon that runs Gemini on SQLite: what the telethon figure is measured on top of.
DAEMON_BASE = "import asyncio, ssl, json, logging; import twin.engine.daemon; from google import genai"
TELETHON_CLIENT = ("import telethon; from telethon import TelegramClient; from telethon.sessions import StringSession; "
                   "c = TelegramClient(StringSession(), 1, '0' * 32)")
PROBE = r"""
import os, runpy, signal, sys
HEAVY = %r
def dump(*_):
    with open(os.environ["FOOTPRINT_PROBE"], "w") as fh:
        fh.write(" ".join(m for m in HEAVY if m in sys.modules))
signal.signal(signal.SIGUSR1, dump)
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def proc_status(pid: int | str = "self") -> dict[str, int]:
    """VmRSS and VmHWM in kB."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0])
    return found


def load() -> str:
    return Path("/proc/loadavg").read_text().split(" ", 3)[:3].__str__()


def clean_env() -> dict[str, str]:
    """This environment without twin's settings, keys, and PYTHONDONTWRITEBYTECODE."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("TWIN_", "GEMINI", "OPENAI", "ELEVENLABS")) and k != "PYTHONDONTWRITEBYTECODE"}


def compile_tree(tree: Path) -> None:
    """Bytecode for the tree's twin package and cli.py, as `pip install` leaves it."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree / "twin"), str(tree / "cli.py")], check=True,
                   env=clean_env(), stdout=subprocess.DEVNULL)


def env_for(tree: Path, home: Path, server_url: str) -> dict[str, str]:
    return {**clean_env(), "PYTHONPATH": str(tree), "TWIN_HOME": str(home), "TWIN_TELEGRAM_BACKEND": "sandbox",
            "TWIN_LLM_PROVIDER": "gemini", "TWIN_LLM_BASE_URL": server_url, "GEMINI_API_KEY": "bench-gemini-not-a-key",
            "TWIN_LLM_RETRIES": "3", "OPENAI_API_KEY": "sk-bench-not-a-key", "ELEVENLABS_API_KEY": "bench-el-not-a-key",
            "TWIN_TTS_WHEN": "mirror", "TWIN_TTS_VOICE_ID": "bench-voice", "TWIN_TIMING_SCALE": "0",
            "TWIN_TIMING_TICK_S": "0.2", "TWIN_HOURS_QUIET": "", "TWIN_RULES_MAX_TURNS_PER_HOUR": "1000000",
            "TWIN_RULES_MAX_TURNS_PER_DAY": "1000000", "TWIN_RULES_MAX_SENDS_PER_HOUR": "1000000",
            "TWIN_RULES_LOOP_STREAK": "1000000", "TWIN_SERVICE_NOTIFY_SAVED": "false"}


def gemini_server() -> Any:
    from tests.httpserver import Reply, scripted_server

    counter = iter(range(10**9))

    def answer(_request: Any) -> Any:
        n = next(counter)
        return Reply(200, {"candidates": [{"content": {"role": "model", "parts": [{"text": f"sure, noted ({n})"}]},
                                           "finishReason": "STOP"}],
                           "usageMetadata": {"promptTokenCount": 40, "candidatesTokenCount": 4}})

    cm = scripted_server()
    server = cm.__enter__()
    server.default = answer
    return cm, server


def wait(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.1)


def contact_names(n: int) -> list[str]:
    """n contact names whose sandbox chat ids differ (ids are a hash of the name, so some would collide)."""
    from twin.session.sandbox import contact_id

    names: list[str] = []
    seen: set[int] = set()
    i = 0
    while len(names) < n:
        name, i = f"Contact {i}", i + 1
        if contact_id(name) not in seen:
            seen.add(contact_id(name))
            names.append(name)
    return names


class Daemon:
    """A real `twin run` in a temporary home, driven through the sandbox."""

    def __init__(self, tree: Path, server_url: str) -> None:
        from twin.session.sandbox import SandboxWorld

        self.tree = tree
        self.home = Path(tempfile.mkdtemp(prefix="footprint-"))
        self.env = env_for(tree, self.home, server_url)
        self.world = SandboxWorld(self.home / "data" / "sandbox" / "default")
        login = subprocess.run([sys.executable, str(tree / "cli.py"), "login"], input="+15550001111\n12345\n",
                               env=self.env, cwd=self.home, capture_output=True, text=True, timeout=300)
        if login.returncode != 0:
            raise SystemExit(f"sandbox login failed: {login.stderr}")
        from twin.db.store import Store

        Store(f"sqlite:///{self.home / 'data' / 'twin.db'}").close()  # schema current, as on every start but the first
        self.names = contact_names(1100)
        self.probe = self.home / "modules.txt"
        code = PROBE % (HEAVY,)
        self.proc = subprocess.Popen([sys.executable, "-c", code, str(tree / "cli.py"), "run"], cwd=self.home,
                                     env={**self.env, "FOOTPRINT_PROBE": str(self.probe)},
                                     stdout=subprocess.DEVNULL, stderr=open(self.home / "run.log", "w"))  # noqa: SIM115
        wait(lambda: self.status().get("state") == "connected", 300, "the daemon to connect")

    def status(self) -> dict[str, Any]:
        try:
            return json.loads((self.home / "data" / "default.status.json").read_text())
        except (FileNotFoundError, ValueError):
            return {}

    def replies(self) -> int:
        return sum(1 for e in self.world.events() if e["dir"] == "out" and e["chat"] != 1)

    def rss(self) -> dict[str, float]:
        found = proc_status(self.proc.pid)
        return {"rss_mb": found["VmRSS"] / 1024, "hwm_mb": found["VmHWM"] / 1024}

    def modules(self) -> list[str]:
        """Heavy modules the daemon has loaded: from its status file, or (older trees) from the probe."""
        listed = self.status().get("modules")
        if isinstance(listed, list):
            return [m for m in HEAVY if m in listed]
        import signal

        self.probe.unlink(missing_ok=True)
        os.kill(self.proc.pid, signal.SIGUSR1)
        wait(self.probe.exists, 30, "the module probe")
        time.sleep(0.2)
        return self.probe.read_text().split()

    def say_round(self, chats: range, round_no: int, timeout: float) -> None:
        target = self.replies() + len(chats)
        for c in chats:
            self.world.say(self.names[c], f"hey, round {round_no}: how is it going with thing {c}?")
        wait(lambda: self.replies() >= target, timeout, f"{target} replies")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=60)


def run_daemon(tree: Path, *, idle_s: float, many: int, chats_1000: bool) -> dict[str, Any]:
    cm, server = gemini_server()
    try:
        daemon = Daemon(tree, server.url)
        out: dict[str, Any] = {}
        try:
            time.sleep(idle_s)
            out["idle"] = {**daemon.rss(), "modules": daemon.modules()}
            print("idle", out["idle"], flush=True)
            daemon.say_round(range(5), 0, 300)
            time.sleep(3)
            out["after_5"] = {**daemon.rss(), "modules": daemon.modules()}
            print("after 5", out["after_5"], flush=True)
            began = time.monotonic()
            daemon.say_round(range(5, 20), 0, 600)
            rounds = max(1, many // 20)
            for r in range(1, rounds):
                daemon.say_round(range(20), r, 600)
            time.sleep(3)
            phase = f"after_{daemon.replies()}"
            out[phase] = {**daemon.rss(), "seconds": round(time.monotonic() - began, 1)}
            print(phase, out[phase], flush=True)
            out["status_rss_mb"] = daemon.status().get("rss_mb")
            if chats_1000:
                before = daemon.rss()["rss_mb"]
                try:
                    for start in range(100, 1100, 100):
                        daemon.say_round(range(start, start + 100), 0, 900)
                except TimeoutError as exc:
                    print(f"1,000 chats: {exc}", flush=True)
                time.sleep(3)
                after = daemon.rss()
                out["after_1000_more_chats"] = {**after, "growth_mb": round(after["rss_mb"] - before, 1),
                                                "replies": daemon.replies()}
                print("after 1,000 more chats", out["after_1000_more_chats"], flush=True)
        finally:
            daemon.stop()
        return out
    finally:
        cm.__exit__(None, None, None)


def rig_growth(tree: Path, chats: int = 1000) -> dict[str, float]:
    """The daemon over fakes in a fresh interpreter: RSS and live Python blocks after 500 chats, then `chats` more.

    No sandbox file, no HTTP: what grows here is the daemon's own state (and SQLite's page cache)."""
    code = f"""
import asyncio, gc, sys, tempfile
from pathlib import Path
from tests.fakes import T0, incoming
from tests.helpers import make_rig
from twin.clock import SystemClock

def rss():
    return int([x for x in Path('/proc/self/status').read_text().splitlines() if x.startswith('VmRSS')][0].split()[1])

async def main():
    rig = make_rig(Path(tempfile.mkdtemp()), clock=SystemClock(), timing__scale=0.0, hours__quiet=[],
                   rules__max_sends_per_hour=10**6, rules__max_turns_per_hour=10**6, rules__max_turns_per_day=10**6,
                   rules__loop_streak=10**6)
    stop = asyncio.Event()
    task = asyncio.create_task(rig.daemon.run(stop))
    await rig.daemon.connected.wait()
    n = 0
    async def batch(first, count):
        nonlocal n
        for c in range(first, first + count):
            n += 1
            await rig.daemon.handle(incoming(f"hello {{n}}", chat_id=c, message_id=2 * n, date=T0))
            if n % 100 == 0:
                await rig.daemon.idle()
        await rig.daemon.idle()
        for seen in (rig.llm.prompts, rig.telegram.sent, rig.telegram.actions, rig.telegram.reads,
                     rig.telegram.history_calls):
            seen.clear()  # what the fakes record for tests is not the daemon's memory
        gc.collect()
    await batch(10_000, 500)
    rss0, blocks0 = rss(), sys.getallocatedblocks()
    await batch(100_000, {chats})
    print(rss() - rss0, sys.getallocatedblocks() - blocks0)
    stop.set()
    await task

asyncio.run(main())
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=3600,
                          env={**clean_env(), "PYTHONPATH": f"{tree}{os.pathsep}{HERE}"}, cwd=tree)
    if done.returncode != 0:
        raise SystemExit(f"rig growth failed: {done.stderr[-800:]}")
    kb, blocks = done.stdout.split()[-2:]
    return {"chats": chats, "rss_growth_mb": round(int(kb) / 1024, 1), "python_blocks_growth": int(blocks)}


def measure(statement: str, base: str = "", tree: Path = HERE) -> tuple[float, float]:
    """(RSS added in MB, import seconds) of a statement in a fresh interpreter, after `base`."""
    code = (f"import time\n{base}\nfrom pathlib import Path\n"
            "def rss():\n    return int([x for x in Path('/proc/self/status').read_text().splitlines() "
            "if x.startswith('VmRSS')][0].split()[1])\n"
            f"a = rss(); t = time.perf_counter()\n{statement}\nt = time.perf_counter() - t\nprint(rss() - a, t)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**clean_env(), "PYTHONPATH": str(tree)})
    if done.returncode != 0:
        return float("nan"), float("nan")
    kb, seconds = done.stdout.split()
    return int(kb) / 1024, float(seconds)


def pieces(tree: Path, runs: int) -> dict[str, dict[str, float]]:
    found = {}
    for statement, label in PIECES:
        samples = [measure(statement, tree=tree) for _ in range(runs)]
        found[label] = {"rss_mb": round(statistics.median(s[0] for s in samples), 1),
                        "import_ms": round(1000 * statistics.median(s[1] for s in samples))}
    return found


def telethon_estimate(tree: Path, runs: int) -> dict[str, float]:
    bare = [measure(TELETHON_CLIENT, tree=tree)[0] for _ in range(runs)]
    on_daemon = [measure(TELETHON_CLIENT, DAEMON_BASE, tree=tree)[0] for _ in range(runs)]
    return {"bare_mb": round(statistics.median(bare), 1), "on_daemon_mb": round(statistics.median(on_daemon), 1)}


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """(wall s, CPU s, max RSS MB) of one process, from /usr/bin/time: a child forked from this (large)
    process would count this process's pages as its own until it execs."""
    done = subprocess.run(["/usr/bin/time", "-f", "TIME %e %U %S %M", *command], env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited {done.returncode}: {done.stderr[-500:]}")
    wall, user, system, kb = done.stderr.rsplit("TIME ", 1)[1].split()
    return float(wall), float(user) + float(system), int(kb) / 1024


def summary(samples: list[tuple[float, float, float]]) -> dict[str, float]:
    return {"wall_s": round(statistics.median(s[0] for s in samples), 3),
            "wall_min_s": round(min(s[0] for s in samples), 3),
            "cpu_s": round(statistics.median(s[1] for s in samples), 3),
            "max_rss_mb": round(max(s[2] for s in samples), 1)}


def seed_history(home: Path, n: int = 10_000) -> None:
    from twin.db.store import Store
    from twin.db.tables import TurnRow

    store = Store(f"sqlite:///{home / 'data' / 'twin.db'}")
    t0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    with store.session() as s, s.begin():
        s.add_all(TurnRow(account="default", chat_id=i % 200, chat_title=f"chat {i % 200}", sender_id=i % 200,
                          sender_name="x", incoming_ids=[i], incoming_text=f"hello number {i}", kind="text",
                          status="answered", reason="", reply_text=f"reply {i}", reply_ids=[i + 1],
                          received_at=t0 + timedelta(seconds=30 * i), sent_at=t0 + timedelta(seconds=30 * i),
                          updated_at=t0 + timedelta(seconds=30 * i), extra={}) for i in range(n))
    store.close()


def cli_figures(trees: list[Path], runs: int) -> dict[str, dict[str, Any]]:
    """Each CLI figure for each tree, runs interleaved (tree A, tree B, A, B...) so both see the same load."""
    home = Path(tempfile.mkdtemp(prefix="footprint-cli-"))
    clean = clean_env()
    seed_history(home)
    commands = {"python -c pass (interpreter start-up, for scale)": None, "--help": ["--help"],
                "history (10,000 turns)": ["history"], "history --json (10,000 turns)": ["history", "--json"],
                "status --json": ["status", "--json"]}
    out: dict[str, dict[str, Any]] = {str(t): {} for t in trees}
    for name, args in commands.items():
        samples: dict[Path, list[tuple[float, float, float]]] = {t: [] for t in trees}
        for _ in range(runs + 1):
            for tree in trees:
                env = {**clean, "PYTHONPATH": str(tree), "TWIN_HOME": str(home), "COLUMNS": "120"}
                command = [sys.executable, "-c", "pass"] if args is None else [sys.executable, str(tree / "cli.py"),
                                                                              *args]
                samples[tree].append(timed(command, env))
        for tree in trees:
            out[str(tree)][name] = summary(samples[tree][1:])  # the first run warms the page cache, not counted
    return out


def report(figures: dict[str, Any]) -> None:
    print(f"load average at start {figures['load_start']}, at end {figures['load_end']}")
    if "daemon" in figures:
        d = figures["daemon"]
        tele = figures["telethon"]["on_daemon_mb"]
        print("twin run (sandbox backend, Gemini, speech configured but unused):")
        for phase, values in d.items():
            if not isinstance(values, dict):
                continue
            extra = f"  +telethon client (estimated) {values['rss_mb'] + tele:6.1f} MB" if "rss_mb" in values else ""
            mods = f"  loaded: {' '.join(values['modules'])}" if "modules" in values else ""
            more = "".join(f"  {k} {v}" for k, v in values.items() if k in ("seconds", "growth_mb"))
            print(f"  {phase:<24} sandbox run {values['rss_mb']:6.1f} MB (peak {values['hwm_mb']:.1f}){extra}{more}"
                  f"{mods}")
        print(f"  twin status --json reported rss_mb: {d.get('status_rss_mb')}")
        t = figures["telethon"]
        print(f"telethon + a TelegramClient(StringSession()): +{t['on_daemon_mb']} MB on top of the daemon's modules, "
              f"+{t['bare_mb']} MB in a bare interpreter")
    if "rig_1000_chats" in figures:
        r = figures["rig_1000_chats"]
        print(f"daemon over fakes, {r['chats']} more chats: RSS +{r['rss_growth_mb']} MB, "
              f"live Python blocks {r['python_blocks_growth']:+d}")
    for tree, figures_of in figures.get("cli", {}).items():
        print(f"CLI, {tree} (median of runs; wall min in brackets):")
        for name, values in figures_of.items():
            print(f"  twin {name:<50} wall {values['wall_s']:.3f} s ({values['wall_min_s']:.3f})  "
                  f"cpu {values['cpu_s']:.3f} s  max RSS {values['max_rss_mb']:.1f} MB")
    for name, values in figures.get("pieces", {}).items():
        print(f"import {name:<44} +{values['rss_mb']:5.1f} MB  {values['import_ms']:5d} ms")


TARGETS = {"idle": 75.0, "after": 93.0, "--help": 0.15, "history (10,000 turns)": 0.25}


def table_rows(figures: dict[str, Any], tree: str = "") -> dict[str, tuple[float | None, float | None]]:
    """figure -> (value, target) for the final table (CLI figures: of `tree`, else of the first checkout)."""
    rows: dict[str, tuple[float | None, float | None]] = {}
    daemon, tele = figures.get("daemon", {}), figures.get("telethon", {}).get("on_daemon_mb", 0.0)
    for phase, values in daemon.items():
        if isinstance(values, dict) and "rss_mb" in values and "growth_mb" not in values:
            target = TARGETS["idle"] if phase == "idle" else TARGETS["after"]
            label = phase.replace("_", " ") + (" (20 chats)" if phase not in ("idle", "after_5") else "")
            rows[f"twin run {label}, MB (sandbox)"] = (round(values["rss_mb"], 1), None)
            rows[f"twin run {label}, MB + Telethon client (est.)"] = (round(values["rss_mb"] + tele, 1), target)
    cli = figures.get("cli", {}).get(tree) or next(iter(figures.get("cli", {}).values()), {})
    for name, values in cli.items():
        rows[f"twin {name}, s" if not name.startswith("python") else f"{name}, s"] = (values["wall_s"],
                                                                                       TARGETS.get(name))
    for name, values in figures.get("pieces", {}).items():
        rows[f"import {name}: MB / ms"] = (values["rss_mb"], values["import_ms"])
    return rows


def final_table(before: dict[str, Any] | None, after: dict[str, Any]) -> None:
    """The closing table: before (an earlier --json) and after, against the targets."""
    b, a = table_rows(before or {}), table_rows(after, after["tree"])
    if before and before["tree"] in after.get("cli", {}):  # --versus the before tree: its CLI runs, same load
        b.update({k: v for k, v in table_rows(after, before["tree"]).items() if k.endswith(", s")})
    print("\n| figure | before | after | target |\n|---|---|---|---|")
    for name, (value, target) in a.items():
        was = b.get(name, (None, None))[0]
        if name.startswith("import "):
            old = f"{was} / {b[name][1]}" if name in b else "-"
            print(f"| {name} | {old} | {value} / {target} | |")
        else:
            print(f"| {name} | {'-' if was is None else was} | {value} | {'' if target is None else f'< {target}'} |")
    loaded = after.get("daemon", {}).get("after_5", {}).get("modules")
    if loaded is not None:
        print(f"\nheavy modules in the daemon after replies: {' '.join(loaded)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=HERE, help="the checkout of twin to measure")
    parser.add_argument("--quick", action="store_true", help="CLI and import figures only, no daemon")
    parser.add_argument("--replies", type=int, default=500)
    parser.add_argument("--idle", type=float, default=15.0)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--chats-1000", action="store_true", help="then 1,000 more chats, one message each")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--versus", type=Path, help="another checkout: its CLI figures too, runs interleaved")
    parser.add_argument("--before", type=Path, help="an earlier run's --json: print the before/after table")
    args = parser.parse_args()
    tree = args.tree.resolve()
    sys.path[:0] = [str(tree), str(HERE)]
    for checkout in (tree, *([args.versus.resolve()] if args.versus else [])):
        compile_tree(checkout)
    figures: dict[str, Any] = {"tree": str(tree), "load_start": load()}
    if not args.quick:
        figures["daemon"] = run_daemon(tree, idle_s=args.idle, many=args.replies, chats_1000=args.chats_1000)
        figures["telethon"] = telethon_estimate(tree, 3)
        if args.chats_1000:
            figures["rig_1000_chats"] = rig_growth(tree)
    figures["cli"] = cli_figures([tree, *([args.versus.resolve()] if args.versus else [])], args.runs)
    figures["pieces"] = pieces(tree, 3)
    figures["load_end"] = load()
    report(figures)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))
    final_table(json.loads(args.before.read_text()) if args.before else None, figures)


if __name__ == "__main__":
    main()
