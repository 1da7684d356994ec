"""Footprint: the daemon loads only what it uses, `twin --help` imports no command, caches stay bounded."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes import T0, incoming
from tests.helpers import make_rig
from tests.httpserver import Reply
from tests.service_helpers import ROOT, kill_leftovers, replies, sandbox_env, sandbox_login, status_file, twin, wait_for
from twin.db.store import Store
from twin.engine import pipeline as pipeline_module
from twin.lru import LRU

NEVER_IN_DAEMON = {"typer", "rich", "click", "pygments", "alembic", "openai", "elevenlabs", "telethon"}


def python(code: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> str:
    """Run code in a fresh interpreter (this process has imported everything already); its stdout."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def gemini_answer(text: str) -> Reply:
    candidate = {"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP"}
    return Reply(200, {"candidates": [candidate], "usageMetadata": {"promptTokenCount": 30, "candidatesTokenCount": 3}})


@pytest.fixture
def home(twin_home: Path) -> Iterator[Path]:
    yield twin_home
    kill_leftovers(twin_home)


def test_daemon_loads_gemini_on_first_reply_and_never_the_cli_alembic_or_unused_speech(home, server):
    env = sandbox_env(server, TWIN_LLM_PROVIDER="gemini", TWIN_LLM_BASE_URL=server.url,
                      GEMINI_API_KEY="test-gemini-not-a-key", ELEVENLABS_API_KEY="test-eleven-not-a-key",
                      TWIN_TTS_WHEN="mirror", TWIN_TTS_VOICE_ID="voice-1")  # OPENAI_API_KEY is set too: STT is on
    sandbox_login(home, env)
    Store(f"sqlite:///{home / 'data' / 'twin.db'}").close()  # the schema is current before the daemon starts
    server.expect("generateContent", gemini_answer("all good here"))
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("TWIN_", "GEMINI", "OPENAI", "ELEVENLABS"))}
    proc = subprocess.Popen([sys.executable, str(ROOT / "cli.py"), "run"], cwd=home, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env={**full_env, "TWIN_HOME": str(home), **env})
    try:
        wait_for(lambda: status_file(home).get("state") == "connected", timeout=120, what="the daemon to connect")
        idle = status_file(home)
        assert idle["pid"] == proc.pid  # `twin run` became the lean entry in the same process
        assert not NEVER_IN_DAEMON & set(idle["modules"]) and "google.genai" not in idle["modules"], idle["modules"]
        assert "sqlalchemy" in idle["modules"]  # the list is what is loaded, not a fixed answer
        assert idle["rss_mb"] > 10

        assert twin(home, "sandbox", "say", "--from", "Alice", "how are you?", env=env).returncode == 0
        wait_for(lambda: replies(home), timeout=120, what="the reply")
        wait_for(lambda: "google.genai" in status_file(home)["modules"], timeout=30, what="the status update")
        after = status_file(home)["modules"]
        assert not NEVER_IN_DAEMON & set(after), after

        report = json.loads(twin(home, "status", "--json", env=env).stdout)
        assert report["pid"] == proc.pid and report["rss_mb"] > 10 and report["peak_rss_mb"] >= report["rss_mb"]
        assert "google.genai" in report["modules"] and "typer" not in report["modules"]
        shown = twin(home, "status", env=env).stdout
        assert "memory" in shown and "MB (peak" in shown and "google.genai" in shown
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()


def test_the_lean_entry_and_speech_adapters_import_no_sdk_until_used():
    code = (
        "import sys\n"
        "import twin.service.runner\n"
        "from twin.voice.openai_stt import OpenAISTT\n"
        "from twin.voice.elevenlabs_tts import ElevenLabsTTS\n"
        "stt, tts = OpenAISTT('sk-test-not-a-key'), ElevenLabsTTS('test-not-a-key', 'voice-1')\n"
        "print(sorted(m for m in ('typer', 'rich', 'click', 'openai', 'elevenlabs', 'sqlalchemy') if m in sys.modules))"
    )
    assert python(code) == "[]"


def test_the_lean_entry_keeps_httpx_command_line_out_and_httpx_still_works():
    code = ("import sys\n"
            "from twin.service.runner import keep_out_httpx_command_line\n"
            "{guard}"
            "import httpx\n"
            "from google import genai\n"
            "cli = sorted(m for m in ('click', 'rich', 'pygments') if m in sys.modules)\n"
            "print(cli, httpx.Client().__class__.__name__)")
    assert python(code.format(guard="keep_out_httpx_command_line()\n")) == "[] Client"
    # without it, httpx's __init__ would load its command line: the guard is what keeps them out
    assert python(code.format(guard="")) == "['click', 'pygments', 'rich'] Client"


