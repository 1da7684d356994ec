"""Composing a due turn like a person: read -> listen -> choose and draft -> type -> re-check -> settle.

Each step hands on what the next needs, or a `Step` that ends composing with a status. The
choice (reply, react or nothing) is asked inside the draft; a message edited meanwhile is
answered as it is now (once). `settle` is the one place a composed turn's outcome is written.
"""

from __future__ import annotations

import logging
from typing import Any

from twin.engine.choice import ack_policy, choosing, precheck, reply_to_for
from twin.engine.crew import Crew, Step, Work, as_dict
from twin.engine.draft import Drafter
from twin.engine.hours import in_quiet
from twin.engine.outbound import Outbound
from twin.engine.presence import TAKEOVER
from twin.engine.timing import plan
from twin.errors import TelegramError
from twin.types import Turn

log = logging.getLogger("twin.pipeline")


class Composer:
    """Takes a waiting turn to `sending` (or an explained stop); every step is safe to run again."""

    def __init__(self, crew: Crew, drafter: Drafter, outbound: Outbound) -> None:
        self.crew = crew
        self.drafter = drafter
        self.outbound = outbound

    async def compose(self, turn: Turn) -> Turn | None:
        """read -> listen -> draft -> type: the turn on its way out, or None when it stopped."""
        work = self._begin(turn)
        await self._mark_read(work)
        step = await self._listen(work)
        if isinstance(step, str):
            step = await self._reply_or_react(work, step)
        step = await self._recheck(work, step)
        return self._settle(work, step)

    async def _reply_or_react(self, work: Work, text: str) -> Step:
        """A pure acknowledgement is decided at once; else the model chooses to reply, react or do nothing."""
        crew = self.crew
        policy = ack_policy(crew.settings.persona.react_to_acks, crew.responder.profile)
        texts = text.split("\n") if not work.extra.get("voice_in") else [text]
        choice = precheck(texts, policy, int(work.extra["seed"]))
        if choice is None:
            with choosing(policy) as asked:
                step = await self.drafter.draft(work, text)
            choice = asked.choice
            if choice is not None:
                work.extra["choice"] = choice.as_dict()
            if choice is None or choice.action == "reply":
                typed = step.send_text is not None and step.status == ""
                return await self._type(work, step.send_text) if typed and step.send_text else step
        work.extra["choice"] = choice.as_dict()
        if crew.mode(work.turn.chat_id) == "review":
            what = f"would react {choice.emoji}" if choice.action == "react" else "would leave it unanswered"
            return Step("no_reply", f"{what} (review mode: nothing sent)")
        if choice.action == "react":
            return Step("", choice.reason or "reacted", emoji=choice.emoji)
        return Step("no_reply", choice.reason or "the twin chose not to answer")

    async def _recheck(self, work: Work, step: Step) -> Step:
        """Before anything goes out: a message edited or deleted meanwhile is answered as it is now (once)."""
        crew = self.crew
        fresh = crew.store.turn(work.turn.id)
        if fresh is None:
            return step
        if "changes" in fresh.extra:
            work.extra["changes"] = fresh.extra["changes"]
        if fresh.status == "cancelled":
            return Step("cancelled", fresh.reason)
        if (fresh.incoming_text, fresh.incoming_ids) == (work.turn.incoming_text, work.turn.incoming_ids):
            return step
        if work.extra.get("recomposed") or work.extra.get("voice_in") or fresh.status != "composing":
            return step  # composed once again already (or a voice note's transcript): the answer stands
        work.extra["recomposed"] = {"at": crew.clock.now().isoformat(), "why": "the contact changed the message"}
        work.turn = fresh
        return await self._recheck(work, await self._reply_or_react(work, fresh.incoming_text))

    def _begin(self, turn: Turn) -> Work:
        crew = self.crew
        seed = int(str(turn.extra.get("seed", 0))) or crew.rng.randrange(1, 2**31)
        timing = plan(crew.settings.timing, seed, len(turn.incoming_text))
        steps: dict[str, object] = dict(as_dict(turn.extra.get("steps")))
        extra: dict[str, Any] = {**turn.extra, "seed": seed, "timing": timing.as_dict(), "steps": steps}
        work = Work(turn, crew.clock.now(), timing, extra, steps)
        crew.store.update_turn(turn.id, work.started, status="composing", attempts=turn.attempts + 1, extra=extra)
        return work

    async def _mark_read(self, work: Work) -> None:
        crew = self.crew
        if not crew.settings.timing.mark_read or in_quiet(crew.hours, work.started):
            return
        try:
            await crew.telegram.mark_read(work.turn.chat_id, max(work.turn.incoming_ids))
            work.steps["read"] = crew.clock.now().isoformat()
        except TelegramError as exc:
            log.info("turn %s: could not mark read: %s", work.turn.id, exc)

    async def _listen(self, work: Work) -> str | Step:
        """The text to answer (voice notes heard first), after reading it like a person."""
        crew, turn = self.crew, work.turn
        listened = await crew.voice.listen(crew.telegram, turn, crew.responder.language_for(turn.chat_id))
        if listened.transcript:
            work.extra["voice_in"] = {"seconds": round(listened.seconds, 2), "provider": listened.provider}
            crew.store.update_turn(turn.id, crew.clock.now(), transcript=listened.transcript, extra=work.extra)
        if listened.text is None:
            if crew.settings.stt.answer_unheard and listened.status == "failed":
                note = await crew.responder.unheard_note(contact=turn.sender_name)
                work.extra["final"] = {"status": "skipped", "reason": f"{listened.reason}; asked for a text instead"}
                return Step.send(note)
            return Step(listened.status, listened.reason)
        # Listening to a note counts as reading it.
        await crew.clock.sleep(work.timing.read_s + listened.seconds * crew.settings.timing.scale)
        if crew.presence.interrupted(turn.chat_id, work.started):
            return Step("cancelled", TAKEOVER)
        return listened.text

    async def _type(self, work: Work, text: str) -> Step:
        """Show "typing…" for as long as a person would need (nothing for a voice reply)."""
        crew = self.crew
        as_voice, why_text = crew.voice.wants(work.turn, text)
        work.extra["as_voice"] = as_voice
        if not as_voice and crew.settings.tts.when != "never":
            work.extra["voice_out"] = {"as_text": why_text}
        first = self.outbound.parts(text)[0]
        typing_s = 0.0 if as_voice else work.timing.typing_s(crew.settings.timing, len(first))
        work.extra["typing_s"] = round(typing_s, 3)
        if typing_s > 0:
            work.steps["typing"] = crew.clock.now().isoformat()
        if not await crew.presence.act(work.turn.chat_id, typing_s, "typing", work.started):
            return Step("cancelled", TAKEOVER, text)
        return Step.send(text)

    def _settle(self, work: Work, step: Step) -> Turn | None:
        """The one place a composed turn's outcome is written: on to sending, or stopped with a reason."""
        crew = self.crew
        if step.status == "" and step.emoji:
            return self.outbound.to_reacting(work, step.emoji, step.reason)
        if step.status == "":
            assert step.send_text is not None
            reply_to = reply_to_for(crew.store, crew.account, work.turn)
            if reply_to is not None:
                work.extra["reply_to"] = reply_to
            return self.outbound.to_sending(work.turn, step.send_text, work.extra, work.fields)
        kept: dict[str, Any] = {"reply_text": step.send_text} if step.send_text is not None else {}
        if step.due_at is not None:
            kept["due_at"] = step.due_at
        crew.store.update_turn(work.turn.id, crew.clock.now(), status=step.status, reason=step.reason,
                               extra=work.extra, **work.fields, **kept)
        return None
