"""What every step of a turn works with: the account's store and queue, the seams, the settings,
and the turn under way (`Work`) with where a step ended (`Step`).

The pipeline builds one Crew and hands it to the steps (compose, draft, outbound); its rng may be
replaced later (tests seed it), so the steps read it from here each time.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from twin.clock import Clock
from twin.config import Settings
from twin.db.store import Store
from twin.engine.hours import Hours
from twin.engine.presence import Presence
from twin.engine.queue import ReplyQueue
from twin.engine.responder import Responder
from twin.engine.rules import mode_of
from twin.engine.timing import Timing
from twin.session.base import Telegram
from twin.types import Turn
from twin.voice.flow import VoiceFlow


@dataclass
class Crew:
    account: str
    store: Store
    queue: ReplyQueue
    telegram: Telegram
    responder: Responder
    settings: Settings
    hours: Hours
    clock: Clock
    rng: random.Random
    voice: VoiceFlow
    presence: Presence
    notices: list[str]  # what the owner must hear about (the daemon posts them)

    def mode(self, chat_id: int) -> str:
        """The chat's mode in effect: its own, else the account's override, else the settings'."""
        chat, account = self.queue.chat_states(chat_id)
        return mode_of(chat.mode if chat else None, account.mode if account else None, self.settings.service.mode)

    def cancel(self, turn: Turn, why: str) -> None:
        self.store.update_turn(turn.id, self.clock.now(), status="cancelled", reason=why)


@dataclass
class Work:
    """A turn being composed, and what the steps learn about it on the way."""

    turn: Turn
    started: datetime
    timing: Timing
    extra: dict[str, Any]
    steps: dict[str, object]
    fields: dict[str, Any] = field(default_factory=dict)  # provider, model, tokens


@dataclass(frozen=True)
class Step:
    """Where composing ended: status "" means "send send_text"; any other status is recorded as the turn's."""

    status: str
    reason: str
    send_text: str | None = None
    due_at: datetime | None = None  # status "waiting": when to try again
    emoji: str = ""  # with status "": react with this emoji instead of sending text

    @classmethod
    def send(cls, text: str) -> Step:
        return cls("", "", text)


def as_dict(value: object) -> dict[str, object]:
    return dict(value) if isinstance(value, dict) else {}
