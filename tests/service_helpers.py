"""Running `twin` as real processes against the sandbox Telegram and a scripted OpenAI-compatible server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from tests.httpserver import Reply, ScriptedServer
from twin.session.sandbox import OWNER

ROOT = Path(__file__).resolve().parents[1]
T = TypeVar("T")


def twin(home: Path, *args: str, stdin: str = "", env: dict[str, str] | None = None,
         timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run `twin ARGS` in its own TWIN_HOME with a clean environment (no keys, no TWIN_* from outside)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("TWIN_", "GEMINI", "OPENAI", "ELEVENLABS"))}
    full_env.update({"TWIN_HOME": str(home), "COLUMNS": "160", **(env or {})})
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], input=stdin, capture_output=True,
                          text=True, env=full_env, timeout=timeout, cwd=home)


def wait_for(check: Callable[[], T], *, timeout: float = 30.0, what: str = "the condition") -> T:
    """Poll `check` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def sandbox_env(server: ScriptedServer, **extra: str) -> dict[str, str]:
    """Sandbox Telegram, the scripted server as the model, no human delays, no quiet hours."""
    return {"TWIN_TELEGRAM_BACKEND": "sandbox", "TWIN_LLM_PROVIDER": "openai", "TWIN_LLM_BASE_URL": server.url + "/v1",
            "OPENAI_API_KEY": "sk-test-not-a-real-key", "TWIN_LLM_RETRIES": "0", "TWIN_TIMING_SCALE": "0",
            "TWIN_TIMING_TICK_S": "0.2", "TWIN_HOURS_QUIET": "", "TWIN_SERVICE_STOP_TIMEOUT_S": "5", **extra}


def script_replies(server: ScriptedServer, *texts: str) -> None:
    """Queue chat completions, in order."""
    server.expect("/chat/completions", *(Reply(200, {
        "choices": [{"message": {"role": "assistant", "content": t}}],
        "usage": {"prompt_tokens": 120, "completion_tokens": 9}}) for t in texts))


def sandbox_login(home: Path, env: dict[str, str]) -> None:
    """`twin login` in the sandbox: any phone, code 12345."""
    out = twin(home, "login", stdin="+15550001111\n12345\n", env=env)
    assert out.returncode == 0, out.stderr


def events(home: Path, account: str = "default") -> list[dict[str, Any]]:
    """The sandbox conversation of an account."""
    path = home / "data" / "sandbox" / account / "events.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def replies(home: Path, account: str = "default") -> list[dict[str, Any]]:
    """What the twin sent to contacts in the sandbox."""
    return [e for e in events(home, account) if e["dir"] == "out" and e["chat"] != OWNER.id]


def notices(home: Path, account: str = "default") -> list[str]:
    """What the twin posted in the owner's Saved Messages."""
    return [e["text"] for e in events(home, account) if e["dir"] == "out" and e["chat"] == OWNER.id]


def status_file(home: Path, account: str = "default") -> dict[str, Any]:
    path = home / "data" / f"{account}.status.json"
    return json.loads(path.read_text()) if path.exists() else {}


def kill_leftovers(home: Path) -> None:
    """After a test: SIGKILL a daemon of this home that still holds its pid lock (one this test started)."""
    from twin.service.process import running_pid

    for pid_file in (home / "data").glob("*.pid"):
        pid = running_pid(pid_file)
        if pid:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
