"""The CLI as a user runs it: real processes, a real SQLite file, stdin for `twin chat`."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from tests.fakes import T0, incoming
from tests.service_helpers import ROOT, twin
from twin.db.store import Store


def seed(home: Path) -> Store:
    store = Store(f"sqlite:///{home / 'data' / 'twin.db'}")
    a = store.add_turn("default", [incoming("hi there", chat_id=1, chat_title="Alice")], status="waiting", now=T0)
    store.update_turn(a, T0, status="answered", reply_text="hey!", reply_ids=[77], sent_at=T0 + timedelta(seconds=3),
                      provider="gemini", model="gemini-2.5-flash")
    store.add_turn("default", [incoming("promo", chat_id=2, chat_title="Shop", sender_is_bot=True)],
                   status="skipped", reason="sender is a bot", now=T0 + timedelta(minutes=1))
    store.add_turn("work", [incoming("work only", chat_id=3)], status="skipped", reason="x", now=T0)
    return store


def test_history_json_has_stable_keys(twin_home):
    seed(twin_home)
    out = twin(twin_home, "history", "--json")
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["incoming"] for r in rows] == ["hi there", "promo"]  # oldest first, this account only
    assert rows[0]["reply"] == "hey!" and rows[0]["status"] == "answered" and rows[0]["reply_ids"] == [77]
    assert rows[1]["reason"] == "sender is a bot"
    assert set(rows[0]) >= {"id", "chat_id", "chat", "incoming", "reply", "status", "reason", "received_at", "sent_at"}


def test_history_table_filters_and_accounts(twin_home):
    seed(twin_home)
    out = twin(twin_home, "history", "--chat", "Alice")
    assert out.returncode == 0, out.stderr
    assert "hi there" in out.stdout and "hey!" in out.stdout and "promo" not in out.stdout
    out = twin(twin_home, "--account", "work", "history", "--json")
    assert [json.loads(x)["incoming"] for x in out.stdout.splitlines()] == ["work only"]
    out = twin(twin_home, "history", "--chat", "nobody")
    assert out.returncode == 1 and out.stderr.strip() == "error: no chat matches 'nobody'"


def test_show_one_turn(twin_home):
    seed(twin_home)
    out = twin(twin_home, "show", "1")
    assert out.returncode == 0, out.stderr
    assert "hi there" in out.stdout and "hey!" in out.stdout and "gemini-2.5-flash" in out.stdout
    data = json.loads(twin(twin_home, "show", "2", "--json").stdout)
    assert data["status"] == "skipped" and data["reason"] == "sender is a bot"
    missing = twin(twin_home, "show", "99")
    assert missing.returncode == 1 and "no turn 99" in missing.stderr


def test_bad_config_is_one_line_and_nonzero(twin_home):
    (twin_home / "twin.toml").write_text("[llm]\nprovder = 'x'\n")
    out = twin(twin_home, "history")
    assert out.returncode == 1
    assert out.stderr.strip() == "error: unknown setting 'llm.provder' in twin.toml"


def test_chat_through_stdin_with_openai_compatible_server(twin_home, server):
    from tests.httpserver import Reply

    server.expect("/chat/completions",
                  Reply(200, {"choices": [{"message": {"role": "assistant", "content": "doing fine, you?"}}]}),
                  Reply(200, {"choices": [{"message": {"role": "assistant", "content": "cool"}}]}))
    env = {"TWIN_LLM_PROVIDER": "openai", "TWIN_LLM_BASE_URL": server.url + "/v1", "OPENAI_API_KEY": "sk-test"}
    out = twin(twin_home, "chat", "--as", "Bob", stdin="how are you?\n\nnice\n", env=env)
    assert out.returncode == 0, out.stderr
    assert "doing fine, you?" in out.stdout and "cool" in out.stdout
    second = server.requests[1].json()
    assert [m["role"] for m in second["messages"]] == ["system", "user", "assistant", "user"]
    assert "Bob" in second["messages"][0]["content"]
    assert not (twin_home / "data" / "twin.db").exists() or not Store(
        f"sqlite:///{twin_home / 'data' / 'twin.db'}").turns("default")  # nothing recorded as a turn


def test_help_is_fast_to_import_and_lists_commands(twin_home):
    out = twin(twin_home, "--help")
    assert out.returncode == 0
    for command in ("login", "logout", "run", "history", "show", "chat", "doctor"):
        assert command in out.stdout
    probe = subprocess.run(
        [sys.executable, "-c", "import sys, cli; print(sorted(m for m in sys.modules if m.split('.')[0] in "
         "('telethon', 'google', 'openai', 'elevenlabs', 'sqlalchemy', 'llama_cpp')))"],
        capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert probe.stdout.strip() == "[]", probe.stdout


def test_persona_learn_show_note_and_eval_end_to_end(twin_home, server):
    from tests.httpserver import Reply
    from tests.service_helpers import sandbox_env, sandbox_login
    from twin.session.sandbox import SandboxWorld, contact_id

    env = sandbox_env(server)
    sandbox_login(twin_home, env)
    world = SandboxWorld(twin_home / "data" / "sandbox" / "default")
    for contact, line, answer in [("Alice", "how was the trip?", "amazing!! so much food 😅"),
                                  ("Alice", "did you see the photos", "yes haha love them"),
                                  ("Bob", "привет, как дела?", "норм, ты как?)"),
                                  ("Bob", "пойдём в кино?", "давай в субботу")]:
        world.say(contact, line)
        world.owner_says(answer, to=contact)
    out = twin(twin_home, "persona", "learn", "--pace", "0", env=env)
    assert out.returncode == 0, out.stderr
    assert "Read 8 new messages in 2 chats" in out.stdout and "4 of yours, 4 exchanges" in out.stdout
    assert server.requests == []  # learning is local: no model was asked
    server.expect("/chat/completions", Reply(200, {"choices": [{"message": {"content": "Short, warm, lowercase."}}]}))
    again = twin(twin_home, "persona", "learn", "--pace", "0", "--summarize", env=env)
    assert "Read 0 new messages" in again.stdout  # resumable: nothing old is read twice
    (asked,) = server.requests  # --summarize: one request, with a sample of the owner's own messages
    sample = asked.json()["messages"][-1]["content"]
    assert "amazing!! so much food" in sample and "how was the trip?" not in sample
    assert (twin_home / "data" / "persona.profile.summary.txt").read_text().strip() == "Short, warm, lowercase."
    shown = twin(twin_home, "persona", "show", env=env)
    assert shown.returncode == 0 and "learned profile" in shown.stdout and "Short, warm, lowercase." in shown.stdout
    noted = twin(twin_home, "persona", "note", str(contact_id("Alice")), "my sister; informal", env=env)
    assert noted.returncode == 0, noted.stderr
    assert "my sister; informal" in twin(twin_home, "persona", "show", env=env).stdout
    server.default = lambda request: Reply(200, {"choices": [{"message": {"content": "haha yes, loved it"}}]})
    scored = twin(twin_home, "eval", "--held-out", "2", "--label", "first", env=env)
    assert scored.returncode == 0, scored.stderr
    assert "held-out exchanges" in scored.stdout and "score" in scored.stdout
    twin(twin_home, "eval", "--held-out", "2", "--label", "second", env=env)
    compared = twin(twin_home, "eval", "--compare", env=env)
    assert "first" in compared.stdout and "second" in compared.stdout
    guarded = twin(twin_home, "eval", "--guard", env=env)
    assert "replies broke a rule" in guarded.stdout, guarded.stderr
