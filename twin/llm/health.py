"""A provider's health, shared by every turn: up, or down since a time with the next try planned.

Pure state over a Clock. After enough retryable failures in a row the provider is marked down;
while it is down nothing calls it before `next_try`, and then only one probe goes first. Each
failed probe moves the next try further out (30 s, 1, 2, 5, 10, 30 min, jittered); the first
success ends the outage. What the owner must hear (down, back, a bad key) is queued in
`notices`, once per outage or cause.

The lasting part of the state (down since, last error, step, next try, what the owner was told)
is handed to `on_change` whenever it changes, and `restore` takes it back after a restart: a
daemon restarted mid-outage keeps waiting for the planned next try and tells the owner nothing
twice. This layer only hands the state over; the engine stores it (twin.db.state).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Literal

from twin.errors import ProviderError

if TYPE_CHECKING:
    from twin.clock import Clock  # an annotation only: `twin status` reads MODEL_WAIT without asyncio

MODEL_WAIT = "waiting for the model"  # how the reason of a turn waiting out an outage begins
BACKOFF_S = (30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)  # the last one repeats
JITTER = 0.2
PROBE_TIMEOUT = timedelta(minutes=5)  # a probe that never reports back (its turn was cancelled) expires

OUTAGE_TOLD = "outage"  # in `told`: the owner heard that this outage began
ERROR_CHARS = 120
# Key-shaped runs (an API key quoted back by a server or an SDK): never kept, never shown.
_KEYLIKE = re.compile(r"\b(?:AIza|sk-|key=)[\w-]{6,}|[A-Za-z0-9_\-]{32,}")

Usable = Literal["up", "probe", "wait"]
State = dict[str, object]


def backoff_s(step: int, rng: random.Random, jitter: float = JITTER) -> float:
    """The wait before try number `step` + 1 of an outage (step 0: the first retry), jittered."""
    base = BACKOFF_S[min(max(step, 0), len(BACKOFF_S) - 1)]
    return base * (1 + rng.uniform(-jitter, jitter))


def short_error(error: ProviderError) -> str:
    """'HTTP 503' or 'connection reset': the cause, without the provider's name in front."""
    if error.status is not None:
        return f"HTTP {error.status}"
    text = str(error)
    _, sep, rest = text.partition(": ")
    short = _KEYLIKE.sub("***", (rest if sep else text).split(" (")[0])
    return short if len(short) <= ERROR_CHARS else short[: ERROR_CHARS - 1] + "…"


