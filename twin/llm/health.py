"""A provider's health, shared by every turn: up, or down since a time with the next try planned.

Pure state over a Clock. After enough retryable failures in a row the provider is marked down;
while it is down nothing calls it before `next_try`, and then only one probe goes first. Each
failed probe moves the next try further out (30 s, 1, 2, 5, 10, 30 min, jittered); the first
success ends the outage. What the owner must hear (down, back, a bad key) is queued in
`notices`, once per outage or cause.
"""

from __future__ import annotations

import random
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

Usable = Literal["up", "probe", "wait"]


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
    return (rest if sep else text).split(" (")[0]


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
    _told: set[str] = field(default_factory=set)

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
            return False
        minutes = (self.clock.now() - self.down_since).total_seconds() / 60
        self.notices.append(f"{self.name} is back after {_span(minutes)}; waiting replies go out now.")
        self.down_since = self.next_try = None
        self.tries = 0
        return True

    def refused(self, error: ProviderError) -> None:
        """A failure only the owner can fix (a bad key, a wrong model name): told once per cause."""
        self.streak = 0
        cause = short_error(error)
        self.last_error = cause
        if cause not in self._told:
            self._told.add(cause)
            self.notices.append(f"{error} — the owner must fix this (twin doctor); until then these replies fail.")

    def describe(self) -> str:
        """'gemini unavailable since 12:04 (last: HTTP 503)', or 'gemini available'."""
        if self.down_since is None:
            return f"{self.name} available"
        return f"{self.name} unavailable since {self._hm(self.down_since)} (last: {self.last_error})"

    def snapshot(self) -> dict[str, object]:
        """JSON-ready state for `twin status`."""
        return {
            "name": self.name,
            "available": not self.down,
            "since": self.down_since.isoformat() if self.down_since else None,
            "last_error": self.last_error,
            "next_try": self.next_try.isoformat() if self.down and self.next_try else None,
            "tries": self.tries,
        }

    def _hm(self, when: datetime) -> str:
        return when.astimezone(self.tz).strftime("%H:%M")


def _span(minutes: float) -> str:
    if minutes < 1:
        return "less than a minute"
    if minutes < 90:
        return f"{minutes:.0f} min"
    return f"{minutes / 60:.1f} h"
