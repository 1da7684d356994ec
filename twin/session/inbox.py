"""Telethon's new-message events as a stream of Incoming, ended by close() or a lost connection."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from twin.errors import AuthError, Disconnected, TelegramError
from twin.session.client import twin_error
from twin.types import Update

log = logging.getLogger(__name__)

# What the stream reads: a message, None after close(), or the error that ended the connection.
_Item = Update | Exception | None


class Inbox:
    """Feeds an asyncio.Queue from Telethon's event handlers; Telethon is imported on open()."""

    def __init__(self, client: Any, account: str, set_title: Callable[[Any], Awaitable[str]] | None = None) -> None:
        self._client = client
        self._set_title = set_title  # names a sticker's set (twin.session.stickers)
        self._account = account
        self._self_id = 0
        self._queue: asyncio.Queue[_Item] | None = None
        self._ready = asyncio.Event()
        self._watcher: asyncio.Task[None] | None = None
        self._closing = False
        self._installed = False

    def prepare(self) -> None:
        """Install the handlers and a fresh queue before connecting.

        With catch_up, Telethon's update loop starts inside connect() and may deliver the backlog
        before start() has checked the session: handlers must already be there, and wait for open().
        """
        self._queue = asyncio.Queue()
        self._ready = asyncio.Event()
        self._closing = False
        self._install()

    def open(self, self_id: int) -> None:
        """Let messages through for the owner self_id, and watch the connection."""
        self._self_id = self_id
        self._ready.set()
        self._watcher = asyncio.create_task(self._watch_connection())

    def close(self) -> None:
        """End the stream: messages() returns once it has yielded what came before."""
        self._closing = True
        self._ready.set()  # release handlers still waiting for open()
        if self._queue is not None:
            self._queue.put_nowait(None)
        if self._watcher is not None:
            self._watcher.cancel()
            self._watcher = None

    async def messages(self) -> AsyncIterator[Update]:
        """The messages as they arrive; TelegramError (or AuthError) when the connection is lost."""
        queue = self._queue
        if queue is None:
            raise TelegramError("not started")
        while True:
            item = await queue.get()
            if item is None:
                return
            if isinstance(item, Exception):
                raise item
            yield item

    def _install(self) -> None:
        if self._installed:
            return
        from telethon import events
        from telethon.tl import types

        # Both directions: the owner writing from another device is how takeover is noticed.
        self._client.add_event_handler(self._on_message, events.NewMessage())
        # NewMessage skips service messages; the rules still want to see (and skip) them.
        self._client.add_event_handler(
            self._on_service, events.Raw(types=[types.UpdateNewMessage, types.UpdateNewChannelMessage]))
        # Edits, deletions and typing reshape a reply that has not gone out yet (twin.engine.changes).
        for builder in (events.MessageEdited(), events.MessageDeleted(), events.UserUpdate()):
            self._client.add_event_handler(self._on_change, builder)
        self._installed = True

    async def _on_message(self, event: Any) -> None:
        from twin.session.convert import event_to_incoming

        queue = self._queue
        if queue is None:
            return
        await self._ready.wait()
        try:
            item = await event_to_incoming(event, self._self_id, self._set_title)
        except Exception:  # one unreadable message must not stop the stream
            log.exception("could not convert message %s", getattr(event.message, "id", "?"))
            return
        queue.put_nowait(item)

    async def _on_service(self, update: Any) -> None:
        from telethon.tl import types

        from twin.session.convert import to_incoming

        message = getattr(update, "message", None)
        queue = self._queue
        if not isinstance(message, types.MessageService) or queue is None:
            return
        await self._ready.wait()
        entities = getattr(update, "_entities", None) or {}  # the update's users and chats, by peer id
        queue.put_nowait(to_incoming(message, self_id=self._self_id, sender=entities.get(message.sender_id),
                                     chat=entities.get(message.chat_id)))

    async def _on_change(self, event: Any) -> None:
        from twin.session.changes import to_change

        queue = self._queue
        if queue is None:
            return
        await self._ready.wait()
        try:
            change = to_change(event)
        except Exception:  # one unreadable update must not stop the stream
            log.exception("could not convert %s", type(event).__name__)
            return
        if change is not None:
            queue.put_nowait(change)

    async def _watch_connection(self) -> None:
        try:
            await self._client.disconnected
        except Exception:  # why is in Telethon's log; the daemon only needs to know it is gone
            log.debug("telegram connection ended with an error", exc_info=True)
        if not self._closing and self._queue is not None:
            self._queue.put_nowait(self._lost_error())

    def _lost_error(self) -> Exception:
        # Telethon keeps why its update loop gave up: a revoked session needs a login, not a reconnect.
        reason = getattr(self._client, "_updates_error", None)
        mapped = twin_error(reason, self._account) if reason is not None else None
        return mapped if isinstance(mapped, AuthError) else Disconnected("disconnected")
