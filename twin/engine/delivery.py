"""Delivering a turn's planned parts while keeping the sent-parts ledger true.

Each part's id is stored the moment Telegram gives it. A part Telegram already had (RANDOM_ID_DUPLICATE:
an earlier attempt went through, its answer was lost) is looked up in the chat, so its real id is
known too; an id an echo had matched to a part wrongly turns out to be the owner's message.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from twin.clock import Clock
from twin.db.sent import ECHO_SLACK, Part, SentParts, same_text
from twin.engine.queue import ReplyQueue
from twin.engine.sender import Outcome, SendGate, SendResult, send_parts
from twin.errors import Disconnected, TelegramError
from twin.session.base import Telegram
from twin.types import HistoryMessage, Turn, VoiceNote

log = logging.getLogger("twin.delivery")
LOOKUP_LIMIT = 50  # recent messages searched for a part Telegram already had
OwnerWrote = Callable[[int, HistoryMessage], None]


@dataclass(frozen=True)
class Delivered:
    """A reply that is out: its parts with their ids, and why it stopped early ("" when whole)."""

    parts: list[Part]
    stopped: str = ""


class Delivery:
    """Sends parts through the gate; the ledger learns every id, the owner's messages are told apart."""

    def __init__(self, *, ledger: SentParts, queue: ReplyQueue, telegram: Telegram, gate: SendGate, clock: Clock,
                 rng: random.Random, notices: list[str]) -> None:
        self.ledger = ledger
        self.notices = notices  # what the owner must hear about (shared with the pipeline)
        self.queue = queue
        self.telegram = telegram
        self.gate = gate
        self.clock = clock
        self.rng = rng
        self.owner_wrote: OwnerWrote | None = None  # the daemon's takeover, for a message found to be the owner's

    async def deliver(self, turn: Turn, parts: Sequence[Part], voice: VoiceNote | None) -> Delivered | None:
        """Send the turn's parts; the parts when the reply is out (or stopped after some), else None: the
        turn is failed, cancelled, or kept with its plan and random_ids for a retry when the gate opens."""
        store = self.queue.store
        try:
            result = await self.send(turn, parts, voice)
        except TelegramError as exc:
            self.ledger.forget_untried(turn.id)
            store.update_turn(turn.id, self.clock.now(), status="failed", reason=f"send failed: {exc}")
            log.warning("turn %s: send failed: %s", turn.id, exc)
            return None
        now = self.clock.now()
        done = self.ledger.parts(turn.id)
        if result.outcome == Outcome.STOPPED:
            self.ledger.forget_untried(turn.id)
            sent = [p for p in done if p.message_id]
            if sent:
                return Delivered(sent, f"{len(sent)} of {len(done)} parts sent, then {result.detail}")
            if result.detail != "cancelled":
                store.update_turn(turn.id, now, status="cancelled", reason=result.detail)
            return None
        if result.outcome == Outcome.SENT:
            return Delivered(done)
        if result.outcome == Outcome.OFFLINE:
            store.update_turn(turn.id, now, due_at=now + timedelta(seconds=result.wait_s), reason=result.detail)
            return None
        flood = {"at": now.isoformat(), "wait_s": round(result.wait_s, 1)}
        store.update_turn(turn.id, now, due_at=self.gate.paused_until, reason=result.detail,
                          extra={**turn.extra, "flood": flood})
        if result.outcome == Outcome.PEER_FLOOD:
            self.queue.pause_chat(0, now + timedelta(days=365), "PEER_FLOOD: run `twin resume` after checking")
            self.notices.append("Telegram reported PEER_FLOOD: twin stopped sending. Check @SpamBot, "
                                "then `twin resume`.")
        elif result.wait_s >= 300:
            self.notices.append(f"Telegram asked twin to wait {result.wait_s / 60:.0f} min (FloodWait).")
        return None

    async def send(self, turn: Turn, parts: Sequence[Part], voice: VoiceNote | None) -> SendResult:
        """Send the parts Telegram has not confirmed yet, in order."""

        first_try: list[Part] = []  # the part under way, when this is its first attempt

        async def before(part: Part) -> str | None:
            now = self.clock.now()
            first_try.clear()
            if part.attempted_at is None:  # a part never tried: the owner may have taken over meanwhile
                why = self.queue.may_send(turn.id, turn.chat_id, now)
                if why is not None:
                    return why
                first_try.append(part)
            self.ledger.attempt(part, now)
            return None

        async def after(part: Part, message_id: int) -> None:
            first_try.clear()
            await self._delivered(part, message_id)

        pending = [p for p in parts if not p.confirmed]
        try:
            result = await send_parts(self.telegram, self.gate, turn.chat_id, pending, self.clock.now(), self.rng,
                                      before=before, after=after, voice=voice,
                                      reply_to=_reply_to(turn.extra.get("reply_to")))
        except TelegramError as exc:
            if first_try and not isinstance(exc, Disconnected):
                self.ledger.attempt(first_try[0], None)  # refused by Telegram: never delivered, no echo to await
            raise
        if first_try and result.outcome in (Outcome.FLOOD, Outcome.PEER_FLOOD):
            self.ledger.attempt(first_try[0], None)
        return result

    async def _delivered(self, part: Part, message_id: int) -> None:
        now = self.clock.now()
        if message_id:
            displaced = self.ledger.delivered(part, message_id, "sent", now)
            if displaced is not None:
                log.info("chat %s: message %s matched part %s of turn %s by its text, but was the owner's",
                         part.chat_id, displaced, part.index, part.turn_id)
                if self.owner_wrote is not None:
                    self.owner_wrote(part.chat_id, HistoryMessage(displaced, now, True, part.text))
            return
        # RANDOM_ID_DUPLICATE: an earlier attempt was delivered and its answer lost.
        stored = next((p for p in self.ledger.parts(part.turn_id) if p.index == part.index), part)
        if stored.message_id is not None:
            return  # its echo already told us the id
        found = await self.find(part)
        if found is not None:
            self.ledger.delivered(part, found, "history", now)
            log.info("turn %s part %s was delivered earlier: it is message %s", part.turn_id, part.index, found)
        else:
            log.info("turn %s part %s was delivered earlier; its id comes with its echo", part.turn_id, part.index)

    async def find(self, part: Part) -> int | None:
        """The message Telegram made of this part: the oldest outgoing one since its first attempt that is
        neither another part's nor already taken for the owner's, with the part's text (a text part) or a voice
        note (a voice part); None when it cannot be told."""
        try:
            history = await self.telegram.history(part.chat_id, LOOKUP_LIMIT)
        except TelegramError as exc:
            log.info("could not look for an earlier delivery in chat %s: %s", part.chat_id, exc)
            return None
        taken = self.ledger.ids(part.chat_id) | self.ledger.owner_ids(part.chat_id)
        since = (part.attempted_at or part.planned_at) - ECHO_SLACK
        for message in history:  # oldest first: the twin's attempt comes before any later copy by the owner
            if message.outgoing and message.message_id not in taken and message.date >= since and _made_of(
                    message, part):
                return message.message_id
        return None


def _made_of(message: HistoryMessage, part: Part) -> bool:
    """Whether a message in the chat looks like this part: a voice note for a voice part, else its text."""
    if part.kind == "voice":
        return message.kind == "voice"
    return message.kind != "voice" and same_text(message.words, part.text)


def _reply_to(value: object) -> int | None:
    """The message the reply quotes (twin.engine.choice.reply_to_for chose it), if any."""
    return value if isinstance(value, int) and value > 0 else None
