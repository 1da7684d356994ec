"""twin as a service, as real processes: start, status, stop, SIGTERM, the pid lock, logs, systemd."""

from __future__ import annotations

import json
import os
import random
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.service_helpers import (
    kill_leftovers,
    notices,
    replies,
    sandbox_env,
    sandbox_login,
    script_replies,
    status_file,
    twin,
    wait_for,
)
from twin.backoff import Backoff
from twin.db.store import Store
from twin.errors import TwinError
from twin.service.logview import follow, tail
from twin.service.process import PidLock, StatusWriter, read_status, running_pid


@pytest.fixture
def home(twin_home: Path) -> Iterator[Path]:
    yield twin_home
    kill_leftovers(twin_home)


def _status(home: Path, env: dict[str, str]) -> dict:
    out = twin(home, "status", "--json", env=env)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_start_answer_status_and_stop(home, server):
    script_replies(server, "hey Alice, all good here")
    env = sandbox_env(server)
    sandbox_login(home, env)
    assert _status(home, env)["running"] is False

    out = twin(home, "start", env=env)
    assert out.returncode == 0, out.stderr + out.stdout
    pid = int((home / "data" / "default.pid").read_text())
    assert f"pid {pid}" in out.stdout
    report = _status(home, env)
    assert report["running"] and report["connected"] and report["pid"] == pid
    assert report["me"]["name"] == "Sandbox Owner" and report["state"] == "connected"

    again = twin(home, "start", env=env)
    assert again.returncode == 1 and f"already running for account 'default' (pid {pid})" in again.stderr
    foreground = twin(home, "run", env=env)
    assert foreground.returncode == 1 and "already running" in foreground.stderr

    assert twin(home, "sandbox", "say", "--from", "Alice", "how are you doing?", env=env).returncode == 0
    sent = wait_for(lambda: replies(home), what="the twin's reply in the sandbox")
    assert [e["text"] for e in sent] == ["hey Alice, all good here"]

    rows = [json.loads(x) for x in twin(home, "history", "--json", env=env).stdout.splitlines()]
    assert [(r["incoming"], r["status"], r["reply"]) for r in rows] == [
        ("how are you doing?", "answered", "hey Alice, all good here")]
    found = twin(home, "history", "--search", "doing", "--json", env=env).stdout.splitlines()
    assert [json.loads(x)["id"] for x in found] == [rows[0]["id"]]
    report = _status(home, env)
    assert report["last_reply"]["chat"] == "Alice" and report["queue"]["waiting"] == 0

    stopped = twin(home, "stop", env=env)
    assert stopped.returncode == 0 and f"twin stopped (pid {pid}" in stopped.stdout
    assert not (home / "data" / "default.pid").exists()
    report = _status(home, env)
    assert report["running"] is False and report["last_state"] == "stopped"
    assert twin(home, "stop", env=env).stdout.strip() == "twin is not running for account 'default'."
    log = twin(home, "logs", "-n", "100", env=env).stdout
    assert "connected as Sandbox Owner" in log and "stopped" in log


def test_start_says_why_it_cannot_connect(home, server):
    env = sandbox_env(server)  # no `twin login`
    out = twin(home, "start", "--wait", "30", env=env)
    assert out.returncode == 1
    assert "could not start" in out.stderr and "not logged in" in out.stderr
    report = _status(home, env)
    assert report["running"] is False and report["last_state"] == "failed"
    assert "not logged in" in report["last_error"]


def test_sigterm_mid_typing_leaves_the_reply_resumable_and_it_is_sent_once(home, server):
    script_replies(server, "a slow reply", "the resumed reply")
    slow = sandbox_env(server, TWIN_TIMING_SCALE="1", TWIN_TIMING_NOTICE_MIN_S="0", TWIN_TIMING_NOTICE_MAX_S="0",
                       TWIN_TIMING_QUIET_WINDOW_S="0", TWIN_TIMING_READ_CPS="1000", TWIN_TIMING_TYPE_CPS="0.2",
                       TWIN_TIMING_JITTER="0", TWIN_SERVICE_STOP_TIMEOUT_S="0.5")
    sandbox_login(home, slow)
    assert twin(home, "start", env=slow).returncode == 0
    pid = running_pid(home / "data" / "default.pid")
    twin(home, "sandbox", "say", "--from", "Bob", "are you there?", env=slow)
    store = Store(f"sqlite:///{home / 'data' / 'twin.db'}")
    wait_for(lambda: server.requests, what="the model to be asked")  # then ~60 s of "typing…" (0.2 chars/s)
    typing = store.turns("default")
    assert [t.status for t in typing] == ["composing"]

    os.kill(pid, signal.SIGTERM)  # what `twin stop` and systemd send
    wait_for(lambda: running_pid(home / "data" / "default.pid") is None, what="the daemon to exit")
    assert status_file(home)["state"] == "stopped"
    assert replies(home) == []  # nothing went out mid-typing
    assert store.turn(typing[0].id).status == "composing"  # left for the next start

    fast = sandbox_env(server)
    assert twin(home, "start", env=fast).returncode == 0
    sent = wait_for(lambda: replies(home), what="the resumed reply")
    assert twin(home, "stop", env=fast).returncode == 0
    assert [e["text"] for e in replies(home)] == ["the resumed reply"] == [e["text"] for e in sent]
    assert store.turn(typing[0].id).status == "answered"


