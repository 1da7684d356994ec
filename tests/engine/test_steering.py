"""Steering: review mode (functions and `twin review` through stdin), modes, pauses, owner commands."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.fakes import T0, incoming
from tests.helpers import make_settings
from tests.service_helpers import twin
from twin.db.store import Store
from twin.engine.review import SKIPPED_REASON, approve, read_key, regenerate, reject, review_loop
from twin.engine.steer import FOREVER, effective_mode, pause, paused_until, resume, set_mode
from twin.errors import TwinError
from twin.service.control import owner_command


def _store(home: Path) -> Store:
    return Store(f"sqlite:///{home / 'data' / 'twin.db'}")


def _draft(store: Store, text: str, draft: str, chat: int = 1, title: str = "Alice", at: datetime = T0) -> int:
    turn_id = store.add_turn("default", [incoming(text, chat_id=chat, chat_title=title)], status="review", now=at)
    store.update_turn(turn_id, at, reply_text=draft, reason="review mode: waiting for the owner")
    return turn_id


def test_approve_edit_reject_and_regenerate(twin_home):
    store = _store(twin_home)
    a, b, c, d = (_draft(store, f"m{i}", f"draft {i}") for i in range(4))
    now = T0 + timedelta(minutes=5)
    approve(store, a, "draft 0", now)
    turn = store.turn(a)
    assert (turn.status, turn.reply_text, turn.due_at, turn.reason) == ("waiting", "draft 0", now, "")
    assert turn.extra["approved"] is True and "draft" not in turn.extra
    approve(store, b, "  my own words ", now)
    assert store.turn(b).reply_text == "my own words" and store.turn(b).extra["draft"] == "draft 1"
    reject(store, c, now)
    assert (store.turn(c).status, store.turn(c).reason, store.turn(c).reply_text) == \
        ("skipped", SKIPPED_REASON, "draft 2")
    regenerate(store, d, now)
    turn = store.turn(d)
    assert (turn.status, turn.reply_text, turn.due_at) == ("waiting", None, now)
    assert turn.extra["regenerate"] == 1 and turn.extra["drafts"] == ["draft 3"]
    with pytest.raises(TwinError, match="not waiting for review any more \\(it is waiting\\)"):
        approve(store, a, "again", now)
    with pytest.raises(TwinError, match="empty reply"):
        approve(store, d, "  ", now)
    with pytest.raises(TwinError, match="no turn 999"):
        reject(store, 999, now)


class ScriptedReviewUI:
    """The review loop's owner, from a script: answers to prompts (then 'q'), and a callback for edits."""

    def __init__(self, *answers: str, edit=lambda text: text) -> None:
        self.answers, self.on_edit = list(answers), edit
        self.said: list[str] = []
        self.shown: list[tuple[int, int, int]] = []

    def ask(self, prompt: str) -> str:
        return self.answers.pop(0) if self.answers else "q"

    def edit(self, text: str) -> str:
        return self.on_edit(text)

    def say(self, text: str) -> None:
        self.said.append(text)

    def show(self, turn, position: int, total: int) -> None:
        self.shown.append((turn.id, position, total))


def test_review_loop_asks_again_until_a_key_acts_and_moves_on_when_a_change_fails(twin_home):
    store = _store(twin_home)
    a, b, c = (_draft(store, f"m{i}", f"draft {i}") for i in range(3))

    def edit_while_another_terminal_skips_b(text: str) -> str:
        if text == "draft 1":
            reject(store, b, T0)  # the draft moves on while the owner is editing it
            return "my words"
        return "   "

    ui = ScriptedReviewUI("e", "Send", "e", "x", "q", edit=edit_while_another_terminal_skips_b)
    done = review_loop(store, "default", ui, lambda: T0 + timedelta(minutes=1))
    assert done == {"sent": 1, "edited": 0, "regenerated": 0, "skipped": 0}
    assert ui.shown == [(a, 1, 3), (b, 2, 3), (c, 3, 3)]
    assert ui.said == ["The text is empty; nothing sent.",
                       f"turn {b} is not waiting for review any more (it is skipped)", "Press s, e, r, k or q."]
    assert [store.turn(i).status for i in (a, b, c)] == ["waiting", "skipped", "review"]
    assert store.turn(a).reply_text == "draft 0" and store.turn(b).reply_text == "draft 1"


def test_review_loop_without_drafts_and_the_keys_read(twin_home):
    ui = ScriptedReviewUI("s")
    assert review_loop(_store(twin_home), "default", ui, lambda: T0) == dict.fromkeys(
        ("sent", "edited", "regenerated", "skipped"), 0)
    assert ui.said == ["No drafts are waiting for review."] and ui.answers == ["s"]  # nothing was asked
    assert [read_key(answer) for answer in ("  Send ", "K", "", "quit")] == ["s", "k", "", "q"]


def test_twin_review_through_stdin(twin_home):
    store = _store(twin_home)
    ids = [_draft(store, "are you free tonight?", "sure, after 8", 1, "Alice"),
           _draft(store, "can you send the file", "sending it now", 2, "Bob"),
           _draft(store, "lend me 100?", "of course", 3, "Carol"),
           _draft(store, "hello", "hi!", 4, "Dave")]
    out = twin(twin_home, "review", stdin="s\nx\ne\nI'll send it tomorrow\nk\nr\n")
    assert out.returncode == 0, out.stderr
    assert "1/4" in out.stdout and "are you free tonight?" in out.stdout and "sure, after 8" in out.stdout
    assert "Press s, e, r, k or q." in out.stdout
    assert out.stdout.strip().endswith("1 sent, 1 edited, 1 regenerated, 1 skipped.")
    turns = [store.turn(i) for i in ids]
    assert [t.status for t in turns] == ["waiting", "waiting", "skipped", "waiting"]
    assert turns[0].extra["approved"] and turns[0].reply_text == "sure, after 8"
    assert turns[1].reply_text == "I'll send it tomorrow" and turns[1].extra["draft"] == "sending it now"
    assert turns[3].reply_text is None and turns[3].extra["regenerate"] == 1
    assert twin(twin_home, "review").stdout.strip().startswith("No drafts are waiting")


