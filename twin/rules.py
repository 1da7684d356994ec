"""Who gets an answer: pure functions of (Incoming, settings, state, now)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from twin.config import RulesSettings
from twin.types import Decision, Incoming

TELEGRAM_SERVICE_ID = 777000
ANSWERABLE_KINDS = frozenset({"text"})


@dataclass(frozen=True)
class ChatContext:
    """What the rules know about the chat beyond the message itself."""

    me_id: int
    replied_to_us: bool = False  # the message replies to one of the twin's or the owner's messages
    voice_enabled: bool = False  # speech-to-text is configured


def _matches(entries: list[str], message: Incoming) -> bool:
    """An allow/deny entry is a user id, an @username or a chat id."""
    names = {str(message.sender_id), str(message.chat_id)}
    if message.sender_username:
        names.add("@" + message.sender_username.lower())
    return any(entry.strip().lower() in names for entry in entries)


def decide(message: Incoming, rules: RulesSettings, ctx: ChatContext, now: datetime) -> Decision:
    """Answer or skip, naming the rule; the first rule that says no wins."""
    if message.kind == "service":
        return Decision(False, "service message")
    if message.outgoing or message.sender_is_self or message.sender_id == ctx.me_id:
        return Decision(False, "written by the owner")
    if message.sender_id == TELEGRAM_SERVICE_ID:
        return Decision(False, "Telegram's service account")
    if message.chat_kind == "channel":
        return Decision(False, "channel post")
    if message.sender_is_bot:
        return Decision(False, "sender is a bot")
    if _matches(rules.deny, message):
        return Decision(False, "on the deny list (rules.deny)")
    allowed = _matches(rules.allow, message)
    if rules.allow and not allowed:
        return Decision(False, "not on the allow list (rules.allow)")
    if message.chat_kind == "group":
        if str(message.chat_id) not in rules.groups:
            return Decision(False, "group chat not enabled (rules.groups)")
        if not (message.mentioned or ctx.replied_to_us):
            return Decision(False, "group message that neither mentions nor replies to the owner")
    if rules.contacts_only and not message.sender_is_contact and not allowed:
        return Decision(False, "not a contact (rules.contacts_only)")
    heard = ctx.voice_enabled and message.kind in ("voice", "audio", "video_note")
    if message.kind not in ANSWERABLE_KINDS and not heard:
        return Decision(False, f"{message.kind.replace('_', ' ')} messages are not answered")
    if message.kind == "text" and not message.text.strip():
        return Decision(False, "no text")
    return Decision(True, "private message from a person", due_at=now)
