"""A composed turn going out: the last re-check, the reply (or reaction) stored, then sent and recorded.

The reply and its random_id are written before the first send, and each part is planned in the
sent-parts ledger before it goes (twin.engine.delivery sends them), so a crash anywhere resends
nothing twice.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta
from typing import Any

from twin.db.sent import Part, SentParts
from twin.engine.crew import Crew, Work, as_dict
from twin.engine.delivery import Delivery
from twin.engine.sender import RETRY_OFFLINE_S, SendGate, split_message
from twin.engine.timing import human_parts
from twin.errors import Disconnected, FloodWait, TelegramError
from twin.types import Turn, VoiceNote

log = logging.getLogger("twin.pipeline")
INT63 = 2**63 - 1


class Outbound:
    """Takes a turn from composed to `sending` and on to answered (or reacted), through the send gate."""

    def __init__(self, crew: Crew, *, gate: SendGate, ledger: SentParts, delivery: Delivery) -> None:
        self.crew = crew
        self.gate = gate
        self.ledger = ledger
        self.delivery = delivery

    def to_sending(self, turn: Turn, text: str, extra: dict[str, Any], fields: dict[str, Any]) -> Turn | None:
        """Re-check right before sending, then store the reply and its random_id (before any send)."""
        crew = self.crew
        why = crew.queue.may_send(turn.id, turn.chat_id, crew.clock.now())
        if why is not None:
            if why != "cancelled":
                crew.cancel(turn, why)
            return None
        random_id = crew.rng.randrange(1, INT63 // 2)
        crew.store.update_turn(turn.id, crew.clock.now(), status="sending", reply_text=text, random_id=random_id,
                               extra=extra, **fields)
        return replace(turn, status="sending", reply_text=text, random_id=random_id, extra=extra)

    def to_reacting(self, work: Work, emoji: str, why: str) -> Turn | None:
        """The same re-check as a reply, then the reaction is stored before it is made (safe to repeat)."""
        crew, turn = self.crew, work.turn
        stop = crew.queue.may_send(turn.id, turn.chat_id, crew.clock.now())
        if stop is not None:
            if stop != "cancelled":
                crew.cancel(turn, stop)
            return None
        work.extra["react"] = {"emoji": emoji, "to": max(turn.incoming_ids), "why": why}
        crew.store.update_turn(turn.id, crew.clock.now(), status="sending", extra=work.extra, **work.fields)
        return replace(turn, status="sending", extra=work.extra)

    async def react(self, turn: Turn) -> None:
        """Put the reaction on the contact's message; recorded as `reacted`, with no message sent."""
        crew = self.crew
        react = as_dict(turn.extra.get("react"))
        emoji, to = str(react.get("emoji", "")), int(str(react.get("to", 0)))
        try:
            await crew.telegram.react(turn.chat_id, to, emoji)
        except (Disconnected, FloodWait) as exc:  # kept as `sending`: tried again later (a reaction is idempotent)
            now = crew.clock.now()
            wait = exc.seconds if isinstance(exc, FloodWait) else RETRY_OFFLINE_S
            crew.store.update_turn(turn.id, now, due_at=now + timedelta(seconds=wait),
                                   reason=f"reaction delayed: {exc}")
            return
        except TelegramError as exc:
            crew.store.update_turn(turn.id, crew.clock.now(), status="failed", reason=f"reaction failed: {exc}")
            log.warning("turn %s: reaction failed: %s", turn.id, exc)
            return
        now = crew.clock.now()
        self.gate.record(now)
        steps = {**as_dict(turn.extra.get("steps")), "reacted": now.isoformat()}
        crew.queue.finish(turn.id, turn.chat_id, now, [], {
            "status": "reacted", "sent_at": now, "reason": f"reacted {emoji}: {react.get('why', '')}".rstrip(": "),
            "extra": {**turn.extra, "steps": steps}})

    def parts(self, text: str) -> list[str]:
        """The messages a reply goes out as: split like a person (timing.split_long), then to Telegram's size."""
        split = self.crew.settings.timing.split_long
        return [p for part in human_parts(text, split=split) for p in split_message(part)]

    async def send(self, turn: Turn) -> None:
        """Deliver a `sending` turn's parts and record the outcome."""
        crew = self.crew
        if turn.reply_text is None or turn.random_id is None:
            raise RuntimeError(f"turn {turn.id} is sending without a reply or a random_id")
        parts, note, voice_out = await self._plan(turn, turn.reply_text, turn.random_id)
        delivered = await self.delivery.deliver(turn, parts, note)
        if delivered is None:
            return  # failed, cancelled, or held with its plan for a retry
        now = crew.clock.now()
        self.gate.record(now)
        final = as_dict(turn.extra.get("final"))
        status, reason = str(final.get("status", "answered")), str(final.get("reason", ""))
        if turn.extra.get("away"):
            reason = turn.reason
        if delivered.stopped:
            reason = delivered.stopped
        if status == "needs_owner":
            crew.notices.append(f"{turn.sender_name or turn.chat_id} needs you: {reason} (twin show {turn.id})")
        steps = {**as_dict(turn.extra.get("steps")), "sent": now.isoformat()}
        parts = delivered.parts
        crew.queue.finish(turn.id, turn.chat_id, now, [(p.message_id or 0, p.text) for p in parts if p.kind == "text"],
                          {"status": status, "reply_ids": [p.message_id or 0 for p in parts], "sent_at": now,
                           "reason": reason, "voice": any(p.kind == "voice" for p in parts),
                           "extra": {**turn.extra, **({"voice_out": voice_out} if voice_out else {}), "steps": steps}})

    async def _plan(self, turn: Turn, text: str, random_id: int) -> tuple[list[Part], VoiceNote | None,
                                                                          dict[str, object] | None]:
        """The turn's parts: the stored plan of an earlier attempt, else new ones, stored before the first send."""
        parts = self.ledger.parts(turn.id)
        voice_pending = bool(parts) and parts[0].kind == "voice" and not parts[0].confirmed
        note, voice_out = None, None
        if self.crew.voice.tts is not None and (voice_pending or (not parts and turn.extra.get("as_voice"))):
            note, voice_out = await self._voice_note(turn)
        if not parts or (voice_pending and note is None):
            planned = [("voice", text)] if note is not None else [("text", p) for p in self.parts(text)]
            parts = self.ledger.plan(turn.id, turn.chat_id, planned, random_id, self.crew.clock.now(),
                                     replace=bool(parts))
        return parts, note, voice_out

    async def _voice_note(self, turn: Turn) -> tuple[VoiceNote | None, dict[str, object]]:
        """Speak the reply, showing "recording voice…" for about as long as it lasts; None: send text."""
        assert turn.reply_text is not None
        crew = self.crew
        spoken = await crew.voice.speak(turn.reply_text)
        info: dict[str, object] = {"provider": spoken.provider, "seconds_spent": round(spoken.seconds_spent, 3)}
        if spoken.note is None:
            info["as_text"] = spoken.reason
            return None, info
        info["duration_s"] = round(spoken.note.duration_s, 2)
        kept = crew.voice.keep(turn.id, spoken.note)
        if kept is not None:
            info["audio"] = str(kept)
        recording = max(0.0, spoken.note.duration_s * crew.settings.timing.scale - spoken.seconds_spent)
        await crew.presence.act(turn.chat_id, recording, "record-audio", crew.clock.now())
        return spoken.note, info
