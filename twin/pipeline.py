"""One due turn: gates -> read -> compose -> type -> re-check -> send -> record."""

from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta

from twin.clock import Clock
from twin.config import Settings
from twin.errors import ProviderError, TelegramError
from twin.hours import Hours, in_quiet
from twin.queue import ReplyQueue
from twin.responder import Responder
from twin.sender import Outcome, SendGate, send_parts, split_message
from twin.session.base import Action, Telegram
from twin.store import Store
from twin.timing import human_parts, plan
from twin.types import HistoryMessage, Turn

log = logging.getLogger("twin.pipeline")
INT63 = 2**63 - 1
TYPING_REFRESH_S = 5.0


class Pipeline:
    """Takes a due turn to a sent (or explained) reply; safe to run again after a crash."""

    def __init__(self, *, account: str, store: Store, telegram: Telegram, responder: Responder,
                 settings: Settings, clock: Clock, gate: SendGate | None = None,
                 rng: random.Random | None = None) -> None:
        self.account = account
        self.store = store
        self.queue = ReplyQueue(store, account)
        self.telegram = telegram
        self.responder = responder
        self.settings = settings
        self.hours = Hours.from_settings(settings.hours)
        self.clock = clock
        self.gate = gate or SendGate()
        self.rng = rng or random.SystemRandom()
        self.in_flight: dict[int, set[str]] = {}  # chat -> texts being sent (to tell them from the owner's)
        self.notices: list[str] = []  # what the owner must hear about (the daemon posts them)

    def _step(self, turn_id: int, name: str) -> None:
        self.store.merge_step(turn_id, name, self.clock.now())

    def _still_ours(self, turn_id: int) -> bool:
        """False once the owner took over (the turn was cancelled) or the chat was paused."""
        turn = self.store.turn(turn_id)
        if turn is None or turn.status not in ("composing", "sending"):
            return False
        state = self.store.chat(self.account, turn.chat_id)
        if state and state.paused_until and state.paused_until > self.clock.now():
            self.store.update_turn(turn_id, self.clock.now(), status="cancelled", reason="chat paused")
            return False
        return True

    async def process(self, turn_id: int) -> None:
        """Bring one due turn as far as it may go now."""
        turn = self.store.turn(turn_id)
        if turn is None or turn.status not in ("waiting", "sending"):
            return
        now = self.clock.now()
        wait = self.gate.wait_until(now) or self._cap_wait(now)
        if wait is not None:
            reason = self.gate.stopped_reason or "waiting: the account's send limit"
            self.store.update_turn(turn_id, now, due_at=wait, reason=reason)
            return
        if turn.status == "waiting":
            if turn.extra.get("away"):
                await self._away(turn)
                return
            composed = await self._compose(turn)
            if composed is None:
                return
            turn = composed
        await self._send(turn)

    def _cap_wait(self, now: datetime) -> datetime | None:
        sent = self.queue.sent_since(now - timedelta(hours=1))
        if len(sent) < self.settings.rules.max_sends_per_hour:
            return None
        return sent[0] + timedelta(hours=1)

    async def context(self, turn: Turn) -> list[HistoryMessage]:
        """The chat's messages before this turn (fetched from Telegram once on first contact)."""
        state = self.store.chat(self.account, turn.chat_id)
        if state is None or not state.history_fetched:
            limit = self.settings.telegram.history_on_first_contact
            try:
                self.store.add_messages(self.account, turn.chat_id, await self.telegram.history(turn.chat_id, limit))
                self.store.save_chat(self.account, turn.chat_id, title=turn.chat_title, history_fetched=True)
            except TelegramError as exc:
                log.warning("chat %s: could not fetch earlier messages: %s", turn.chat_id, exc)
        own = set(turn.incoming_ids)
        last = max(own, default=2**62)
        wanted = self.settings.llm.context_turns
        recent = self.store.recent_messages(self.account, turn.chat_id, wanted + 2 * len(own) + 2)
        # The turn's own messages come last in the prompt; later incoming ones belong to later turns.
        earlier = [m for m in recent if m.message_id not in own and (m.outgoing or m.message_id < last)]
        return [m for m in earlier if m.text][-wanted:] if wanted > 0 else []

    async def _act(self, chat_id: int, seconds: float, action: Action, turn_id: int) -> bool:
        """Show an action for `seconds` (refreshed), re-checking the takeover each time."""
        quiet = in_quiet(self.hours, self.clock.now())
        remaining = seconds
        while remaining > 0:
            if not quiet:
                await self.telegram.action(chat_id, action)
            step = min(TYPING_REFRESH_S, remaining)
            await self.clock.sleep(step)
            remaining -= step
            if not self._still_ours(turn_id):
                return False
        return True

    async def _compose(self, turn: Turn) -> Turn | None:
        now = self.clock.now()
        self.store.update_turn(turn.id, now, status="composing", attempts=turn.attempts + 1)
        seed = int(turn.extra.get("seed", 0)) or self.rng.randrange(1, 2**31)
        text = turn.transcript or turn.incoming_text
        timing = plan(self.settings.timing, seed, len(text))
        self.store.merge_extra(turn.id, now, seed=seed, timing=timing.as_dict())
        if self.settings.timing.mark_read and not in_quiet(self.hours, now):
            try:
                await self.telegram.mark_read(turn.chat_id, max(turn.incoming_ids))
                self._step(turn.id, "read")
            except TelegramError as exc:
                log.info("turn %s: could not mark read: %s", turn.id, exc)
        await self.clock.sleep(timing.read_s)
        if not self._still_ours(turn.id):
            return None
        history = await self.context(turn)
        try:
            draft = await self.responder.draft(history, text, contact=turn.sender_name or turn.chat_title)
        except ProviderError as exc:
            self.store.update_turn(turn.id, self.clock.now(), status="failed", reason=f"model failed: {exc}")
            log.warning("turn %s failed: %s", turn.id, exc)
            return None
        done = self.clock.now()
        completion = draft.completion
        fields: dict[str, object] = {}
        if completion is not None:
            fields = {"provider": completion.provider, "model": completion.model,
                      "tokens_in": completion.tokens_in, "tokens_out": completion.tokens_out}
        self.store.merge_extra(turn.id, done, context=[{"out": m.outgoing, "text": m.text} for m in history])
        if draft.text is None:
            self.store.update_turn(turn.id, done, status=draft.status, reason=draft.reason, **fields)
            return None
        self.store.update_turn(turn.id, done, reply_text=draft.text, **fields)
        self._step(turn.id, "typing")
        first = self._parts(draft.text)[0]
        typing_s = timing.typing_s(self.settings.timing, len(first))
        self.store.merge_extra(turn.id, self.clock.now(), typing_s=round(typing_s, 3))
        if not await self._act(turn.chat_id, typing_s, "typing", turn.id) or not self._still_ours(turn.id):
            return None
        # The random_id is chosen and stored before the first send: every retry reuses it.
        self.store.update_turn(turn.id, self.clock.now(), status="sending",
                               random_id=self.rng.randrange(1, INT63 // 2))
        return self.store.turn(turn.id)

    def _parts(self, text: str) -> list[str]:
        return [p for part in human_parts(text, split=self.settings.timing.split_long) for p in split_message(part)]

    async def _send(self, turn: Turn) -> None:
        if turn.reply_text is None or turn.random_id is None:
            raise RuntimeError(f"turn {turn.id} is sending without a reply or a random_id")
        parts = self._parts(turn.reply_text)
        self.in_flight.setdefault(turn.chat_id, set()).update(parts)
        try:
            result = await send_parts(self.telegram, self.gate, turn.chat_id, parts, turn.random_id,
                                      self.clock.now(), self.rng)
        except TelegramError as exc:
            self.store.update_turn(turn.id, self.clock.now(), status="failed", reason=f"send failed: {exc}")
            log.warning("turn %s: send failed: %s", turn.id, exc)
            return
        finally:
            self.in_flight.get(turn.chat_id, set()).difference_update(parts)
        now = self.clock.now()
        if result.outcome != Outcome.SENT:
            # Not lost: the row keeps its random_id and is retried when the gate opens.
            self.store.update_turn(turn.id, now, due_at=self.gate.paused_until, reason=result.detail)
            self.store.merge_extra(turn.id, now, flood={"at": now.isoformat(), "wait_s": round(result.wait_s, 1)})
            if result.outcome == Outcome.PEER_FLOOD:
                self.queue.pause_chat(0, now + timedelta(days=365), "PEER_FLOOD: run `twin resume` after checking")
                self.notices.append("Telegram reported PEER_FLOOD: twin stopped sending. Check @SpamBot, "
                                    "then `twin resume`.")
            elif result.wait_s >= 300:
                self.notices.append(f"Telegram asked twin to wait {result.wait_s / 60:.0f} min (FloodWait).")
            return
        self.store.update_turn(turn.id, now, status="answered", reply_ids=list(result.ids), sent_at=now,
                               reason=turn.reason if turn.extra.get("away") else "")
        self._step(turn.id, "sent")
        sent = [HistoryMessage(i, now, True, p) for i, p in zip(result.ids, parts, strict=True) if i]
        self.store.add_messages(self.account, turn.chat_id, sent)
        self.store.merge_chat_extra(self.account, turn.chat_id, last_sent_at=now.isoformat())

    async def _away(self, turn: Turn) -> None:
        """Outside hours with hours.outside = away: one away note per chat per closed period."""
        now = self.clock.now()
        period = str(turn.extra.get("period", ""))
        state = self.store.chat(self.account, turn.chat_id)
        if state and state.extra.get("away_period") == period:
            self.store.update_turn(turn.id, now, status="skipped",
                                   reason="outside working hours: away message already sent")
            return
        self.store.update_turn(turn.id, now, status="composing", attempts=turn.attempts + 1)
        text = self.settings.hours.away_text
        if not text:
            try:
                text = await self.responder.away_note(contact=turn.sender_name, back_at=period)
            except ProviderError as exc:
                self.store.update_turn(turn.id, self.clock.now(), status="failed", reason=f"model failed: {exc}")
                return
        self.store.merge_chat_extra(self.account, turn.chat_id, away_period=period)
        self.store.update_turn(turn.id, self.clock.now(), status="sending", reply_text=text,
                               random_id=self.rng.randrange(1, INT63 // 2))
        sending = self.store.turn(turn.id)
        if sending is not None:
            await self._send(sending)
