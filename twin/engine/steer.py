"""Steering: modes (auto | review | off) and pauses, per chat and for the whole account.

Both live in the chats table (ChatRow.mode, ChatRow.paused_until). The row with chat_id 0
(GLOBAL_CHAT) holds the account-wide values: its mode overrides settings.service.mode and its
paused_until pauses every chat. A chat's own mode wins over the global one; a chat is paused
while either its own or the global pause lasts. Resuming a chat also ends an owner-takeover pause.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from twin.config import Settings

if TYPE_CHECKING:
    from twin.db.store import Store

GLOBAL_CHAT = 0
MODES = ("auto", "review", "off")
INHERIT = "inherit"  # clears an override: a chat follows the global mode, the global mode follows settings
FOREVER = datetime(9999, 1, 1, tzinfo=UTC)  # paused until resumed


def set_mode(store: Store, account: str, chat_id: int | None, mode: str) -> None:
    """Set the mode of one chat or (chat_id None) of the whole account; 'inherit' clears it."""
    if mode not in (*MODES, INHERIT):
        raise ValueError(f"unknown mode '{mode}'")
    store.save_chat(account, GLOBAL_CHAT if chat_id is None else chat_id, mode=None if mode == INHERIT else mode)


def effective_mode(store: Store, settings: Settings, account: str, chat_id: int) -> str:
    """The mode that applies to a chat now: its own, else the account's override, else service.mode."""
    own = store.chat(account, chat_id)
    if own is not None and own.mode:
        return own.mode
    overall = store.chat(account, GLOBAL_CHAT)
    return overall.mode if overall is not None and overall.mode else settings.service.mode


LOCAL_HOLD = ("the bundled local model drafts for twin review on a real account "
              "(set llm.local_autosend = true to let it send by itself)")


def held_for_review(settings: Settings, provider: str) -> str:
    """Why a model's replies wait for `twin review` whatever the mode, or "" when they may go out.

    The small local model writes too poorly to speak for the owner unattended: on a real account
    (telegram.backend = telethon) its drafts wait for review unless llm.local_autosend opts in. The
    sandbox demo is not a real account and keeps answering by itself.
    """
    if provider == "local" and settings.telegram.backend == "telethon" and not settings.llm.local_autosend:
        return LOCAL_HOLD
    return ""


def pause(store: Store, account: str, chat_id: int | None, until: datetime | None,
          reason: str = "paused by the owner") -> datetime:
    """Pause one chat or (chat_id None) every chat until `until` (None: until resumed); returns the end."""
    end = until or FOREVER
    key = GLOBAL_CHAT if chat_id is None else chat_id
    store.save_chat(account, key, paused_until=end)
    store.merge_chat_extra(account, key, pause_reason=reason)
    return end


def resume(store: Store, account: str, chat_id: int | None, now: datetime) -> bool:
    """End the pause of one chat or (chat_id None) the account-wide pause; False when none was in effect."""
    key = GLOBAL_CHAT if chat_id is None else chat_id
    state = store.chat(account, key)
    if state is None or state.paused_until is None:
        return False
    store.save_chat(account, key, paused_until=None)
    store.merge_chat_extra(account, key, pause_reason="")
    return state.paused_until > now


def paused_until(store: Store, account: str, chat_id: int, now: datetime) -> datetime | None:
    """When the pause on this chat (its own or the account's) ends, or None when it is not paused."""
    ends = [s.paused_until for s in (store.chat(account, chat_id), store.chat(account, GLOBAL_CHAT))
            if s is not None and s.paused_until is not None and s.paused_until > now]
    return max(ends) if ends else None


def describe_until(until: datetime, now: datetime) -> str:
    """'until resumed', or how long is left ('for 1 h 30 min')."""
    if until >= FOREVER:
        return "until resumed"
    left = int((until - now).total_seconds())
    if left <= 0:
        return "ended"
    hours, minutes = divmod((left + 59) // 60, 60)
    days, hours = divmod(hours, 24)
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{minutes} min" if minutes else ""]
    return "for " + " ".join(p for p in parts if p)