@dataclass
class ProviderHealth:
    """One provider's (model's) health; `name` is how the owner knows it ("gemini", "local")."""

    name: str
    clock: Clock
    down_after: int = 1  # retryable failures in a row (across turns) that mark it down
    rng: random.Random = field(default_factory=random.Random)
    tz: tzinfo = UTC  # for the times in notices
    down_since: datetime | None = None
    last_error: str = ""
    next_try: datetime | None = None
    tries: int = 0  # failed tries since the outage began
    streak: int = 0  # retryable failures in a row while up
    probe_until: datetime | None = None
    notices: list[str] = field(default_factory=list)
    on_change: Callable[[State], None] | None = None  # called with state() whenever it changes
    _told: set[str] = field(default_factory=set)
    _saved: State = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._saved = self.state()  # what a fresh start holds: handed on only once it changes

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def usable(self, now: datetime) -> Usable:
        """up: call it; probe: down, but its next try is due and no probe is out; wait: leave it alone."""
        if not self.down:
            return "up"
        if self.probe_until is not None and self.probe_until > now:
            return "wait"
        if self.next_try is None or self.next_try <= now:
            return "probe"
        return "wait"

    def claim(self, now: datetime) -> None:
        """This call is the probe: the others keep waiting until it reports."""
        self.probe_until = now + PROBE_TIMEOUT

    def unclaim(self) -> None:
        self.probe_until = None

    def retry_at(self, now: datetime) -> datetime:
        """When a turn held back by this provider should look again."""
        if not self.down:
            return now + timedelta(seconds=BACKOFF_S[0])
        if self.next_try is not None and self.next_try > now and self.probe_until is None:
            return self.next_try
        # A probe is out (or due): if it fails, the next try is one backoff step away.
        return now + timedelta(seconds=BACKOFF_S[min(self.tries, len(BACKOFF_S) - 1)])

    def failure(self, error: ProviderError, *, probe: bool = False, now_down: bool = False) -> None:
        """A retryable failure: counts toward an outage (`now_down`: begins one), or (a probe's) moves the
        next try further out."""
        self._failure(error, probe=probe, now_down=now_down)
        self._changed()

    def _failure(self, error: ProviderError, *, probe: bool, now_down: bool) -> None:
        now = self.clock.now()
        self.last_error = short_error(error)
        if self.down and not probe:
            return  # a call that started before the outage was known: the plan stands
        self.probe_until = None
        if not self.down:
            self.streak += 1
            if self.streak < self.down_after and not now_down:
                return
            self.down_since, self.tries = now, 0
            if OUTAGE_TOLD not in self._told:
                self._told.add(OUTAGE_TOLD)
                self.notices.append(f"{self.name} is unavailable since {self._hm(now)} (last: {self.last_error}); "
                                    "replies wait and are sent when it is back.")
        self.next_try = now + timedelta(seconds=backoff_s(self.tries, self.rng))
        self.tries += 1

    def success(self) -> bool:
        """It answered: any outage is over. True when one was."""
        self.streak = 0
        self.probe_until = None
        self._told.clear()
        if self.down_since is None:
            self._changed()
            return False
        minutes = (self.clock.now() - self.down_since).total_seconds() / 60
        self.notices.append(f"{self.name} is back after {_span(minutes)}; waiting replies go out now.")
        self.down_since = self.next_try = None
        self.tries = 0
        self._changed()
        return True

    def refused(self, error: ProviderError) -> None:
        """A failure only the owner can fix (a bad key, a wrong model name): told once per cause."""
        self.streak = 0
        cause = short_error(error)
        self.last_error = cause
        if cause not in self._told:
            self._told.add(cause)
            self.notices.append(f"{error} — the owner must fix this (twin doctor); until then these replies fail.")
        self._changed()

    def state(self) -> State:
        """What outlives the process, JSON-ready: no secret (the error is short_error's, key-shaped runs blanked)."""
        return {
            "name": self.name,
            "down_since": _iso(self.down_since),
            "last_error": self.last_error,
            "tries": self.tries,
            "next_try": _iso(self.next_try),
            "told": sorted(self._told),
        }

    def restore(self, state: Mapping[str, object] | None) -> None:
        """Take back what an earlier process stored (unreadable parts are ignored: it starts up)."""
        if not state:
            return
        self.down_since = _time(state.get("down_since"))
        self.next_try = _time(state.get("next_try")) if self.down_since else None
        self.last_error = str(state.get("last_error") or "")[:ERROR_CHARS]
        tries = state.get("tries")
        self.tries = tries if isinstance(tries, int) and self.down_since else 0
        told = state.get("told")
        self._told = {str(t) for t in told} if isinstance(told, list) else set()
        self._saved = self.state()

    def _changed(self) -> None:
        if self.on_change is None:
            return
        now = self.state()
        if now != self._saved:
            self._saved = now
            self.on_change(now)

    def describe(self) -> str:
        """'gemini unavailable since 12:04 (last: HTTP 503)', or 'gemini available'."""
        if self.down_since is None:
            return f"{self.name} available"
        return f"{self.name} unavailable since {self._hm(self.down_since)} (last: {self.last_error})"

    def snapshot(self) -> dict[str, object]:
        """JSON-ready state for `twin status`."""
        return view(self.state())

    def _hm(self, when: datetime) -> str:
        return when.astimezone(self.tz).strftime("%H:%M")


def view(state: Mapping[str, object]) -> dict[str, object]:
    """A stored (or live) state as `twin status` shows a model: available, since, last error, next try."""
    since = state.get("down_since")
    return {
        "name": state.get("name"),
        "available": not since,
        "since": since or None,
        "last_error": state.get("last_error") or "",
        "next_try": state.get("next_try") if since else None,
        "tries": state.get("tries") or 0,
    }


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when else None


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _span(minutes: float) -> str:
    if minutes < 1:
        return "less than a minute"
    if minutes < 90:
        return f"{minutes:.0f} min"
    return f"{minutes / 60:.1f} h"
