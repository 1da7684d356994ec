"""Waiting out a model outage: a turn goes back to `waiting` with the next try, and is released after.

Pure decisions over a turn and the time, plus the one write that releases the turns that waited
once the model answers again (spread out, like a person catching up, not all at once). Each
model's health is kept in the database (twin_state, "health:<label>|<model>") on every change
and taken back at start, so a restart mid-outage neither hammers the dead provider nor tells
the owner twice.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from functools import partial
from typing import Any

from twin.config import Settings
from twin.db.state import State
from twin.db.store import Store
from twin.errors import StoreError
from twin.llm.chain import Model, ModelChain, stagger
from twin.llm.health import MODEL_WAIT
from twin.types import Turn

log = logging.getLogger("twin.pipeline")
RETRY_SPREAD_S = 20.0  # turns held for the same next try start within this (times timing.scale)
HEALTH = "health:"  # the twin_state keys of the models' health
LEFT_FOR_OWNER = ("Replies that waited longer than timing.stale_after_h for the model are left for you: "
                  "twin history --status needs_owner")


@dataclass(frozen=True)
class Wait:
    """What becomes of a turn the model cannot answer now: `waiting` until due_at, or left to the owner."""

    status: str  # waiting | needs_owner
    reason: str
    due_at: datetime | None


def needs_model(turn: Turn) -> bool:
    """Whether composing this turn needs the model: an approved draft does not, nor an away note (during an
    outage it is the plain default line)."""
    if turn.extra.get("approved") and turn.reply_text:
        return False
    return not turn.extra.get("away")


def plan_wait(turn: Turn, retry_at: datetime, why: str, *, settings: Settings, tz: tzinfo,
              rng: random.Random) -> Wait:
    """Back to waiting until the next try, or to the owner when the message would be older than stale_after_h."""
    due = retry_at + timedelta(seconds=rng.uniform(0, RETRY_SPREAD_S) * settings.timing.scale)
    why = why if len(why) <= 160 else why[:159] + "…"
    if due - turn.received_at > timedelta(hours=settings.timing.stale_after_h):
        hours = (due - turn.received_at).total_seconds() / 3600
        return Wait("needs_owner", f"left for you: the model was unavailable for {hours:.1f} h "
                    f"(timing.stale_after_h; last: {why})", None)
    return Wait("waiting", f"{MODEL_WAIT}: {why}; next try {due.astimezone(tz):%H:%M}", due)


def health_key(model: Model) -> str:
    """Where a model's health is stored: by the name the owner knows it by and the model it runs."""
    return f"{HEALTH}{model.label}|{model.llm.model}"


def release(store: Store, account: str, now: datetime, rng: random.Random, scale: float) -> int:
    """The model is back: the turns that waited for it are due now, one after another (oldest first)."""
    held = [t for t in store.turns(account, status=["waiting"], limit=100_000, newest_first=False)
            if t.reason.startswith(MODEL_WAIT)]
    held.sort(key=lambda t: t.received_at)
    for turn, offset in zip(held, stagger(len(held), rng, scale=scale), strict=True):
        store.update_turn(turn.id, now, due_at=now + offset, reason=f"{MODEL_WAIT}: the model is back")
    return len(held)


class Outages:
    """The pipeline's side of the models' health: hold turns while none can answer, release them after."""

    def __init__(self, store: Store, account: str, settings: Settings, chain: ModelChain, tz: tzinfo,
                 rng: random.Random, notices: list[str]) -> None:
        self.store = store
        self.account = account
        self.settings = settings
        self.chain = chain
        self.tz = tz
        self.rng = rng
        self.notices = notices  # the pipeline's: the daemon posts them in Saved Messages
        self._left_told = False  # the owner heard that replies were left to them in this outage
        self._probe: int | None = None  # the one turn let through to try a model that is down
        self.saved = State(store, account)
        self._restore()

    def _restore(self) -> None:
        """Each model's health as the last process left it; every change is written from now on."""
        stored = self.saved.under(HEALTH)
        for order, model in enumerate(self.chain.models):
            key = health_key(model)
            model.health.restore(stored.get(key))
            if model.health.down:
                log.info("%s", model.health.describe() + " (before the restart); it is tried again at the next try")
            extra: dict[str, Any] = {"model": model.llm.model, "order": order}
            model.health.on_change = partial(self._save, key, extra)
            if key not in stored:
                self._save(key, extra, model.health.state())  # `twin status` lists it while the twin is down
        self.saved.keep_only(HEALTH, [health_key(m) for m in self.chain.models])

    def _save(self, key: str, extra: dict[str, Any], state: dict[str, object]) -> None:
        try:
            self.saved.put(key, {**state, **extra}, self.chain.clock.now())
        except StoreError as exc:  # the health still works in memory; the next change tries again
            log.warning("could not store the model's health: %s", exc)

    def held(self, turn: Turn, now: datetime) -> bool:
        """While no model may be called (an outage, before its next try) the turn waits, not composed."""
        if not needs_model(turn):
            return False
        hold = self.chain.hold_until(now)
        if hold is None and self.chain.all_down():
            # A next try is due: one turn goes first; the rest follow when it succeeds (release).
            if self._probe is None or self._probe == turn.id:
                self._probe = turn.id
            else:
                hold = self.chain.retry_at(now)
        if hold is None:
            return False
        wait = self.wait(turn, hold, self.chain.trouble())
        self.store.update_turn(turn.id, now, status=wait.status, reason=wait.reason, due_at=wait.due_at)
        return True

    def wait(self, turn: Turn, retry_at: datetime, why: str) -> Wait:
        """Wait for the next try, or (past stale_after_h) leave the turn to the owner, telling them once."""
        wait = plan_wait(turn, retry_at, why, settings=self.settings, tz=self.tz, rng=self.rng)
        if wait.status == "needs_owner" and not self._left_told:
            self._left_told = True
            self.notices.append(LEFT_FOR_OWNER)
        return wait

    def news(self, turn_id: int) -> None:
        """After a turn: pass on what the models' health says; once one is back, release the turns that waited."""
        if self._probe == turn_id:
            self._probe = None
        self.notices.extend(self.chain.take_notices())
        if self.chain.take_recovered():
            self._left_told = False
            released = release(self.store, self.account, self.chain.clock.now(), self.rng, self.settings.timing.scale)
            if released:
                log.info("the model is back: %s waiting replies released", released)