def test_review_stops_at_end_of_input(twin_home):
    store = _store(twin_home)
    first, second = _draft(store, "a", "draft a"), _draft(store, "b", "draft b")
    out = twin(twin_home, "review", stdin="k\n")
    assert out.returncode == 0 and out.stdout.strip().endswith("0 sent, 0 edited, 0 regenerated, 1 skipped.")
    assert store.turn(first).status == "skipped" and store.turn(second).status == "review"


def test_modes_globally_and_per_chat(twin_home):
    store = _store(twin_home)
    _draft(store, "hi", "hello", 1, "Alice")
    settings = make_settings(twin_home)
    assert twin(twin_home, "mode").stdout.startswith("Account mode: auto (settings)")
    assert twin(twin_home, "mode", "review").stdout.strip() == "Mode of the account: review."
    assert twin(twin_home, "mode", "Alice", "off").stdout.strip() == "Mode of chat 1: off."
    assert (effective_mode(store, settings, "default", 1), effective_mode(store, settings, "default", 2)) == \
        ("off", "review")
    listing = twin(twin_home, "mode").stdout
    assert "Account mode: review (override)" in listing and "Alice" in listing and "off" in listing
    twin(twin_home, "mode", "1", "inherit")
    twin(twin_home, "mode", "inherit")
    assert effective_mode(store, settings, "default", 1) == "auto"
    bad = twin(twin_home, "mode", "Alice", "loud")
    assert bad.returncode == 1 and "'loud' is not a mode" in bad.stderr
    assert json.loads(twin(twin_home, "status", "--json").stdout)["mode"] == "auto"


def test_pause_and_resume(twin_home):
    store = _store(twin_home)
    _draft(store, "hi", "hello", 1, "Alice")
    out = twin(twin_home, "pause", "--for", "2h")
    assert out.returncode == 0 and out.stdout.startswith("Paused every chat for 2 h")
    now = datetime.now(UTC)
    until = paused_until(store, "default", 5, now)
    assert until is not None and timedelta(hours=1, minutes=59) < until - now <= timedelta(hours=2)
    assert twin(twin_home, "pause", "@nobody").returncode == 1
    assert twin(twin_home, "pause", "Alice").stdout.strip() == "Paused chat 1 until resumed."
    pauses = json.loads(twin(twin_home, "status", "--json").stdout)["pauses"]
    assert [(p["chat_id"], p["chat"], p["until"] is None) for p in pauses] == [(0, "all chats", False),
                                                                                 (1, "Alice", True)]
    assert twin(twin_home, "resume").stdout.strip() == "Resumed the account."
    assert paused_until(store, "default", 5, now) is None and paused_until(store, "default", 1, now) == FOREVER
    assert twin(twin_home, "resume", "Alice").stdout.strip() == "Resumed chat 1."
    assert twin(twin_home, "resume").stdout.strip() == "The account was not paused."
    assert store.chat("default", 1).extra.get("pause_reason") == ""


def test_steer_functions(twin_home):
    store = _store(twin_home)
    settings = make_settings(twin_home, **{"service.mode": "review"})
    assert effective_mode(store, settings, "default", 7) == "review"
    set_mode(store, "default", 7, "auto")
    assert effective_mode(store, settings, "default", 7) == "auto"
    end = pause(store, "default", 7, T0 + timedelta(hours=1))
    assert paused_until(store, "default", 7, T0) == end and paused_until(store, "default", 7, end) is None
    assert store.chat("default", 7).extra["pause_reason"] == "paused by the owner"
    assert resume(store, "default", 7, T0) is True and resume(store, "default", 7, T0) is False
    with pytest.raises(ValueError):
        set_mode(store, "default", None, "loud")


def test_owner_commands_from_saved_messages(twin_home):
    store = _store(twin_home)
    settings = make_settings(twin_home)
    now = datetime.now(UTC)

    def cmd(text: str) -> str | None:
        return owner_command(text, store=store, settings=settings, account="default", now=now)

    assert cmd("just a note to self") is None and cmd("/twinkle") is None
    assert "twin commands:" in cmd("/twin")
    assert cmd("/twin pause 2h") == "twin is paused for 2 h: no replies go out. /twin resume ends it."
    assert paused_until(store, "default", 42, now) == now + timedelta(hours=2)
    status = cmd("/twin status")
    assert status.startswith("twin (default): not running") and "mode: auto" in status
    assert "paused: all chats until" in status and "queue: empty" in status
    assert cmd("/twin resume") == "twin resumed: replies go out again."
    assert cmd("/TWIN resume") == "twin was not paused."
    assert cmd("/twin pause") .startswith("twin is paused until resumed")
    assert cmd("/twin pause soon") == "twin: 'soon' is not a duration (try 30m, 2h, 3d)"
    assert cmd("/twin mode review") == "twin mode: review."
    assert effective_mode(store, settings, "default", 42) == "review"
    assert "twin commands:" in cmd("/twin dance")
