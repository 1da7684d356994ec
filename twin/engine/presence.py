"""What the contact sees of the twin while a reply is under way, and the owner cutting in.

"typing…" and "recording voice…" are shown for as long as a person would need (not in quiet
hours), refreshed as Telegram expects; each refresh first checks whether the owner wrote in the
chat since the reply started (a takeover), which stops it.
"""

from __future__ import annotations

from datetime import datetime

from twin.clock import Clock
from twin.engine.hours import Hours, in_quiet
from twin.lru import LRU
from twin.session.base import Action, Telegram

TYPING_REFRESH_S = 5.0
TAKEOVER = "the owner wrote in this chat (takeover)"


class Presence:
    """Chat actions for a reply under way, and when the owner last wrote in each chat."""

    def __init__(self, telegram: Telegram, hours: Hours, clock: Clock, taken_over: LRU[int, datetime]) -> None:
        self.telegram = telegram
        self.hours = hours
        self.clock = clock
        self.taken_over = taken_over  # chat -> when the owner last wrote there (bounded; the database has the rest)

    def takeover(self, chat_id: int, when: datetime) -> None:
        """The owner wrote in the chat: any reply under way there stops at its next check."""
        self.taken_over[chat_id] = when

    def interrupted(self, chat_id: int, since: datetime) -> bool:
        """Whether the owner wrote in the chat after this reply started."""
        when = self.taken_over.get(chat_id)
        return when is not None and when >= since

    async def act(self, chat_id: int, seconds: float, action: Action, since: datetime) -> bool:
        """Show an action for `seconds` (refreshed); False when the owner took over meanwhile."""
        quiet = in_quiet(self.hours, self.clock.now())
        remaining = seconds
        while remaining > 0 and not self.interrupted(chat_id, since):
            if not quiet:
                await self.telegram.action(chat_id, action)
            step = min(TYPING_REFRESH_S, remaining)
            await self.clock.sleep(step)
            remaining -= step
        return not self.interrupted(chat_id, since)
