"""One due turn: gates -> compose (twin.engine.compose) -> send (twin.engine.outbound) -> record.

Writes are batched per phase (start, sending, done) so a turn costs a handful of transactions;
the random_id is always written before the first send. An approved draft and an away note skip
the model and go straight to typing and sending.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from twin.clock import Clock
from twin.config import Settings
from twin.db.sent import SentParts
from twin.db.store import Store
from twin.engine.choice import choose_with
from twin.engine.compose import Composer
from twin.engine.crew import Crew
from twin.engine.delivery import Delivery
from twin.engine.draft import Drafter
from twin.engine.hours import Hours
from twin.engine.outage import Outages
from twin.engine.outbound import Outbound
from twin.engine.presence import TAKEOVER, Presence
from twin.engine.queue import ReplyQueue
from twin.engine.responder import Responder
from twin.engine.sender import SendGate
from twin.engine.timing import plan
from twin.errors import ProviderError
from twin.lru import LRU
from twin.session.base import Telegram
from twin.types import Turn
from twin.voice.flow import VoiceFlow

CHAT_STATE_LIMIT = 1024  # chats whose takeover time / fetched flag stay in memory (the database has the rest)


class Pipeline:
    """Takes a due turn to a sent (or explained) reply; safe to run again after a crash."""

    def __init__(self, *, account: str, store: Store, telegram: Telegram, responder: Responder,
                 settings: Settings, clock: Clock, gate: SendGate | None = None,
                 rng: random.Random | None = None, voice: VoiceFlow | None = None) -> None:
        self.account = account
        self.store = store
        self.queue = ReplyQueue(store, account)
        self.telegram = telegram
        self.responder = responder
        choose_with(responder)  # reply, react or nothing: asked inside choosing()
        self.settings = settings
        self.hours = Hours.from_settings(settings.hours)
        self.clock = clock
        self.gate = gate or SendGate()
        self.voice = voice or VoiceFlow(settings, None, None)
        self.notices: list[str] = []  # what the owner must hear about (the daemon posts them)
        self.taken_over: LRU[int, datetime] = LRU(CHAT_STATE_LIMIT)  # chat -> when the owner last wrote there
        self._fetched: LRU[int, bool] = LRU(CHAT_STATE_LIMIT)  # chats whose earlier history is in the store
        self.presence = Presence(telegram, self.hours, clock, self.taken_over)
        self.crew = Crew(account, store, self.queue, telegram, responder, settings, self.hours, clock,
                         rng or random.SystemRandom(), self.voice, self.presence, self.notices)
        self.ledger = SentParts(store, account)  # every part sent: how the twin's own messages are known
        self.delivery = Delivery(ledger=self.ledger, queue=self.queue, telegram=telegram, gate=self.gate, clock=clock,
                                 rng=self.rng, notices=self.notices)
        self.outages = Outages(store, account, settings, responder.chain, self.hours.tz, self.rng, self.notices)
        self.outbound = Outbound(self.crew, gate=self.gate, ledger=self.ledger, delivery=self.delivery)
        self.composer = Composer(self.crew, Drafter(self.crew, self.outages, self._fetched), self.outbound)

    @property
    def rng(self) -> random.Random:
        """The turns' randomness (seeds, random_ids); replaceable, e.g. by a test that seeds it."""
        return self.crew.rng

    @rng.setter
    def rng(self, value: random.Random) -> None:
        self.crew.rng = value

    def takeover(self, chat_id: int, when: datetime) -> None:
        """The owner wrote in the chat: any reply under way there stops at its next check."""
        self.presence.takeover(chat_id, when)

    async def process(self, turn_id: int) -> None:
        """Bring one due turn as far as it may go now."""
        try:
            await self._process(turn_id)
        finally:
            self.outages.news(turn_id)

    async def _process(self, turn_id: int) -> None:
        turn = self.store.turn(turn_id)
        if turn is None or turn.status not in ("waiting", "sending"):
            return
        now = self.clock.now()
        if not self.gate.loaded:
            self.gate.load(self.queue.sent_since(now - timedelta(hours=1)))
        wait = self.gate.wait_until(now, self.settings.rules.max_sends_per_hour)
        if wait is not None:
            reason = self.gate.stopped_reason or "waiting: the account's send limit (rules.max_sends_per_hour)"
            self.store.update_turn(turn_id, now, due_at=wait, reason=reason)
            return
        if turn.status == "waiting":
            if self.outages.held(turn, now):
                return
            if turn.extra.get("approved") and turn.reply_text:
                composed = await self._approved(turn)
            elif turn.extra.get("away"):
                composed = await self._away(turn)
            else:
                composed = await self.composer.compose(turn)
            if composed is None:
                return
            turn = composed
        await (self.outbound.react(turn) if turn.extra.get("react") else self.outbound.send(turn))

    def provider_health(self) -> list[dict[str, object]]:
        """Each model's health (primary first), for the status file."""
        return self.outages.chain.snapshot()

    async def _approved(self, turn: Turn) -> Turn | None:
        """The owner approved (or edited) a draft in `twin review`: type it like a person, then send."""
        assert turn.reply_text is not None
        now = self.clock.now()
        extra = dict(turn.extra)
        self.store.update_turn(turn.id, now, status="composing", extra=extra)
        seed = int(str(extra.get("seed", 0))) or 1
        typing_s = plan(self.settings.timing, seed, 0).typing_s(self.settings.timing, len(turn.reply_text))
        if not await self.presence.act(turn.chat_id, typing_s, "typing", now):
            self.crew.cancel(turn, TAKEOVER)
            return None
        return self.outbound.to_sending(turn, turn.reply_text, extra, {})

    async def _away(self, turn: Turn) -> Turn | None:
        """Outside hours with hours.outside = away: one away note per chat per closed period."""
        now = self.clock.now()
        period = str(turn.extra.get("period", ""))
        state = self.store.chat(self.account, turn.chat_id)
        if state and state.extra.get("away_period") == period:
            self.store.update_turn(turn.id, now, status="skipped",
                                   reason="outside working hours: away message already sent")
            return None
        self.store.update_turn(turn.id, now, status="composing", attempts=turn.attempts + 1)
        text = self.settings.hours.away_text
        if not text:
            try:
                text = await self.responder.away_note(contact=turn.sender_name, back_at=period)
            except ProviderError as exc:
                self.store.update_turn(turn.id, self.clock.now(), status="failed", reason=f"model failed: {exc}")
                return None
        self.store.merge_chat_extra(self.account, turn.chat_id, away_period=period)
        return self.outbound.to_sending(turn, text, dict(turn.extra), {})
