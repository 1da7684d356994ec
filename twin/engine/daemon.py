"""Start -> consume and schedule until a stop flag -> graceful shutdown.

The consumer writes every message and its decision to the queue; the scheduler starts the
due turns, one worker per chat (twin.engine.workers), so chats proceed concurrently and each one
in order. Every connect, and a safety net while idle, asks for missed updates (twin.engine.catchup).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

from twin.backoff import Backoff
from twin.clock import Clock
from twin.config import Settings
from twin.db.store import Store
from twin.engine.catchup import CatchUp
from twin.engine.changes import Changes
from twin.engine.hours import Hours, next_change
from twin.engine.owner import OwnerWatch
from twin.engine.pipeline import Pipeline
from twin.engine.queue import ReplyQueue
from twin.engine.rules import ChatContext, decide, mode_of
from twin.engine.workers import Workers
from twin.errors import Disconnected
from twin.media.describe import shown_text
from twin.session.base import Telegram
from twin.types import Change, Incoming, Me, media_json

log = logging.getLogger("twin.daemon")
OwnerCommand = Callable[[str], str | None]


class Daemon:
    """Receives messages, writes each decision down, and lets per-chat workers answer in order."""

    def __init__(self, *, settings: Settings, store: Store, telegram: Telegram, pipeline: Pipeline,
                 clock: Clock, voice_enabled: bool = False, owner_command: OwnerCommand | None = None) -> None:
        self.settings = settings
        self.account = settings.account
        self.store = store
        self.queue = ReplyQueue(store, settings.account)
        self.changes = Changes(store, settings.account, settings.timing, clock)
        self.telegram = telegram
        self.pipeline = pipeline
        self.hours = Hours.from_settings(settings.hours)
        self.clock = clock
        self.voice_enabled = voice_enabled
        self.owner_command = owner_command
        self.rng = random.Random()
        self.me: Me | None = None
        self._workers: dict[int, asyncio.Task[None]] = {}
        self._wake = asyncio.Event()
        self.connected = asyncio.Event()
        self.started_at = clock.now()
        self.last_error = ""
        self.owner = OwnerWatch(settings=settings, store=store, queue=self.queue, pipeline=pipeline, clock=clock)
        self.catch_up = CatchUp(telegram, clock, settings.telegram.catch_up_s)
        self.workers = Workers(store=store, queue=self.queue, pipeline=pipeline, clock=clock, running=self._workers,
                               wake=self._wake, report=self._report)

    # --- lifecycle ----------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Serve until `stop` is set; a lost connection is retried with jittered backoff, then caught up."""
        backoff = Backoff(min_s=1.0, max_s=300.0, rng=self.rng)
        first = True
        try:
            while not stop.is_set():
                try:
                    self.me = await self.telegram.start()
                except Disconnected as exc:
                    if first:
                        raise  # never connected: say why at once (`twin start` prints it)
                    self.last_error = f"reconnecting: {exc}"
                    await self._sleep(backoff.next(), stop)
                    continue
                backoff.reset()
                if first:
                    log.info("connected as %s (id %s)", self.me.name, self.me.id)
                    stale_after = timedelta(hours=self.settings.timing.stale_after_h)
                    resumed, stale = self.queue.recover(self.clock.now(), stale_after)
                    if resumed or stale:
                        log.info("recovered the queue: %s resumed, %s marked stale", resumed, stale)
                    await self._refresh_dialogs()
                else:
                    log.info("reconnected; missed messages are caught up")
                first = False
                self.connected.set()
                await self.catch_up.ask("connected")
                if self.queue.retry_offline(self.clock.now()):
                    self._wake.set()  # replies cut off by the lost connection go out now
                lost = await self._serve(stop)
                self.connected.clear()
                if lost is None:
                    return
                self.last_error = f"connection lost: {lost}"
                log.warning("connection lost (%s); reconnecting", lost)
                await self.telegram.stop()
                await self._sleep(backoff.next(), stop)
        finally:
            await self.workers.drain(self.settings.service.stop_timeout_s)
            await self.telegram.stop()
            self.connected.clear()
            log.info("stopped")

    async def _serve(self, stop: asyncio.Event) -> Disconnected | None:
        """Consume and schedule until stop (None) or until the connection drops (the error)."""
        tasks: set[asyncio.Task[None]] = {asyncio.create_task(self._consume()), asyncio.create_task(self._schedule())}
        stopper: asyncio.Task[bool] = asyncio.create_task(stop.wait())
        try:
            done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
            for task in tasks & done:
                error = task.exception()
                if isinstance(error, Disconnected):
                    return error
                task.result()  # anything else (an expired session) ends the daemon
            return None
        finally:
            stopper.cancel()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, stopper, return_exceptions=True)

    async def _refresh_dialogs(self) -> None:
        """Remember which chats are muted or archived (the rules skip them unless allowed)."""
        try:
            for dialog in await self.telegram.dialogs(500):
                self.store.merge_chat_extra(self.account, dialog.chat_id, muted=dialog.muted, archived=dialog.archived)
        except Exception as exc:  # cosmetic for the rules; never fatal
            log.warning("could not read the dialog list: %s", exc)

    # --- receiving ----------------------------------------------------------------------
    async def _consume(self) -> None:
        async for update in self.telegram.incoming():
            self.catch_up.heard()
            if isinstance(update, Incoming):
                await self.handle(update)
            else:
                self.change(update)

    def change(self, update: Change) -> None:
        """An edit, a deletion or typing in a chat: applied to the queue (twin.engine.changes)."""
        try:
            log.info("%s", self.changes.apply(update))
        except Exception as exc:  # the per-update boundary: log, keep serving
            self._report(f"{exc.__class__.__name__}: {exc}")
            log.exception("could not apply %s", type(update).__name__)
        self._wake.set()

    async def handle(self, message: Incoming) -> int | None:
        """Record one message and its decision; returns the turn id (None: the owner's own or a repeat)."""
        try:
            if message.outgoing or message.sender_is_self:
                await self._owner_message(message)
                return None
            return self._ingest(message)
        except Exception as exc:  # the per-message boundary: log, keep serving
            self._report(f"{exc.__class__.__name__}: {exc}")
            log.exception("could not handle message %s in chat %s", message.message_id, message.chat_id)
            return None

    def _context(self, message: Incoming, now: datetime) -> tuple[ChatContext, dict[str, object]]:
        """What the rules need to know about the chat, and the chat state to write back."""
        state, account = self.queue.chat_states(message.chat_id)
        extra = dict(state.extra or {}) if state else {}
        streak = int(extra.get("fast_streak", 0))
        updates: dict[str, object] = {}
        last_sent = extra.get("last_sent_at")
        if isinstance(last_sent, str):
            # How fast the contact answered the twin's last reply: a bot (or another twin) is instant.
            quick = (message.date - datetime.fromisoformat(last_sent)).total_seconds() < self.settings.rules.loop_fast_s
            streak = streak + 1 if quick else 0
            updates = {"fast_streak": streak, "last_sent_at": None}
        hour, day = self.queue.sent_counts(message.chat_id, now)
        replied = message.reply_to is not None and message.chat_kind == "group" and self.store.is_outgoing(
            self.account, message.chat_id, message.reply_to)
        ctx = ChatContext(
            me_id=self.me.id if self.me else 0, replied_to_us=replied, voice_enabled=self.voice_enabled,
            paused_until=state.paused_until if state else None, pause_reason=str(extra.get("pause_reason", "")),
            account_paused_until=account.paused_until if account else None,
            muted=bool(extra.get("muted")), archived=bool(extra.get("archived")), fast_streak=streak,
            turns_last_hour=hour, turns_last_day=day,
            mode=mode_of(state.mode if state else None, account.mode if account else None, self.settings.service.mode),
        )
        return ctx, updates

    def _ingest(self, message: Incoming) -> int | None:
        now = self.clock.now()
        seed = self.rng.randrange(1, 2**31)
        ctx, chat_updates = self._context(message, now)
        decision = decide(message, self.settings, self.hours, ctx, now, seed)
        extra: dict[str, object] = {"seed": seed, "steps": {"received": now.isoformat()}}
        if decision.deferred:
            extra["deferred"] = True
        if message.media is not None:
            extra["media"] = {str(message.message_id): media_json(message.media)}
        # The turn (and the chat's stored messages) hold what came in, in words: "[photo] caption", the quote.
        replied = self.store.message_text(self.account, message.chat_id, message.reply_to) \
            if message.reply_to is not None and not message.quote else None
        message = replace(message, text=shown_text(message, replied or ""))
        if decision.away:
            _, change = next_change(self.hours, now)
            extra.update(away=True, period=change.isoformat(timespec="minutes") if change else "later")
        quiet_window = self.settings.timing.quiet_window_s * self.settings.timing.scale
        ingested = self.queue.ingest(message, decision, now, quiet_window_s=quiet_window, extra=extra,
                                     chat_extra=chat_updates)
        if decision.pause_until is not None:
            self.queue.pause_chat(message.chat_id, decision.pause_until, decision.reason)
            self.pipeline.notices.append(f"Paused chat {message.chat_title or message.chat_id}: {decision.reason}")
        if ingested.turn_id is not None:
            verb = "folded into" if ingested.folded else ("queued as" if decision.answer else "recorded as")
            log.info("message %s in chat %s %s turn %s (%s)", message.message_id, message.chat_id, verb,
                     ingested.turn_id, decision.reason)
            self._wake.set()
        return ingested.turn_id

    async def _owner_message(self, message: Incoming) -> None:
        """The owner wrote: a command in Saved Messages, the twin's own send coming back, or a takeover."""
        if message.kind == "service":
            return  # calls, pins and joins are not the owner writing
        me_id = self.me.id if self.me else 0
        if message.chat_id == me_id:
            reply = self.owner_command(message.text) if self.owner_command and message.text else None
            if reply:
                await self._notify(reply)
            return
        self.owner.outgoing(message)

    async def _notify(self, text: str) -> None:
        """Tell the owner in Saved Messages (best effort)."""
        if not (self.me and self.settings.service.notify_saved):
            return
        try:
            await self.telegram.send_text(self.me.id, f"[twin] {text}", random_id=self.rng.randrange(1, 2**62))
        except Exception as exc:
            log.warning("could not notify the owner: %s", exc)

    # --- scheduling ---------------------------------------------------------------------
    async def _schedule(self) -> None:
        """Start due turns (one per chat at a time); sleep until the next due time or a new message."""
        while True:
            self.workers.start_due()
            while self.pipeline.notices:
                await self._notify(self.pipeline.notices.pop(0))
            catch_up_in = await self.catch_up.keep_up()  # the safety net; the scheduler wakes for it
            next_due = self.queue.next_due()
            delay = min(self.settings.timing.tick_s, catch_up_in)
            if next_due is not None:
                delay = max(0.0, min(delay, (next_due - self.clock.now()).total_seconds()))
            await self._sleep(delay, self._wake)
            self._wake.clear()

    def _report(self, error: str) -> None:
        self.last_error = error

    def snapshot(self) -> dict[str, object]:
        """What `twin status` shows about the running daemon."""
        return {
            "account": self.account,
            "connected": self.connected.is_set(),
            "me": {"id": self.me.id, "name": self.me.name} if self.me else None,
            "started_at": self.started_at.isoformat(),
            "busy_chats": len(self._workers),
            "send_paused_until": _iso(self.pipeline.gate.paused_until),
            "last_catch_up": _iso(self.telegram.last_catch_up),
            "last_error": self.last_error,
            "providers": self.pipeline.provider_health(),
        }

    async def idle(self, max_rounds: int = 100_000) -> None:
        """Wait until nothing is running or due (for tests and benchmarks with an auto-advancing clock)."""
        await self.workers.idle(max_rounds)

    async def _sleep(self, seconds: float, event: asyncio.Event) -> None:
        """Sleep on the clock, or less if the event is set meanwhile."""
        sleeper = asyncio.ensure_future(self.clock.sleep(seconds))
        waker = asyncio.ensure_future(event.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            waker.cancel()


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when else None