def test_review_mode_end_to_end_through_stdin(home, server):
    script_replies(server, "lovely, we went hiking")
    env = sandbox_env(server)
    sandbox_login(home, env)
    assert twin(home, "mode", "review", env=env).returncode == 0
    assert twin(home, "start", env=env).returncode == 0
    twin(home, "sandbox", "say", "--from", "Alice", "how was your weekend?", env=env)
    store = Store(f"sqlite:///{home / 'data' / 'twin.db'}")
    draft = wait_for(lambda: [t for t in store.turns("default") if t.status == "review"], what="a draft for review")
    assert draft[0].reply_text == "lovely, we went hiking" and replies(home) == []  # nothing sent yet
    assert any("twin review" in n for n in wait_for(lambda: notices(home), what="the notice in Saved Messages"))
    out = twin(home, "review", stdin="e\nlovely, we went to the lake\n", env=env)
    assert out.returncode == 0 and "how was your weekend?" in out.stdout and "1 edited" in out.stdout
    sent = wait_for(lambda: replies(home), what="the approved reply")
    assert [e["text"] for e in sent] == ["lovely, we went to the lake"]
    wait_for(lambda: store.turn(draft[0].id).status == "answered", what="the turn to be recorded as answered")
    assert store.turn(draft[0].id).extra["draft"] == "lovely, we went hiking"
    assert twin(home, "stop", env=env).returncode == 0


def test_pid_lock_refuses_a_second_holder_and_cleans_up(tmp_path: Path):
    path = tmp_path / "data" / "work.pid"
    first = PidLock(path, "work")
    first.acquire()
    assert path.read_text().strip() == str(os.getpid()) and running_pid(path) == os.getpid()
    with pytest.raises(TwinError, match=rf"already running for account 'work' \(pid {os.getpid()}\)"):
        PidLock(path, "work").acquire(wait_s=0.1)
    first.release()
    assert not path.exists() and running_pid(path) is None
    second = PidLock(path, "work")
    second.acquire()
    second.release()


def test_status_writer_replaces_the_file_whole(tmp_path: Path):
    path = tmp_path / "status" / "default.status.json"
    writer = StatusWriter(path, account="default")
    assert read_status(path)["state"] == "starting"
    writer.update({"connected": True, "busy_chats": 2}, state="connected")
    writer.update({"busy_chats": 0})
    data = read_status(path)
    assert data["state"] == "connected" and data["connected"] is True and data["busy_chats"] == 0
    assert data["pid"] == os.getpid() and data["account"] == "default"
    assert [p.name for p in path.parent.iterdir()] == ["default.status.json"]  # no temp file left


