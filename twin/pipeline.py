"""One queued turn: context -> draft -> send -> record. Every step is written down first."""

from __future__ import annotations

import logging
import random

from twin.clock import Clock
from twin.config import Settings
from twin.errors import ProviderError, TelegramError
from twin.responder import Responder
from twin.session.base import TELEGRAM_TEXT_LIMIT, Telegram
from twin.store import UNFINISHED, Store
from twin.types import HistoryMessage, Turn

log = logging.getLogger("twin.pipeline")
INT63 = 2**63 - 1


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


class Pipeline:
    """Takes a turn from the queue to a sent (or explained) reply."""

    def __init__(self, *, account: str, store: Store, telegram: Telegram, responder: Responder,
                 settings: Settings, clock: Clock, rng: random.Random | None = None) -> None:
        self.account = account
        self.store = store
        self.telegram = telegram
        self.responder = responder
        self.settings = settings
        self.clock = clock
        self.rng = rng or random.SystemRandom()

    async def process(self, turn_id: int) -> None:
        """Bring one turn to a final status; safe to call again after a crash at any point."""
        turn = self.store.turn(turn_id)
        if turn is None or turn.status not in UNFINISHED:
            return
        if turn.status != "sending":
            turn = await self._compose(turn)
            if turn is None:
                return
        await self._send(turn)

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
        return earlier[-wanted:] if wanted > 0 else []

    async def _compose(self, turn: Turn) -> Turn | None:
        now = self.clock.now()
        self.store.update_turn(turn.id, now, status="composing")
        history = await self.context(turn)
        try:
            draft = await self.responder.draft(history, turn.transcript or turn.incoming_text,
                                               contact=turn.sender_name or turn.chat_title)
        except ProviderError as exc:
            self.store.update_turn(turn.id, self.clock.now(), status="failed", reason=f"model failed: {exc}")
            log.warning("turn %s failed: %s", turn.id, exc)
            return None
        completion = draft.completion
        fields: dict[str, object] = {
            "provider": completion.provider if completion else "",
            "model": completion.model if completion else "",
            "tokens_in": completion.tokens_in if completion else 0,
            "tokens_out": completion.tokens_out if completion else 0,
        }
        context = {"context": [{"out": m.outgoing, "text": m.text} for m in history],
                   "system": draft.prompt.system}
        self.store.merge_extra(turn.id, self.clock.now(), **context)
        if draft.text is None:
            self.store.update_turn(turn.id, self.clock.now(), status=draft.status, reason=draft.reason, **fields)
            return None
        # The random_id is chosen and stored before the first send: a retry reuses it.
        random_id = self.rng.randrange(1, INT63 // 2)
        self.store.update_turn(turn.id, self.clock.now(), status="sending", reply_text=draft.text,
                               random_id=random_id, **fields)
        return self.store.turn(turn.id)

    async def _send(self, turn: Turn) -> None:
        if turn.reply_text is None or turn.random_id is None:
            raise RuntimeError(f"turn {turn.id} is sending without a reply or a random_id")
        parts = split_message(turn.reply_text)
        ids: list[int] = []
        try:
            for index, part in enumerate(parts):
                ids.append(await self.telegram.send_text(turn.chat_id, part, random_id=turn.random_id + index))
        except TelegramError as exc:
            self.store.update_turn(turn.id, self.clock.now(), status="failed", reason=f"send failed: {exc}")
            log.warning("turn %s: send failed: %s", turn.id, exc)
            return
        now = self.clock.now()
        self.store.update_turn(turn.id, now, status="answered", reply_ids=ids, sent_at=now)
        sent = [HistoryMessage(message_id=i, date=now, outgoing=True, text=p)
                for i, p in zip(ids, parts, strict=True) if i]
        self.store.add_messages(self.account, turn.chat_id, sent)
