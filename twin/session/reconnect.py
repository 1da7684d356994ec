"""A TelegramClient that asks for what it missed after every reconnect it makes by itself.

Telethon 1.45 reconnects on its own after a dropped connection (the server restarted, a dead link
found by its keepalive) and then only calls get_me(): its `_handle_auto_reconnect` stops before
the catch-up ("TODO Catch-up"). A session the server forgot then gets no pushed updates until the
next gap or Telethon's 15-minute timeout. This subclass asks for the difference at once.

Imported only where Telethon is needed anyway (build_client).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from telethon import TelegramClient


class CatchingUpClient(TelegramClient):  # type: ignore[misc]  # Telethon has no type hints
    """Telethon's client; after an automatic reconnect, `on_reconnect` (or a plain catch_up) runs."""

    on_reconnect: Callable[[], Awaitable[None]] | None = None

    async def _handle_auto_reconnect(self) -> None:
        # The sender calls this (a bound method, so the override is found) after every successful
        # automatic reconnect; not after our own connect().
        await super()._handle_auto_reconnect()
        hook = self.on_reconnect
        if hook is not None:
            await hook()
        else:
            await self.catch_up()