def test_logs_are_redacted_with_the_current_secrets(home):
    log = home / "data" / "default.log"
    log.parent.mkdir(parents=True)
    (home / "data" / "default.log.1").write_text("old line\n")
    log.write_text("connected\nusing key sk-live-abcdef123456 for openai\n")
    out = twin(home, "logs", "-n", "3", env={"OPENAI_API_KEY": "sk-live-abcdef123456"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["old line", "connected", "using key *** for openai"]
    missing = twin(home, "--account", "other", "logs")
    assert missing.returncode == 1 and "no log yet" in missing.stderr


def test_follow_reads_new_lines_and_survives_rotation(tmp_path: Path):
    log = tmp_path / "a.log"
    log.write_text("before\n")
    assert tail(log, 5) == ["before"]
    deadline = time.monotonic() + 20
    lines = follow(log, poll_s=0.01, stop=lambda: time.monotonic() > deadline)
    with open(log, "a") as fh:
        fh.write("one\ntwo\n")
    assert [next(lines), next(lines)] == ["one", "two"]
    log.rename(tmp_path / "a.log.1")
    log.write_text("after rotation\n")
    assert next(lines) == "after rotation"
    assert tail(log, 3) == ["one", "two", "after rotation"]


def test_service_install_writes_a_template_unit(home):
    out = twin(home, "--account", "work", "service", "install", "--user", "--dir", str(home / "units"))
    assert out.returncode == 0, out.stderr
    unit = (home / "units" / "twin@.service").read_text()
    assert "ExecStart=" in unit and unit.split("ExecStart=")[1].split("\n")[0].endswith(" --account %i run")
    for line in (f"WorkingDirectory={home}", f"Environment=TWIN_HOME={home}", "Restart=on-failure",
                 "KillSignal=SIGTERM", "TimeoutStopSec=30", "WantedBy=default.target"):
        assert line in unit.splitlines()
    assert "systemctl --user enable --now twin@work" in out.stdout
    assert "User=" not in unit  # a user unit runs as the user already


def test_backoff_grows_with_jitter_caps_and_resets():
    backoff = Backoff(min_s=1, max_s=20, factor=2, jitter=0.1, rng=random.Random(3))
    delays = [backoff.next() for _ in range(8)]
    for delay, base in zip(delays, [1, 2, 4, 8, 16, 20, 20, 20], strict=True):
        assert base * 0.9 <= delay <= base * 1.1
    backoff.reset()
    assert 0.9 <= backoff.next() <= 1.1
    assert Backoff(attempts=10_000).next() <= 330  # no overflow after a very long outage


def _daemon_pid(home):
    from twin.service.process import running_pid

    return running_pid(home / "data" / "default.pid")


def test_sighup_reloads_settings_and_keeps_serving(home, server):
    env = sandbox_env(server)
    sandbox_login(home, env)
    script_replies(server, "hi bob!")
    assert twin(home, "start", env=env).returncode == 0
    pid = _daemon_pid(home)
    twin(home, "sandbox", "say", "--from", "Bob", "hello", env=env)
    wait_for(lambda: len(replies(home)) == 1, what="the first reply")
    from twin.session.sandbox import contact_id

    (home / "twin.toml").write_text(f'[rules]\ndeny = ["{contact_id("Bob")}"]\n')
    os.kill(pid, signal.SIGHUP)
    wait_for(lambda: "reloaded settings" in (home / "data" / "default.log").read_text(), what="the reload")
    wait_for(lambda: status_file(home).get("state") == "connected", what="serving again")
    twin(home, "sandbox", "say", "--from", "Bob", "still there?", env=env)
    history = wait_for(lambda: [r for r in _history(home, env) if r["incoming"] == "still there?"], what="the turn")
    assert history[0]["status"] == "skipped" and history[0]["reason"] == "on the deny list (rules.deny)"
    assert _daemon_pid(home) == pid and len(replies(home)) == 1
    assert twin(home, "stop", env=env).returncode == 0


def test_owner_commands_and_takeover_through_a_running_daemon(home, server):
    env = sandbox_env(server)
    sandbox_login(home, env)
    assert twin(home, "start", env=env).returncode == 0
    twin(home, "sandbox", "say", "--owner", "/twin pause 2h", env=env)
    wait_for(lambda: notices(home), what="the answer in Saved Messages")
    twin(home, "sandbox", "say", "--from", "Alice", "hey", env=env)
    rows = wait_for(lambda: [r for r in _history(home, env) if r["incoming"] == "hey"], what="Alice's turn")
    assert rows[0]["status"] == "skipped" and rows[0]["reason"].startswith("twin paused until")
    twin(home, "sandbox", "say", "--owner", "/twin resume", env=env)
    wait_for(lambda: len(notices(home)) == 2, what="the resume answer")
    twin(home, "sandbox", "say", "--owner", "I'll answer this one myself", "--to", "Carol", env=env)
    twin(home, "sandbox", "say", "--from", "Carol", "ok, thanks", env=env)
    rows = wait_for(lambda: [r for r in _history(home, env) if r["incoming"] == "ok, thanks"], what="Carol's turn")
    assert rows[0]["status"] == "skipped" and "the owner took over" in rows[0]["reason"]
    assert replies(home) == []
    assert twin(home, "stop", env=env).returncode == 0


def _history(home, env):
    out = twin(home, "history", "--json", env=env)
    return [json.loads(line) for line in out.stdout.splitlines()]