def test_daemon_command_line_is_the_lean_entry(home):
    from twin.config import load
    from twin.service.runner import daemon_command
    from twin.service.systemd import unit_text

    assert daemon_command("work", verbose=True, log_file=Path("/x.log"), python="/py")[1:] == [
        "-m", "twin.service.runner", "--account", "work", "run", "--log-file", "/x.log", "--verbose"]
    unit = unit_text(load(), user=True, executable="/venv/bin/python")
    assert "ExecStart=/venv/bin/python -m twin.service.runner --account %i run" in unit.splitlines()
    assert f"Environment=PYTHONPATH={ROOT}" in unit.splitlines()
    bad = subprocess.run([sys.executable, "-m", "twin.service.runner", "--account", "no/such", "run"],
                         capture_output=True, text=True, cwd=home, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert bad.returncode == 1 and bad.stderr.startswith("error: account name 'no/such'"), bad.stderr


def test_migrate_on_a_current_schema_is_one_query_and_no_alembic(tmp_path):
    url = f"sqlite:///{tmp_path}/twin.db"
    Store(url).close()
    code = (
        "import sys\n"
        "import sqlalchemy as sa\n"
        "from twin.db.store import Store\n"
        f"store = Store({url!r}, migrate=False)\n"
        "seen = []\n"
        "sa.event.listen(store.engine, 'before_cursor_execute', lambda *a: seen.append(a[2]))\n"
        "store.migrate()\n"
        "print(len(seen), 'alembic' in sys.modules)"
    )
    assert python(code) == "1 False"
    empty = f"sqlite:///{tmp_path}/empty.db"
    assert Store(empty, migrate=False).schema_version() is None


def test_help_lists_every_command_without_importing_one(home):
    from twin.cli.base import COMMANDS

    code = ("import runpy, sys\n"
            "sys.argv = ['twin', '--help']\n"
            "try:\n    runpy.run_path('cli.py', run_name='__main__')\nexcept SystemExit:\n    pass\n"
            "print('MODULES', sorted(m for m in sys.modules if m.startswith('twin')))")
    out = python(code, env={"COLUMNS": "160"})
    help_text, _, modules = out.rpartition("MODULES ")
    assert modules == "['twin', 'twin.cli', 'twin.cli.commands']"  # not even typer: tests/test_cli_help.py
    for name, (_, line) in COMMANDS.items():
        assert f" {name} " in help_text and line in help_text, name


def test_the_command_table_matches_the_commands_themselves():
    import importlib

    from typer.main import get_command_name

    from twin.cli import base

    for module in {m for m, _ in base.COMMANDS.values()}:
        importlib.import_module(f"twin.cli.{module}")
    registered = {c.name or get_command_name(c.callback.__name__) for c in base.app.registered_commands if c.callback}
    assert registered | set(base.SUB_APPS) == set(base.COMMANDS)
    for name, (_, line) in base.COMMANDS.items():
        command = base._build(name, None)
        assert (command.help or "").split("\n\n")[0].replace("\n", " ") == line, name


def test_a_mistyped_command_is_still_suggested(home):
    out = twin(home, "histroy")
    assert out.returncode == 2 and "Did you mean 'history'" in out.stderr


def test_lru_keeps_the_most_recently_used():
    lru: LRU[int, str] = LRU(3)
    for key in range(5):
        lru[key] = str(key)
    assert list(lru) == [2, 3, 4] and len(lru) == 3
    assert lru[2] == "2"  # used: now the newest
    lru[5] = "5"
    assert list(lru) == [4, 2, 5] and 3 not in lru
    assert lru.get(3) is None and lru.get(4) == "4" and list(lru) == [2, 5, 4]
    with pytest.raises(ValueError):
        LRU(0)


async def test_per_chat_state_stays_bounded_with_1000_chats(twin_home, monkeypatch):
    monkeypatch.setattr(pipeline_module, "CHAT_STATE_LIMIT", 100)
    rig = make_rig(twin_home, clock=None, timing__scale=0.0, hours__quiet=[], rules__max_sends_per_hour=10**6,
                   rules__max_turns_per_hour=10**6, rules__max_turns_per_day=10**6)
    rig.llm.default = "ok"
    import asyncio

    stop = asyncio.Event()
    task = asyncio.create_task(rig.daemon.run(stop))
    await rig.daemon.connected.wait()
    chats = range(10_000, 11_000)
    for i, chat in enumerate(chats):
        await rig.daemon.handle(incoming(f"hello {i}", chat_id=chat, message_id=2 * i + 10, date=T0))
    await rig.daemon.idle()
    for i, chat in enumerate(chats):  # the owner answers in every chat himself: a takeover each
        await rig.daemon.handle(incoming("mine", chat_id=chat, message_id=2 * i + 11, date=T0, outgoing=True,
                                         sender_is_self=True, sender_id=rig.telegram.me.id))
    stop.set()
    await task
    assert len(rig.telegram.sent) == 1000
    assert len(rig.pipeline.taken_over) == 100 and 10_999 in rig.pipeline.taken_over
    assert len(rig.pipeline._fetched) == 100
    assert rig.daemon._workers == {}


def test_held_out_cache_is_bounded(store):
    from twin.persona import examples

    examples._HELD.clear()
    for n in range(1, 60):
        examples._recent_ids(store, "default", n)
    assert len(examples._HELD) == examples._HELD.limit == 16


SAMPLES = ["20", "1", "0", "-3", "007", "1_000", " 5", "5 ", "abc", "", "1.5", "-0.25", "inf", "1e3", "１２",
           "99999999999999999999999", 20, 0, -1, 1.5, True, False, None, ["a", "b"], ("a",), [], ["a", 1], "x,y"]


def _outcome(runtime, value, param, ctx):
    try:
        done = runtime.coerce(value, param=param, ctx=ctx)
    except Exception as exc:  # the same exception and message as typer's own conversion
        return "error", type(exc).__name__, exc.format_message() if hasattr(exc, "format_message") else str(exc)
    return "ok", done, type(done)


def test_plain_conversion_equals_typers_own_for_every_parameter():
    import importlib

    from typer._coercion import build_runtime_param

    from twin.cli import base, coerce

    for module in {m for m, _ in base.COMMANDS.values()}:
        importlib.import_module(f"twin.cli.{module}")
    commands = [base._build(name, None) for name in base.COMMANDS]
    commands += [sub for c in commands for sub in getattr(c, "commands", {}).values()]
    fast = checked = 0
    for command in commands:
        ctx = command.context_class(command)
        for param in command.get_params(ctx):
            descriptor = param.type_descriptor
            if not coerce.eligible(descriptor):
                continue
            typers = build_runtime_param(descriptor)
            mine = coerce.PlainParam(descriptor.parameter_info, descriptor.annotation)
            info = descriptor.parameter_info
            for value in SAMPLES:
                expected = _outcome(typers, value, param, ctx)
                assert _outcome(mine, value, param, ctx) == expected, (param.name, value)
                checked += 1
                fast += coerce.plain(value, descriptor.annotation, info.min, info.max) is not coerce._MISSING
    assert checked > 500 and fast > 100  # the direct path was really taken, and agreed


def test_history_on_the_cli_imports_neither_pydantic_nor_sqlalchemy(home):
    from tests.test_cli import seed

    seed(home).close()
    code = ("import runpy, sys\n"
            "sys.argv = ['twin', 'history', '--limit', '5', '--status', 'answered,skipped']\n"
            "try:\n    runpy.run_path('cli.py', run_name='__main__')\n"
            "except SystemExit as exc:\n    assert not exc.code\n"
            "print('LOADED', sorted(m for m in ('pydantic', 'sqlalchemy', 'alembic') if m in sys.modules))")
    out = python(code, env={"TWIN_HOME": str(home), "COLUMNS": "160"})
    assert "hi there" in out and out.endswith("LOADED []"), out


def test_telethon_client_keeps_a_small_entity_cache(twin_home):
    from tests.helpers import make_settings
    from twin.session.client import ENTITY_CACHE_LIMIT, build_client

    client = build_client(make_settings(twin_home, **{"telegram.api_id": 1, "telegram.api_hash": "0" * 32}))
    # Telethon trims its in-memory entity cache (saving to the session file) once it holds this many.
    assert client._entity_cache_limit == ENTITY_CACHE_LIMIT == 1000
    client.session.close()
