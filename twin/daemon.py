"""Start -> consume until a stop flag -> graceful shutdown. One worker per busy chat."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from twin.clock import Clock
from twin.config import Settings
from twin.pipeline import Pipeline
from twin.rules import ChatContext, decide
from twin.session.base import Telegram
from twin.store import Store
from twin.types import HistoryMessage, Incoming, Me

log = logging.getLogger("twin.daemon")


class Daemon:
    """Receives messages, writes each decision down, and lets per-chat workers answer in order."""

    def __init__(self, *, settings: Settings, store: Store, telegram: Telegram, pipeline: Pipeline,
                 clock: Clock, voice_enabled: bool = False) -> None:
        self.settings = settings
        self.account = settings.account
        self.store = store
        self.telegram = telegram
        self.pipeline = pipeline
        self.clock = clock
        self.voice_enabled = voice_enabled
        self.me: Me | None = None
        self._queues: dict[int, asyncio.Queue[int]] = {}
        self._workers: dict[int, asyncio.Task[None]] = {}
        self.connected = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until `stop` is set or Telegram goes away, then shut down gracefully."""
        self.me = await self.telegram.start()
        log.info("connected as %s (id %s)", self.me.name, self.me.id)
        self.connected.set()
        for turn in self.store.unfinished(self.account):
            self._enqueue(turn.chat_id, turn.id)
        consumer = asyncio.create_task(self._consume())
        stopper = asyncio.create_task(stop.wait())
        try:
            done, _ = await asyncio.wait({consumer, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if consumer in done:
                consumer.result()  # re-raises a lost connection
        finally:
            stopper.cancel()
            consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await consumer
            await self._drain(self.settings.service.stop_timeout_s)
            await self.telegram.stop()
            log.info("stopped")

    async def _consume(self) -> None:
        async for message in self.telegram.incoming():
            await self.handle(message)

    async def handle(self, message: Incoming) -> int | None:
        """Record one message and its decision; returns the turn id (None for the owner's own)."""
        try:
            return self._handle(message)
        except Exception:  # the per-message boundary: log, keep serving
            log.exception("could not handle message %s in chat %s", message.message_id, message.chat_id)
            return None

    def _handle(self, message: Incoming) -> int | None:
        now = self.clock.now()
        if message.text and message.chat_kind == "private":
            self.store.add_messages(self.account, message.chat_id, [
                HistoryMessage(message.message_id, message.date, message.outgoing or message.sender_is_self,
                               message.text, message.sender_id)])
        if message.outgoing:
            return None
        me_id = self.me.id if self.me else 0
        ctx = ChatContext(me_id=me_id, voice_enabled=self.voice_enabled)
        decision = decide(message, self.settings.rules, ctx, now)
        if not decision.answer:
            turn_id = self.store.add_turn(self.account, [message], status=decision.status, reason=decision.reason, now=now)
            log.info("turn %s: skipped (%s)", turn_id, decision.reason)
            return turn_id
        turn_id = self.store.add_turn(self.account, [message], status="waiting", now=now, due_at=decision.due_at)
        self._enqueue(message.chat_id, turn_id)
        return turn_id

    def _enqueue(self, chat_id: int, turn_id: int) -> None:
        queue = self._queues.setdefault(chat_id, asyncio.Queue())
        queue.put_nowait(turn_id)
        if chat_id not in self._workers:
            self._workers[chat_id] = asyncio.create_task(self._work(chat_id, queue))

    async def _work(self, chat_id: int, queue: asyncio.Queue[int]) -> None:
        """Answer one chat's turns in order; the task ends when the chat has nothing queued."""
        try:
            while not queue.empty():
                turn_id = queue.get_nowait()
                try:
                    await self.pipeline.process(turn_id)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # the per-turn boundary: record, keep serving
                    log.exception("turn %s failed unexpectedly", turn_id)
                    self.store.update_turn(turn_id, self.clock.now(), status="failed",
                                           reason=f"internal error: {exc.__class__.__name__}")
        finally:
            self._workers.pop(chat_id, None)
            if queue.empty():
                self._queues.pop(chat_id, None)

    async def idle(self) -> None:
        """Wait until every queued turn has been processed (for tests and benchmarks)."""
        while self._workers:
            await asyncio.gather(*list(self._workers.values()), return_exceptions=True)

    async def _drain(self, timeout_s: float) -> None:
        """Let in-flight turns finish; past the timeout they are cancelled and resume next start."""
        workers = list(self._workers.values())
        if not workers:
            return
        _, pending = await asyncio.wait(workers, timeout=timeout_s)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
