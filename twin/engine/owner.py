"""The owner's writing, told apart from the twin's own messages coming back; the owner's is a takeover.

Telegram shows both as outgoing messages of the account. The twin's are known by the sent-parts
ledger (twin.db.sent): by the ids Telegram returned, or as the echo of a part whose id is not
known yet (each part once). Anything else outgoing in a chat is the owner writing from a device.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from twin.clock import Clock
from twin.config import Settings
from twin.db.sent import SentParts
from twin.db.store import Store
from twin.engine.pipeline import Pipeline
from twin.engine.presence import TAKEOVER
from twin.engine.queue import ReplyQueue
from twin.types import HistoryMessage, Incoming

log = logging.getLogger("twin.daemon")


class OwnerWatch:
    """Outgoing messages in contacts' chats: the twin's own are let pass, the owner's take the chat over."""

    def __init__(self, *, settings: Settings, store: Store, queue: ReplyQueue, pipeline: Pipeline,
                 clock: Clock) -> None:
        self.settings = settings
        self.account = settings.account
        self.store = store
        self.queue = queue
        self.pipeline = pipeline
        self.ledger: SentParts = pipeline.ledger
        self.clock = clock
        pipeline.delivery.owner_wrote = self.takeover  # an id matched to a part by its text was the owner's

    def outgoing(self, message: Incoming) -> None:
        """An outgoing message in a chat: the twin's, a repeat of the owner's, or the owner taking over."""
        if self.is_twins(message):
            return
        if self.store.is_outgoing(self.account, message.chat_id, message.message_id):
            return  # the owner's message again (a catch-up repeats what was seen): taken over already
        self.takeover(message.chat_id, HistoryMessage(message.message_id, message.date, True, message.text,
                                                      message.sender_id))

    def is_twins(self, message: Incoming) -> bool:
        """Whether an outgoing message is one the twin sent, by its id or by the part it is the echo of."""
        if self.ledger.owns(message.chat_id, message.message_id):
            return True
        part = self.ledger.claim(message.chat_id, message.message_id, message.kind, message.text, message.date,
                                 self.clock.now())
        if part is not None:
            log.info("message %s in chat %s is part %s of turn %s (its echo)", message.message_id, message.chat_id,
                     part.index, part.turn_id)
        return part is not None

    def takeover(self, chat_id: int, message: HistoryMessage) -> None:
        """The owner wrote in a chat: cancel what has not started sending and leave the chat to them."""
        self.store.add_messages(self.account, chat_id, [message])
        now = self.clock.now()
        until = now + timedelta(hours=self.settings.rules.takeover_pause_h)
        self.pipeline.takeover(chat_id, now)
        cancelled = self.queue.cancel_chat(chat_id, TAKEOVER, now)
        self.queue.pause_chat(chat_id, until, "the owner took over")
        log.info("owner wrote in chat %s (message %s): %s pending cancelled, paused until %s", chat_id,
                 message.message_id, cancelled, until)
