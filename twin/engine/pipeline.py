"""One due turn: gates -> read -> compose -> type -> re-check -> send -> record.

Writes are batched per phase (start, sending, done) so a turn costs a handful of transactions;
the random_id is always written before the first send.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from twin.clock import Clock
from twin.config import Settings
from twin.db.sent import Part, SentParts
from twin.db.store import Store
from twin.engine.choice import ack_policy, choose_with, choosing, precheck, reply_to_for
from twin.engine.delivery import Delivery
from twin.engine.hours import Hours, in_quiet
from twin.engine.outage import Outages
from twin.engine.queue import ReplyQueue
from twin.engine.responder import Responder, parts_json
from twin.engine.rules import mode_of
from twin.engine.sender import RETRY_OFFLINE_S, SendGate, split_message
from twin.engine.steer import held_for_review
from twin.engine.timing import Timing, human_parts, plan
from twin.errors import ConfigError, Disconnected, FloodWait, ProviderError, TelegramError
from twin.llm.chain import Unavailable
from twin.lru import LRU
from twin.media.look import Looked, look, media_in
from twin.session.base import Action, Telegram
from twin.types import HistoryMessage, Turn, VoiceNote
from twin.voice.flow import VoiceFlow

log = logging.getLogger("twin.pipeline")
INT63 = 2**63 - 1
TYPING_REFRESH_S = 5.0
TAKEOVER = "the owner wrote in this chat (takeover)"
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
        self.rng = rng or random.SystemRandom()
        self.voice = voice or VoiceFlow(settings, None, None)
        self.notices: list[str] = []  # what the owner must hear about (the daemon posts them)
        self.ledger = SentParts(store, account)  # every part sent: how the twin's own messages are known
        self.delivery = Delivery(ledger=self.ledger, queue=self.queue, telegram=telegram, gate=self.gate, clock=clock,
                                 rng=self.rng, notices=self.notices)
        self.taken_over: LRU[int, datetime] = LRU(CHAT_STATE_LIMIT)  # chat -> when the owner last wrote there
        self._fetched: LRU[int, bool] = LRU(CHAT_STATE_LIMIT)  # chats whose earlier history is in the store
        self.outages = Outages(store, account, settings, responder.chain, self.hours.tz, self.rng, self.notices)

    def takeover(self, chat_id: int, when: datetime) -> None:
        """The owner wrote in the chat: any reply under way there stops at its next check."""
        self.taken_over[chat_id] = when

    def _interrupted(self, chat_id: int, since: datetime) -> bool:
        """Whether the owner wrote in the chat after this reply started."""
        when = self.taken_over.get(chat_id)
        return when is not None and when >= since

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
                composed = await self._compose(turn)
            if composed is None:
                return
            turn = composed
        await (self._react(turn) if turn.extra.get("react") else self._send(turn))

    async def context(self, turn: Turn) -> list[HistoryMessage]:
        """The chat's messages before this turn (fetched from Telegram once on first contact)."""
        if turn.chat_id not in self._fetched:
            state = self.store.chat(self.account, turn.chat_id)
            if state is not None and state.history_fetched:
                self._fetched[turn.chat_id] = True
        if turn.chat_id not in self._fetched:
            limit = self.settings.telegram.history_on_first_contact
            first = min(turn.incoming_ids, default=2**62)
            try:
                # Only what came before this turn: a later message in the history may not have reached the
                # queue yet (a catch-up under way), and storing it here would make the queue skip it.
                earlier = [m for m in await self.telegram.history(turn.chat_id, limit) if m.message_id < first]
                self.store.add_messages(self.account, turn.chat_id, earlier)
                self.store.save_chat(self.account, turn.chat_id, title=turn.chat_title, history_fetched=True)
                self._fetched[turn.chat_id] = True
            except TelegramError as exc:
                log.warning("chat %s: could not fetch earlier messages: %s", turn.chat_id, exc)
        own = set(turn.incoming_ids)
        last = max(own, default=2**62)
        wanted = self.settings.llm.context_turns
        recent = self.store.recent_messages(self.account, turn.chat_id, wanted + 2 * len(own) + 2)
        # The turn's own messages come last in the prompt; later incoming ones belong to later turns.
        earlier = [m for m in recent if m.message_id not in own and (m.outgoing or m.message_id < last)]
        return [m for m in earlier if m.text][-wanted:] if wanted > 0 else []

    async def _act(self, chat_id: int, seconds: float, action: Action, since: datetime) -> bool:
        """Show an action for `seconds` (refreshed); False when the owner took over meanwhile."""
        quiet = in_quiet(self.hours, self.clock.now())
        remaining = seconds
        while remaining > 0 and not self._interrupted(chat_id, since):
            if not quiet:
                await self.telegram.action(chat_id, action)
            step = min(TYPING_REFRESH_S, remaining)
            await self.clock.sleep(step)
            remaining -= step
        return not self._interrupted(chat_id, since)

    def _cancel(self, turn: Turn, why: str) -> None:
        self.store.update_turn(turn.id, self.clock.now(), status="cancelled", reason=why)

    async def _compose(self, turn: Turn) -> Turn | None:
        """read -> listen -> draft -> type: each step hands on what the next needs, or the outcome."""
        work = self._begin(turn)
        await self._mark_read(work)
        step = await self._listen(work)
        if isinstance(step, str):
            step = await self._reply_or_react(work, step)
        step = await self._recheck(work, step)
        return self._settle(work, step)

    async def _reply_or_react(self, work: _Work, text: str) -> _Outcome:
        """A pure acknowledgement is decided at once; else the model chooses to reply, react or do nothing."""
        policy = ack_policy(self.settings.persona.react_to_acks, self.responder.profile)
        texts = text.split("\n") if not work.extra.get("voice_in") else [text]
        choice = precheck(texts, policy, int(work.extra["seed"]))
        if choice is None:
            with choosing(policy) as asked:
                step = await self._draft(work, text)
            choice = asked.choice
            if choice is not None:
                work.extra["choice"] = choice.as_dict()
            if choice is None or choice.action == "reply":
                typed = step.send_text is not None and step.status == ""
                return await self._type(work, step.send_text) if typed and step.send_text else step
        work.extra["choice"] = choice.as_dict()
        if self._mode(work.turn.chat_id) == "review":
            what = f"would react {choice.emoji}" if choice.action == "react" else "would leave it unanswered"
            return _Outcome("no_reply", f"{what} (review mode: nothing sent)")
        if choice.action == "react":
            return _Outcome("", choice.reason or "reacted", emoji=choice.emoji)
        return _Outcome("no_reply", choice.reason or "the twin chose not to answer")

    async def _recheck(self, work: _Work, step: _Outcome) -> _Outcome:
        """Before anything goes out: a message edited or deleted meanwhile is answered as it is now (once)."""
        fresh = self.store.turn(work.turn.id)
        if fresh is None:
            return step
        if "changes" in fresh.extra:
            work.extra["changes"] = fresh.extra["changes"]
        if fresh.status == "cancelled":
            return _Outcome("cancelled", fresh.reason)
        if (fresh.incoming_text, fresh.incoming_ids) == (work.turn.incoming_text, work.turn.incoming_ids):
            return step
        if work.extra.get("recomposed") or work.extra.get("voice_in") or fresh.status != "composing":
            return step  # composed once again already (or a voice note's transcript): the answer stands
        work.extra["recomposed"] = {"at": self.clock.now().isoformat(), "why": "the contact changed the message"}
        work.turn = fresh
        return await self._recheck(work, await self._reply_or_react(work, fresh.incoming_text))

    def _begin(self, turn: Turn) -> _Work:
        seed = int(str(turn.extra.get("seed", 0))) or self.rng.randrange(1, 2**31)
        timing = plan(self.settings.timing, seed, len(turn.incoming_text))
        steps: dict[str, object] = dict(_as_dict(turn.extra.get("steps")))
        extra: dict[str, Any] = {**turn.extra, "seed": seed, "timing": timing.as_dict(), "steps": steps}
        work = _Work(turn, self.clock.now(), timing, extra, steps)
        self.store.update_turn(turn.id, work.started, status="composing", attempts=turn.attempts + 1, extra=extra)
        return work

    async def _mark_read(self, work: _Work) -> None:
        if not self.settings.timing.mark_read or in_quiet(self.hours, work.started):
            return
        try:
            await self.telegram.mark_read(work.turn.chat_id, max(work.turn.incoming_ids))
            work.steps["read"] = self.clock.now().isoformat()
        except TelegramError as exc:
            log.info("turn %s: could not mark read: %s", work.turn.id, exc)

    async def _listen(self, work: _Work) -> str | _Outcome:
        """The text to answer (voice notes heard first), after reading it like a person."""
        turn = work.turn
        listened = await self.voice.listen(self.telegram, turn, self.responder.language_for(turn.chat_id))
        if listened.transcript:
            work.extra["voice_in"] = {"seconds": round(listened.seconds, 2), "provider": listened.provider}
            self.store.update_turn(turn.id, self.clock.now(), transcript=listened.transcript, extra=work.extra)
        if listened.text is None:
            if self.settings.stt.answer_unheard and listened.status == "failed":
                note = await self.responder.unheard_note(contact=turn.sender_name)
                work.extra["final"] = {"status": "skipped", "reason": f"{listened.reason}; asked for a text instead"}
                return _Outcome.send(note)
            return _Outcome(listened.status, listened.reason)
        # Listening to a note counts as reading it.
        await self.clock.sleep(work.timing.read_s + listened.seconds * self.settings.timing.scale)
        if self._interrupted(turn.chat_id, work.started):
            return _Outcome("cancelled", TAKEOVER)
        return listened.text

    async def _draft(self, work: _Work, text: str) -> _Outcome:
        """Ask the responder; a draft to type, or why there is none."""
        turn = work.turn
        history = await self.context(turn)
        looked = await self._look(turn)
        try:
            draft = await self.responder.draft(history, text, contact=turn.sender_name or turn.chat_title,
                                               chat_id=turn.chat_id, images=looked.images)
        except Unavailable as exc:
            log.info("turn %s waits for the model: %s", turn.id, exc)
            work.extra["model_waits"] = int(str(work.extra.get("model_waits", 0))) + 1
            wait = self.outages.wait(turn, exc.retry_at, str(exc))
            return _Outcome(wait.status, wait.reason, due_at=wait.due_at)
        except (ProviderError, ConfigError) as exc:
            log.warning("turn %s failed: %s", turn.id, exc)
            if looked.notes:
                work.extra["looked"] = looked.record(None)
            return _Outcome("failed", f"model failed: {exc}" if isinstance(exc, ProviderError) else str(exc))
        self.outages.news(turn.id)  # a model that was down answered: release the others now, spread out
        if draft.completion is not None:
            c = draft.completion
            work.fields = {"provider": c.provider, "model": c.model, "tokens_in": c.tokens_in,
                           "tokens_out": c.tokens_out}
        if looked.notes:
            work.extra["looked"] = looked.record(draft.completion)
        if draft.fallback:
            work.extra["fallback"] = {"model": draft.fallback, "why": draft.fallback_why}
            if draft.status == "answered":
                work.extra["final"] = {"status": "answered", "reason": f"fallback: {draft.fallback} "
                                       f"({draft.fallback_why[:160]})"}
        work.extra["context"] = [{"out": m.outgoing, "text": m.text} for m in history]
        work.extra["prompt"] = parts_json(draft.parts)
        if draft.unsendable:
            work.extra["unsendable"] = list(draft.unsendable)
        if draft.text is None:
            if draft.held is not None:
                self.notices.append(f"Draft for {turn.sender_name or turn.chat_id} held: {draft.reason}")
            return _Outcome(draft.status, draft.reason, draft.held)
        if draft.status == "needs_owner":
            work.extra["final"] = {"status": "needs_owner", "reason": draft.reason}
        hold = held_for_review(self.settings, draft.completion.provider) if draft.completion is not None else ""
        if self._mode(turn.chat_id) == "review" or hold:
            self.notices.append(f"Draft for {turn.sender_name or turn.chat_id} waits for you: twin review")
            return _Outcome("review", draft.reason or hold or "draft waiting for the owner (twin review)", draft.text)
        return _Outcome.send(draft.text)

    async def _look(self, turn: Turn) -> Looked:
        """Photos and video frames for a model that can see them; the rest of the media stays words."""
        media = media_in(turn.extra)
        if not media:
            return Looked()
        llm = self.responder.llm

        async def download(message_id: int, max_bytes: int) -> bytes:
            return await self.telegram.download(turn.chat_id, message_id, max_bytes)

        return await look(media, download, self.settings.media, model_sees=bool(getattr(llm, "vision", False)),
                          model=f"{llm.provider} {llm.model}")

    async def _type(self, work: _Work, text: str) -> _Outcome:
        """Show "typing…" for as long as a person would need (nothing for a voice reply)."""
        as_voice, why_text = self.voice.wants(work.turn, text)
        work.extra["as_voice"] = as_voice
        if not as_voice and self.settings.tts.when != "never":
            work.extra["voice_out"] = {"as_text": why_text}
        typing_s = 0.0 if as_voice else work.timing.typing_s(self.settings.timing, len(self._parts(text)[0]))
        work.extra["typing_s"] = round(typing_s, 3)
        if typing_s > 0:
            work.steps["typing"] = self.clock.now().isoformat()
        if not await self._act(work.turn.chat_id, typing_s, "typing", work.started):
            return _Outcome("cancelled", TAKEOVER, text)
        return _Outcome.send(text)

    def _settle(self, work: _Work, outcome: _Outcome) -> Turn | None:
        """The one place a composed turn's outcome is written: on to sending, or stopped with a reason."""
        if outcome.status == "" and outcome.emoji:
            return self._to_reacting(work, outcome)
        if outcome.status == "":
            assert outcome.send_text is not None
            reply_to = reply_to_for(self.store, self.account, work.turn)
            if reply_to is not None:
                work.extra["reply_to"] = reply_to
            return self._to_sending(work.turn, outcome.send_text, work.extra, work.fields)
        kept: dict[str, Any] = {"reply_text": outcome.send_text} if outcome.send_text is not None else {}
        if outcome.due_at is not None:
            kept["due_at"] = outcome.due_at
        self.store.update_turn(work.turn.id, self.clock.now(), status=outcome.status, reason=outcome.reason,
                               extra=work.extra, **work.fields, **kept)
        return None

    def _to_sending(self, turn: Turn, text: str, extra: dict[str, Any], fields: dict[str, Any]) -> Turn | None:
        """Re-check right before sending, then store the reply and its random_id (before any send)."""
        why = self.queue.may_send(turn.id, turn.chat_id, self.clock.now())
        if why is not None:
            if why != "cancelled":
                self._cancel(turn, why)
            return None
        random_id = self.rng.randrange(1, INT63 // 2)
        self.store.update_turn(turn.id, self.clock.now(), status="sending", reply_text=text, random_id=random_id,
                               extra=extra, **fields)
        return replace(turn, status="sending", reply_text=text, random_id=random_id, extra=extra)

    def _to_reacting(self, work: _Work, outcome: _Outcome) -> Turn | None:
        """The same re-check as a reply, then the reaction is stored before it is made (safe to repeat)."""
        turn = work.turn
        why = self.queue.may_send(turn.id, turn.chat_id, self.clock.now())
        if why is not None:
            if why != "cancelled":
                self._cancel(turn, why)
            return None
        work.extra["react"] = {"emoji": outcome.emoji, "to": max(turn.incoming_ids), "why": outcome.reason}
        self.store.update_turn(turn.id, self.clock.now(), status="sending", extra=work.extra, **work.fields)
        return replace(turn, status="sending", extra=work.extra)

    async def _react(self, turn: Turn) -> None:
        """Put the reaction on the contact's message; recorded as `reacted`, with no message sent."""
        react = _as_dict(turn.extra.get("react"))
        emoji, to = str(react.get("emoji", "")), int(str(react.get("to", 0)))
        try:
            await self.telegram.react(turn.chat_id, to, emoji)
        except (Disconnected, FloodWait) as exc:  # kept as `sending`: tried again later (a reaction is idempotent)
            now = self.clock.now()
            wait = exc.seconds if isinstance(exc, FloodWait) else RETRY_OFFLINE_S
            self.store.update_turn(turn.id, now, due_at=now + timedelta(seconds=wait),
                                   reason=f"reaction delayed: {exc}")
            return
        except TelegramError as exc:
            self.store.update_turn(turn.id, self.clock.now(), status="failed", reason=f"reaction failed: {exc}")
            log.warning("turn %s: reaction failed: %s", turn.id, exc)
            return
        now = self.clock.now()
        self.gate.record(now)
        steps = {**_as_dict(turn.extra.get("steps")), "reacted": now.isoformat()}
        self.queue.finish(turn.id, turn.chat_id, now, [], {
            "status": "reacted", "sent_at": now, "reason": f"reacted {emoji}: {react.get('why', '')}".rstrip(": "),
            "extra": {**turn.extra, "steps": steps}})

    def _parts(self, text: str) -> list[str]:
        return [p for part in human_parts(text, split=self.settings.timing.split_long) for p in split_message(part)]

    async def _send(self, turn: Turn) -> None:
        if turn.reply_text is None or turn.random_id is None:
            raise RuntimeError(f"turn {turn.id} is sending without a reply or a random_id")
        parts, note, voice_out = await self._plan(turn, turn.reply_text, turn.random_id)
        delivered = await self.delivery.deliver(turn, parts, note)
        if delivered is None:
            return  # failed, cancelled, or held with its plan for a retry
        now = self.clock.now()
        self.gate.record(now)
        final = _as_dict(turn.extra.get("final"))
        status, reason = str(final.get("status", "answered")), str(final.get("reason", ""))
        if turn.extra.get("away"):
            reason = turn.reason
        if delivered.stopped:
            reason = delivered.stopped
        if status == "needs_owner":
            self.notices.append(f"{turn.sender_name or turn.chat_id} needs you: {reason} (twin show {turn.id})")
        steps = {**_as_dict(turn.extra.get("steps")), "sent": now.isoformat()}
        parts = delivered.parts
        self.queue.finish(turn.id, turn.chat_id, now, [(p.message_id or 0, p.text) for p in parts if p.kind == "text"],
                          {"status": status, "reply_ids": [p.message_id or 0 for p in parts], "sent_at": now,
                           "reason": reason, "voice": any(p.kind == "voice" for p in parts),
                           "extra": {**turn.extra, **({"voice_out": voice_out} if voice_out else {}), "steps": steps}})

    async def _plan(self, turn: Turn, text: str, random_id: int) -> tuple[list[Part], VoiceNote | None,
                                                                          dict[str, object] | None]:
        """The turn's parts: the stored plan of an earlier attempt, else new ones, stored before the first send."""
        parts = self.ledger.parts(turn.id)
        voice_pending = bool(parts) and parts[0].kind == "voice" and not parts[0].confirmed
        note, voice_out = None, None
        if self.voice.tts is not None and (voice_pending or (not parts and turn.extra.get("as_voice"))):
            note, voice_out = await self._voice_note(turn)
        if not parts or (voice_pending and note is None):
            planned = [("voice", text)] if note is not None else [("text", p) for p in self._parts(text)]
            parts = self.ledger.plan(turn.id, turn.chat_id, planned, random_id, self.clock.now(),
                                     replace=bool(parts))
        return parts, note, voice_out

    async def _voice_note(self, turn: Turn) -> tuple[VoiceNote | None, dict[str, object]]:
        """Speak the reply, showing "recording voice…" for about as long as it lasts; None: send text."""
        assert turn.reply_text is not None
        spoken = await self.voice.speak(turn.reply_text)
        info: dict[str, object] = {"provider": spoken.provider, "seconds_spent": round(spoken.seconds_spent, 3)}
        if spoken.note is None:
            info["as_text"] = spoken.reason
            return None, info
        info["duration_s"] = round(spoken.note.duration_s, 2)
        kept = self.voice.keep(turn.id, spoken.note)
        if kept is not None:
            info["audio"] = str(kept)
        recording = max(0.0, spoken.note.duration_s * self.settings.timing.scale - spoken.seconds_spent)
        await self._act(turn.chat_id, recording, "record-audio", self.clock.now())
        return spoken.note, info

    def provider_health(self) -> list[dict[str, object]]:
        """Each model's health (primary first), for the status file."""
        return self.outages.chain.snapshot()

    def _mode(self, chat_id: int) -> str:
        chat, account = self.queue.chat_states(chat_id)
        return mode_of(chat.mode if chat else None, account.mode if account else None, self.settings.service.mode)

    async def _approved(self, turn: Turn) -> Turn | None:
        """The owner approved (or edited) a draft in `twin review`: type it like a person, then send."""
        assert turn.reply_text is not None
        now = self.clock.now()
        extra = dict(turn.extra)
        self.store.update_turn(turn.id, now, status="composing", extra=extra)
        seed = int(str(extra.get("seed", 0))) or 1
        typing_s = plan(self.settings.timing, seed, 0).typing_s(self.settings.timing, len(turn.reply_text))
        if not await self._act(turn.chat_id, typing_s, "typing", now):
            self._cancel(turn, TAKEOVER)
            return None
        return self._to_sending(turn, turn.reply_text, extra, {})

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
        return self._to_sending(turn, text, dict(turn.extra), {})


@dataclass
class _Work:
    """A turn being composed, and what the steps learn about it on the way."""

    turn: Turn
    started: datetime
    timing: Timing
    extra: dict[str, Any]
    steps: dict[str, object]
    fields: dict[str, Any] = field(default_factory=dict)  # provider, model, tokens


@dataclass(frozen=True)
class _Outcome:
    """Where composing ended: status "" means "send send_text"; any other status is recorded as the turn's."""

    status: str
    reason: str
    send_text: str | None = None
    due_at: datetime | None = None  # status "waiting": when to try again
    emoji: str = ""  # with status "": react with this emoji instead of sending text

    @classmethod
    def send(cls, text: str) -> _Outcome:
        return cls("", "", text)


def _as_dict(value: object) -> dict[str, object]:
    return dict(value) if isinstance(value, dict) else {}
