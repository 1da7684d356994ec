"""The model's part of a turn: the chat's context, what the model may see, and the draft it writes.

A model outage sends the turn back to waiting (twin.engine.outage); a draft the owner must see
first (review mode, a held draft, a local model's) waits for `twin review`.
"""

from __future__ import annotations

import logging

from twin.engine.crew import Crew, Step, Work
from twin.engine.outage import Outages
from twin.engine.responder import parts_json
from twin.engine.steer import held_for_review
from twin.errors import ConfigError, ProviderError, TelegramError
from twin.llm.chain import Unavailable
from twin.lru import LRU
from twin.media.look import Looked, look, media_in
from twin.types import HistoryMessage, Turn

log = logging.getLogger("twin.pipeline")


class Drafter:
    """Asks the responder for a draft with the chat's recent messages (fetched from Telegram once per chat)."""

    def __init__(self, crew: Crew, outages: Outages, fetched: LRU[int, bool]) -> None:
        self.crew = crew
        self.outages = outages
        self.fetched = fetched  # chats whose earlier history is in the store (bounded; the database has the rest)

    async def context(self, turn: Turn) -> list[HistoryMessage]:
        """The chat's messages before this turn (fetched from Telegram once on first contact)."""
        crew = self.crew
        if turn.chat_id not in self.fetched:
            state = crew.store.chat(crew.account, turn.chat_id)
            if state is not None and state.history_fetched:
                self.fetched[turn.chat_id] = True
        if turn.chat_id not in self.fetched:
            limit = crew.settings.telegram.history_on_first_contact
            first = min(turn.incoming_ids, default=2**62)
            try:
                # Only what came before this turn: a later message in the history may not have reached the
                # queue yet (a catch-up under way), and storing it here would make the queue skip it.
                earlier = [m for m in await crew.telegram.history(turn.chat_id, limit) if m.message_id < first]
                crew.store.add_messages(crew.account, turn.chat_id, earlier)
                crew.store.save_chat(crew.account, turn.chat_id, title=turn.chat_title, history_fetched=True)
                self.fetched[turn.chat_id] = True
            except TelegramError as exc:
                log.warning("chat %s: could not fetch earlier messages: %s", turn.chat_id, exc)
        own = set(turn.incoming_ids)
        last = max(own, default=2**62)
        wanted = crew.settings.llm.context_turns
        recent = crew.store.recent_messages(crew.account, turn.chat_id, wanted + 2 * len(own) + 2)
        # The turn's own messages come last in the prompt; later incoming ones belong to later turns.
        earlier = [m for m in recent if m.message_id not in own and (m.outgoing or m.message_id < last)]
        return [m for m in earlier if m.text][-wanted:] if wanted > 0 else []

    async def draft(self, work: Work, text: str) -> Step:
        """Ask the responder; a draft to type, or why there is none."""
        crew, turn = self.crew, work.turn
        history = await self.context(turn)
        looked = await self._look(turn)
        try:
            draft = await crew.responder.draft(history, text, contact=turn.sender_name or turn.chat_title,
                                               chat_id=turn.chat_id, images=looked.images)
        except Unavailable as exc:
            log.info("turn %s waits for the model: %s", turn.id, exc)
            work.extra["model_waits"] = int(str(work.extra.get("model_waits", 0))) + 1
            wait = self.outages.wait(turn, exc.retry_at, str(exc))
            return Step(wait.status, wait.reason, due_at=wait.due_at)
        except (ProviderError, ConfigError) as exc:
            log.warning("turn %s failed: %s", turn.id, exc)
            if looked.notes:
                work.extra["looked"] = looked.record(None)
            return Step("failed", f"model failed: {exc}" if isinstance(exc, ProviderError) else str(exc))
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
                crew.notices.append(f"Draft for {turn.sender_name or turn.chat_id} held: {draft.reason}")
            return Step(draft.status, draft.reason, draft.held)
        if draft.status == "needs_owner":
            work.extra["final"] = {"status": "needs_owner", "reason": draft.reason}
        hold = held_for_review(crew.settings, draft.completion.provider) if draft.completion is not None else ""
        if crew.mode(turn.chat_id) == "review" or hold:
            crew.notices.append(f"Draft for {turn.sender_name or turn.chat_id} waits for you: twin review")
            return Step("review", draft.reason or hold or "draft waiting for the owner (twin review)", draft.text)
        return Step.send(draft.text)

    async def _look(self, turn: Turn) -> Looked:
        """Photos and video frames for a model that can see them; the rest of the media stays words."""
        media = media_in(turn.extra)
        if not media:
            return Looked()
        llm = self.crew.responder.llm
        telegram = self.crew.telegram

        async def download(message_id: int, max_bytes: int) -> bytes:
            return await telegram.download(turn.chat_id, message_id, max_bytes)

        return await look(media, download, self.crew.settings.media, model_sees=bool(getattr(llm, "vision", False)),
                          model=f"{llm.provider} {llm.model}")
