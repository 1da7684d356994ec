"""Never deaf: ask Telegram for what the session missed after every (re)connect, and as a safety net.

A session the server forgot (a server restart, a long network gap; Telethon reconnecting by itself
included) gets no pushed updates until it asks for the difference. So the daemon asks at every
connect, and again whenever nothing was heard for `telegram.catch_up_s` while idle: a few cheap
requests a minute at most. What comes back arrives through incoming() like any update.
"""

from __future__ import annotations

import logging

from twin.clock import Clock
from twin.errors import TelegramError
from twin.session.base import Telegram

log = logging.getLogger("twin.daemon")


class CatchUp:
    """When the session last heard anything, and the catch-up it asks for."""

    def __init__(self, telegram: Telegram, clock: Clock, every_s: float) -> None:
        self.telegram = telegram
        self.clock = clock
        self.every_s = every_s  # 0 or less: no safety net
        self.last_heard = clock.now()  # when the last update arrived (the safety net counts from it)

    def heard(self) -> None:
        """An update arrived: the session is alive."""
        self.last_heard = self.clock.now()

    async def ask(self, why: str) -> None:
        """Ask Telegram for what this session missed; it comes through incoming() like any update."""
        self.last_heard = self.clock.now()  # asked (or tried to): the safety net counts from here
        try:
            await self.telegram.catch_up()
        except TelegramError as exc:  # the stream reports a lost connection; the safety net tries again
            log.info("could not ask for missed updates (%s): %s", why, exc)
            return
        log.debug("asked for missed updates (%s)", why)

    async def keep_up(self) -> float:
        """The safety net: asks when nothing was heard for `every_s`; returns the seconds until it is next due."""
        every = self.every_s
        if every <= 0:
            return float("inf")
        if (self.clock.now() - self.last_heard).total_seconds() >= every:
            await self.ask(f"nothing heard for {every:g} s")
        return max(0.0, every - (self.clock.now() - self.last_heard).total_seconds())
