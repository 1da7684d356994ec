"""Sending for the whole account: exactly once per random_id, within Telegram's patience.

Each part of a reply has its own random_id (stored before the first send), so a retry after a
lost connection or a crash cannot deliver it twice; Telegram answers a repeat with RANDOM_ID_DUPLICATE.

A FloodWait pauses every send for the time Telegram asks (plus jitter); PEER_FLOOD stops
sending until the owner resumes; a global cap keeps sends per hour human.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from twin.db.sent import Part
from twin.engine.queue import OFFLINE_REASON
from twin.errors import Disconnected, FloodWait, PeerFlood, TelegramError
from twin.session.base import TELEGRAM_TEXT_LIMIT, Telegram
from twin.types import VoiceNote


def split_message(text: str, limit: int = TELEGRAM_TEXT_LIMIT) -> list[str]:
    """Split at paragraph, line, sentence or word ends so that each part fits Telegram's limit."""
    parts: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[:limit]
        cut = max(window.rfind(sep) for sep in ("\n\n", "\n", ". ", "! ", "? ", " "))
        cut = cut + 1 if cut > limit // 2 else limit
        parts.append(rest[:cut].strip())
        rest = rest[cut:].strip()
    if rest:
        parts.append(rest)
    return parts


@dataclass
class SendGate:
    """When the account may send again (in memory; pauses that must survive a restart go to the DB)."""

    paused_until: datetime | None = None
    stopped_reason: str = ""
    loaded: bool = False
    sent: deque[datetime] = field(default_factory=deque)  # send times of the last hour

    def load(self, sent: list[datetime]) -> None:
        """Start the hourly window from what the store says was sent."""
        self.sent = deque(sorted(sent))
        self.loaded = True

    def record(self, when: datetime) -> None:
        self.sent.append(when)

    def wait_until(self, now: datetime, per_hour: int) -> datetime | None:
        """None when sending is allowed now, else when it will be."""
        if self.paused_until and self.paused_until > now:
            return self.paused_until
        while self.sent and self.sent[0] <= now - timedelta(hours=1):
            self.sent.popleft()
        if len(self.sent) >= per_hour:
            return self.sent[0] + timedelta(hours=1)
        return None


class Outcome:
    SENT = "sent"
    FLOOD = "flood"
    PEER_FLOOD = "peer_flood"
    OFFLINE = "offline"  # the connection dropped: retried (same random_id) after the reconnect
    STOPPED = "stopped"  # the check before a part said no (the owner took over)

RETRY_OFFLINE_S = 15.0
Before = Callable[[Part], Awaitable[str | None]]  # before each part: None to send it, else why not
After = Callable[[Part, int], Awaitable[None]]  # after each part: the id Telegram gave (0: it had it already)


@dataclass(frozen=True)
class SendResult:
    outcome: str
    wait_s: float = 0.0
    detail: str = ""


async def send_parts(telegram: Telegram, gate: SendGate, chat_id: int, parts: Sequence[Part], now: datetime,
                     rng: random.Random, *, before: Before, after: After, voice: VoiceNote | None = None,
                     reply_to: int | None = None) -> SendResult:
    """Send each part with its own random_id (a voice part as the note), telling the caller before and after each.

    `after` runs as soon as Telegram answers a part, so a part's id is stored before the next one goes:
    a FloodWait, a lost connection or a crash later in the reply cannot lose it. reply_to quotes that
    message with the first part (the rest follow plainly, as a person's would).
    """
    try:
        for part in parts:
            quote = reply_to if part.index == 0 else None
            why_not = await before(part)
            if why_not is not None:
                return SendResult(Outcome.STOPPED, detail=why_not)
            if part.kind == "voice":
                if voice is None:
                    raise TelegramError("a voice part to send without its voice note")
                message_id = await telegram.send_voice(chat_id, voice, random_id=part.random_id, reply_to=quote)
            else:
                message_id = await telegram.send_text(chat_id, part.text, random_id=part.random_id, reply_to=quote)
            await after(part, message_id)
    except FloodWait as exc:
        wait = exc.seconds + rng.uniform(1.0, 1.0 + exc.seconds * 0.1)
        gate.paused_until = now + timedelta(seconds=wait)
        return SendResult(Outcome.FLOOD, wait, f"Telegram asked to wait {exc.seconds} s (FloodWait)")
    except Disconnected as exc:
        return SendResult(Outcome.OFFLINE, RETRY_OFFLINE_S, f"{OFFLINE_REASON} while sending ({exc})")
    except PeerFlood:
        gate.stopped_reason = "PEER_FLOOD"
        gate.paused_until = now + timedelta(days=365)
        return SendResult(Outcome.PEER_FLOOD, detail="PEER_FLOOD: Telegram limits this account")
    return SendResult(Outcome.SENT)
