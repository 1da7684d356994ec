"""Review mode: drafts wait with status "review" until the owner sends, edits, regenerates or skips them.

Each change is one conditional UPDATE (`... WHERE status = 'review'`), so a draft the daemon
or another terminal already moved on is never changed twice. Approval hands the turn back to
the queue as "waiting", due now, with the text to send and extra["approved"] = True: the daemon
sends it with human timing (typing, pauses) like any other reply.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import sqlalchemy as sa

from twin.db.store import Store
from twin.db.tables import TurnRow
from twin.errors import TwinError
from twin.types import Turn

REVIEW = "review"
SKIPPED_REASON = "skipped by the owner in review"


def pending(store: Store, account: str, limit: int = 1000) -> list[Turn]:
    """Drafts waiting for the owner, oldest first."""
    return store.turns(account, status=[REVIEW], limit=limit, newest_first=False)


def _change(store: Store, turn_id: int, now: datetime, values: Callable[[TurnRow], dict[str, Any]]) -> None:
    """Apply values(row) to a turn still in review, in one transaction; TwinError otherwise."""
    with store.session() as s, s.begin():
        row = s.get(TurnRow, turn_id)
        if row is None:
            raise TwinError(f"no turn {turn_id}")
        if row.status != REVIEW:
            raise TwinError(f"turn {turn_id} is not waiting for review any more (it is {row.status})")
        done = s.execute(sa.update(TurnRow).where(TurnRow.id == turn_id, TurnRow.status == REVIEW)
                         .values(updated_at=now, **values(row)))
        if getattr(done, "rowcount", 1) != 1:
            raise TwinError(f"turn {turn_id} changed while you were reviewing it")


def approve(store: Store, turn_id: int, text: str, now: datetime) -> None:
    """Send this text (the draft as is, or edited): back to the queue, due now, marked approved."""
    text = text.strip()
    if not text:
        raise TwinError("an empty reply cannot be sent (skip the draft instead)")

    def values(row: TurnRow) -> dict[str, Any]:
        extra: dict[str, Any] = {**row.extra, "approved": True, "approved_at": now.isoformat()}
        if row.reply_text is not None and row.reply_text != text:
            extra["draft"] = row.reply_text
        return {"status": "waiting", "reply_text": text, "due_at": now, "reason": "", "extra": extra}

    _change(store, turn_id, now, values)


def reject(store: Store, turn_id: int, now: datetime, reason: str = SKIPPED_REASON) -> None:
    """Do not answer: the turn ends as skipped, the draft kept for the record."""
    _change(store, turn_id, now, lambda row: {"status": "skipped", "reason": reason,
                                              "extra": {**row.extra, "rejected_at": now.isoformat()}})


def regenerate(store: Store, turn_id: int, now: datetime) -> None:
    """Ask for a new draft: back to the queue without a reply, due now; old drafts are kept in extra["drafts"]."""

    def values(row: TurnRow) -> dict[str, Any]:
        drafts = [*row.extra.get("drafts", []), *([row.reply_text] if row.reply_text else [])]
        extra = {**row.extra, "regenerate": int(row.extra.get("regenerate", 0)) + 1, "drafts": drafts}
        extra.pop("approved", None)
        return {"status": "waiting", "reply_text": None, "due_at": now, "reason": "", "extra": extra}

    _change(store, turn_id, now, values)


class ReviewUI(Protocol):
    """How the review loop talks to the owner (the terminal, or a script in tests)."""

    def ask(self, prompt: str) -> str:
        """A line of input ('q' at the end of input)."""
        ...

    def edit(self, text: str) -> str:
        """The text after the owner edited it."""
        ...

    def say(self, text: str) -> None:
        """Tell the owner something."""
        ...

    def show(self, turn: Turn, position: int, total: int) -> None:
        """Show one draft."""
        ...


KEYS = "[s]end  [e]dit and send  [r]egenerate  s[k]ip  [q]uit"
QUIT = "quit"
OUTCOMES = ("sent", "edited", "regenerated", "skipped")
# What one key does to a draft: the outcome to count, or "" when nothing was done and the owner is asked again.
Action = Callable[[Store, Turn, ReviewUI, Callable[[], datetime]], str]


def _send(store: Store, turn: Turn, ui: ReviewUI, now: Callable[[], datetime]) -> str:
    approve(store, turn.id, turn.reply_text or "", now())
    return "sent"


def _edit(store: Store, turn: Turn, ui: ReviewUI, now: Callable[[], datetime]) -> str:
    text = ui.edit(turn.reply_text or "")
    if not text.strip():
        ui.say("The text is empty; nothing sent.")
        return ""
    approve(store, turn.id, text, now())
    return "edited"


def _regenerate(store: Store, turn: Turn, ui: ReviewUI, now: Callable[[], datetime]) -> str:
    regenerate(store, turn.id, now())
    ui.say("A new draft will be written; it will wait here again.")
    return "regenerated"


def _skip(store: Store, turn: Turn, ui: ReviewUI, now: Callable[[], datetime]) -> str:
    reject(store, turn.id, now())
    return "skipped"


ACTIONS: dict[str, Action] = {"s": _send, "e": _edit, "r": _regenerate, "k": _skip}


def read_key(answer: str) -> str:
    """The key an answer means: its first letter, lowercased ('' for an empty answer)."""
    return answer.strip().lower()[:1]


def review_one(store: Store, turn: Turn, ui: ReviewUI, now: Callable[[], datetime]) -> str:
    """Ask until a key acts on the draft: its outcome, QUIT, or "" when the change failed (the owner is told)."""
    while True:
        key = read_key(ui.ask(KEYS))
        if key == "q":
            return QUIT
        action = ACTIONS.get(key)
        if action is None:
            ui.say("Press s, e, r, k or q.")
            continue
        try:
            outcome = action(store, turn, ui, now)
        except TwinError as exc:
            ui.say(str(exc))
            return ""
        if outcome:
            return outcome


def review_loop(store: Store, account: str, ui: ReviewUI, now: Callable[[], datetime]) -> dict[str, int]:
    """Go through the drafts one by one; returns how many were sent, edited, regenerated and skipped."""
    done = dict.fromkeys(OUTCOMES, 0)
    drafts = pending(store, account)
    if not drafts:
        ui.say("No drafts are waiting for review.")
        return done
    for position, first in enumerate(drafts, 1):
        turn = store.turn(first.id)
        if turn is None or turn.status != REVIEW:
            continue  # handled elsewhere meanwhile
        ui.show(turn, position, len(drafts))
        outcome = review_one(store, turn, ui, now)
        if outcome == QUIT:
            break
        if outcome:
            done[outcome] += 1
    return done


def edit_in_editor(text: str) -> str:
    """Open $VISUAL / $EDITOR (vi) on the text and return what was saved."""
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    fd, name = tempfile.mkstemp(suffix=".txt", prefix="twin-draft-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        subprocess.run([*shlex.split(editor), name], check=False)
        return Path(name).read_text(encoding="utf-8").strip()
    finally:
        os.unlink(name)
