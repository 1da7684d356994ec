"""Delivering a turn's planned parts while keeping the sent-parts ledger true.

Each part's id is stored the moment Telegram gives it. A part Telegram already had (RANDOM_ID_DUPLICATE:
an earlier attempt went through, its answer was lost) is looked up in the chat, so its real id is
known too; an id an echo had matched to a part wrongly turns out to be the owner's message.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence

from twin.clock import Clock
from twin.db.sent import ECHO_SLACK, Part, SentParts, same_text
from twin.engine.queue import ReplyQueue
from twin.engine.sender import Outcome, SendGate, SendResult, send_parts
from twin.errors import TelegramError
from twin.session.base import Telegram
from twin.types import HistoryMessage, Turn, VoiceNote

log = logging.getLogger("twin.delivery")
LOOKUP_LIMIT = 50  # recent messages searched for a part Telegram already had
OwnerWrote = Callable[[int, HistoryMessage], None]


class Delivery:
    """Sends parts through the gate; the ledger learns every id, the owner's messages are told apart."""

    def __init__(self, *, ledger: SentParts, queue: ReplyQueue, telegram: Telegram, gate: SendGate, clock: Clock,
                 rng: random.Random) -> None:
        self.ledger = ledger
        self.queue = queue
        self.telegram = telegram
        self.gate = gate
        self.clock = clock
        self.rng = rng
        self.owner_wrote: OwnerWrote | None = None  # the daemon's takeover, for a message found to be the owner's

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
        result = await send_parts(self.telegram, self.gate, turn.chat_id, pending, self.clock.now(), self.rng,
                                  before=before, after=after, voice=voice)
        if first_try and result.outcome in (Outcome.FLOOD, Outcome.PEER_FLOOD):
            self.ledger.attempt(first_try[0], None)  # refused by Telegram: never delivered, no echo to await
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
        """The message Telegram made of this part: the oldest outgoing one with its text since its first attempt
        that is neither another part's nor already taken for the owner's (None when it cannot be told)."""
        if part.kind != "text":
            return None  # history carries text only; a voice note's id comes with its echo
        try:
            history = await self.telegram.history(part.chat_id, LOOKUP_LIMIT)
        except TelegramError as exc:
            log.info("could not look for an earlier delivery in chat %s: %s", part.chat_id, exc)
            return None
        taken = self.ledger.ids(part.chat_id) | self.ledger.owner_ids(part.chat_id)
        since = (part.attempted_at or part.planned_at) - ECHO_SLACK
        for message in history:  # oldest first: the twin's attempt comes before any later copy by the owner
            if message.outgoing and message.message_id not in taken and message.date >= since and same_text(
                    message.text, part.text):
                return message.message_id
        return None
