"""Who gets an answer, and when: pure functions of (Incoming, settings, state, now)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from twin.config import Settings
from twin.engine.hours import Hours, in_quiet, is_open, next_open, quiet_end
from twin.engine.timing import plan
from twin.types import Decision, Incoming

TELEGRAM_SERVICE_ID = 777000
VOICE_KINDS = frozenset({"voice", "audio", "video_note"})
HEARD_ONLY = frozenset({"voice", "audio"})  # answered only when heard (speech-to-text)
UNANSWERED_KINDS = frozenset({"service", "other"})  # nothing to answer from (unless a caption says it)


@dataclass(frozen=True)
class ChatContext:
    """What the rules know about the chat and the account beyond the message itself."""

    me_id: int
    replied_to_us: bool = False  # the message replies to one of the owner's messages
    voice_enabled: bool = False  # speech-to-text is configured
    paused_until: datetime | None = None
    pause_reason: str = ""
    account_paused_until: datetime | None = None
    muted: bool = False
    archived: bool = False
    fast_streak: int = 0  # replies in a row that came faster than a person types
    turns_last_hour: int = 0
    turns_last_day: int = 0
    mode: str = "auto"  # auto | review | off, as steered for this chat (see mode_of)


def mode_of(chat_mode: str | None, account_mode: str | None, default: str) -> str:
    """A chat's own mode wins, then the account's (chat 0), then service.mode."""
    return chat_mode or account_mode or default


def _matches(entries: list[str], message: Incoming) -> bool:
    """An allow/deny entry is a user id, an @username, a phone number or a chat id."""
    names = {str(message.sender_id), str(message.chat_id)}
    if message.sender_username:
        names.add("@" + message.sender_username.lower())
    phone = "".join(ch for ch in message.sender_phone or "" if ch.isdigit())
    for entry in entries:
        cleaned = entry.strip().lower().replace(" ", "").replace("-", "")
        if cleaned in names or (phone and cleaned.lstrip("+") == phone and len(phone) >= 7):
            return True
    return False


def who(message: Incoming, settings: Settings, ctx: ChatContext, now: datetime) -> str | None:
    """The rule that says no to this sender or chat, or None."""
    rules = settings.rules
    if message.kind == "service":
        return "service message"
    if message.outgoing or message.sender_is_self or message.sender_id == ctx.me_id:
        return "written by the owner"
    if message.sender_id == TELEGRAM_SERVICE_ID:
        return "Telegram's service account"
    if message.chat_kind == "channel":
        return "channel post"
    if message.sender_is_bot:
        return "sender is a bot"
    if _matches(rules.deny, message):
        return "on the deny list (rules.deny)"
    allowed = _matches(rules.allow, message)
    if rules.allow and not allowed:
        return "not on the allow list (rules.allow)"
    if message.chat_kind == "group":
        if str(message.chat_id) not in rules.groups:
            return "group chat not enabled (rules.groups)"
        if not (message.mentioned or ctx.replied_to_us):
            return "group message that neither mentions nor replies to the owner"
    if rules.contacts_only and not message.sender_is_contact and not allowed:
        return "not a contact (rules.contacts_only)"
    if ctx.muted and rules.skip_muted and not allowed:
        return "muted chat (rules.skip_muted)"
    if ctx.archived and rules.skip_archived and not allowed:
        return "archived chat (rules.skip_archived)"
    return _kind_refusal(message, ctx)


def _kind_refusal(message: Incoming, ctx: ChatContext) -> str | None:
    """Photos, stickers, files, places... are answered from their description; voice only when heard."""
    if message.kind in HEARD_ONLY and not ctx.voice_enabled:
        return f"{message.kind} messages are not answered"
    if message.kind in UNANSWERED_KINDS and not message.text.strip():
        return f"{message.kind} messages are not answered"
    if message.kind == "text" and not message.text.strip():
        return "no text"
    return None


def opening(hours: Hours, now: datetime) -> datetime | None:
    """The next moment that is inside working hours and outside quiet hours."""
    moment: datetime | None = now
    for _ in range(8):
        if moment is None:
            return None
        if not is_open(hours, moment):
            moment = next_open(hours, moment)
        elif in_quiet(hours, moment):
            moment = quiet_end(hours, moment)
        else:
            return moment
    return moment


def decide(message: Incoming, settings: Settings, hours: Hours, ctx: ChatContext, now: datetime,
           seed: int) -> Decision:
    """Answer (when) or skip (which rule); the first rule that says no wins."""
    refused = who(message, settings, ctx, now)
    if refused:
        return Decision(False, refused)
    stale_after = timedelta(hours=settings.timing.stale_after_h)
    if now - message.date > stale_after:
        age = (now - message.date).total_seconds() / 3600
        return Decision(False, f"stale: arrived {age:.1f} h before the twin could answer", status="stale")
    if ctx.mode == "off":
        return Decision(False, "mode off: listening and recording only (twin mode)")
    if ctx.account_paused_until and ctx.account_paused_until > now:
        return Decision(False, f"twin paused until {ctx.account_paused_until.isoformat(timespec='minutes')}")
    if ctx.paused_until and ctx.paused_until > now:
        why = f" ({ctx.pause_reason})" if ctx.pause_reason else ""
        return Decision(False, f"chat paused until {ctx.paused_until.isoformat(timespec='minutes')}{why}")
    rules = settings.rules
    loop_pause = now + timedelta(hours=rules.loop_pause_h)
    if ctx.fast_streak >= rules.loop_streak:
        return Decision(False, f"loop guard: {ctx.fast_streak} replies in a row faster than "
                        f"{rules.loop_fast_s:g} s; chat paused", status="needs_owner", pause_until=loop_pause)
    if ctx.turns_last_hour >= rules.max_turns_per_hour:
        return Decision(False, f"loop guard: {ctx.turns_last_hour} replies in the last hour "
                        "(rules.max_turns_per_hour); chat paused", status="needs_owner", pause_until=loop_pause)
    if ctx.turns_last_day >= rules.max_turns_per_day:
        return Decision(False, f"loop guard: {ctx.turns_last_day} replies in the last day "
                        "(rules.max_turns_per_day); chat paused", status="needs_owner", pause_until=loop_pause)
    timing = plan(settings.timing, seed, len(message.text))
    closed = not is_open(hours, now)
    if not closed and not in_quiet(hours, now):
        return Decision(True, "private message from a person", due_at=now + timedelta(seconds=timing.notice_s))
    outside = settings.hours.outside
    # Quiet hours inside open hours are not closed hours: hours.outside does not apply, the reply waits.
    if closed and outside == "ignore":
        return Decision(False, "outside working hours (hours.outside = ignore)")
    if closed and outside == "away":
        return Decision(True, "outside working hours: away message", due_at=now, away=True)
    why = "outside working hours" if closed else "quiet hours (hours.quiet)"
    opens = opening(hours, now)
    if opens is None:
        return Decision(False, f"{why} and no opening in the next three weeks")
    spread = random.Random(seed ^ 0x5BD1E995).uniform(0, settings.timing.defer_spread_min * 60) * settings.timing.scale
    return Decision(True, f"{why}: deferred to {opens.isoformat(timespec='minutes')}",
                    due_at=opens + timedelta(seconds=spread + timing.notice_s), deferred=True)
