"""What the twin must not do: commit for the owner, leak its instructions or secrets, deny being a bot.

Input: screen_incoming() answers a sincere "are you a bot?" with the disclosure (per disclose_ai),
and commitment bait (money, meetings and plans, signing, promises; English and Russian; topics
configurable) with a deferral in the owner's casing; the turn is then flagged needs_owner.
Output: check_output() blocks a reply that repeats the protected instructions (6-word runs), the
persona's private facts, or anything that looks like a key; a reply that agrees to a commitment
is replaced by the deferral and flagged needs_owner.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from twin.config import PersonaSettings
from twin.persona import lexicon as lx
from twin.persona.features import detect_language, laughter_of
from twin.persona.guard_words import (
    AGREEMENT,
    BOT_QUESTION,
    DEFERRING,
    INPUT_TOPICS,
    KEY_PATTERNS,
    OUTPUT_TOPICS,
)
from twin.persona.profile import Persona

NGRAM = 6  # a reply sharing a run of this many words with the protected instructions is blocked
DEFERRALS = {"en": "let me check and get back to you", "ru": "дай проверю и вернусь к тебе",
             "ru-formal": "давайте я уточню и вернусь к вам", "uk": "дай перевірю і повернуся до тебе"}
DISCLOSURES = {
    "en": "Hi! This is {owner}'s assistant answering for now; {owner} will read your message later.",
    "ru": "Привет! Сейчас за {owner} отвечает ассистент; {owner} прочитает сообщение позже.",
    "uk": "Привіт! Зараз за {owner} відповідає асистент; {owner} прочитає повідомлення пізніше.",
}


@dataclass(frozen=True)
class GuardPolicy:
    """Everything the guard needs, resolved once from the persona, its settings and profile."""

    owner: str
    disclose_ai: str = "when_asked"  # when_asked | always | never
    topics: tuple[str, ...] = ("money", "meeting", "signing", "promise")
    language: str = "en"  # when a message's language cannot be told
    deferral: str = ""  # the owner's own words; empty: DEFERRALS in the owner's casing
    disclosure: str = ""  # empty: DISCLOSURES
    lowercase: bool = False
    private: tuple[str, ...] = ()
    secrets: tuple[str, ...] = field(default=(), repr=False)  # actual values (API keys...), never shown


def policy_for(persona: Persona, settings: PersonaSettings, profile: Mapping[str, Any] | None = None,
               secrets: Sequence[str] = ()) -> GuardPolicy:
    """The guard policy of a persona; secrets are the real key values the reply must never contain."""
    profile = profile or {}
    return GuardPolicy(
        owner=persona.name, disclose_ai=settings.disclose_ai, topics=tuple(settings.guard_topics),
        language=persona.language or next(iter(profile.get("languages") or {}), "en"),
        deferral=settings.deferral, disclosure=settings.disclosure,
        lowercase=float(profile.get("starts_lowercase", 0.0)) >= 0.5, private=persona.private,
        secrets=tuple(s for s in secrets if len(s) >= 6),
    )


@dataclass(frozen=True, slots=True)
class Screen:
    """What to do with an incoming message before any model sees it."""

    action: Literal["answer", "defer", "disclose"]
    reply: str = ""  # the text to send for defer / disclose
    reason: str = ""
    prefix: str = ""  # disclose_ai=always: send this before the first reply in a chat


@dataclass(frozen=True, slots=True)
class Verdict:
    """What to do with a model's reply: send it, block it (nothing sent), or defer (send replacement)."""

    status: Literal["ok", "blocked", "needs_owner"]
    reason: str = ""
    replacement: str = ""  # needs_owner: the deferral to send instead


def _topic_patterns(topic: str, table: Mapping[str, tuple[re.Pattern[str], ...]]) -> tuple[re.Pattern[str], ...]:
    return table.get(topic) or (re.compile(r"\b" + re.escape(topic.lower())),)


def commitment_bait(text: str, topics: Sequence[str]) -> tuple[str, str] | None:
    """(topic, the words that matched) when a message asks the twin to commit; a custom topic is a word."""
    low = text.lower().replace("ё", "е")
    for topic in topics:
        for pattern in _topic_patterns(topic, INPUT_TOPICS):
            match = pattern.search(low)
            if match:
                return topic, match.group(0).strip()
    return None


def asks_if_bot(text: str) -> bool:
    """A question addressed to the twin about being a bot / an AI (not a laughing aside or a statement)."""
    low = text.lower().replace("ё", "е")
    if not any(p.search(low) for p in BOT_QUESTION):
        return False
    return "?" in low or not laughter_of(low)


def deferral_text(language: str, policy: GuardPolicy, *, address: str = "unknown") -> str:
    """The owner's way to say "let me check and get back to you", in the message's language."""
    if policy.deferral:
        return policy.deferral
    key = "ru-formal" if language == "ru" and address == "formal" else language
    text = DEFERRALS.get(key, DEFERRALS["en"])
    return text if policy.lowercase else text[:1].upper() + text[1:]


def disclosure_text(language: str, policy: GuardPolicy) -> str:
    """What the twin says when it discloses that the owner's assistant is answering."""
    template = policy.disclosure or DISCLOSURES.get(language, DISCLOSURES["en"])
    return template.replace("{owner}", policy.owner)


def screen_incoming(text: str, policy: GuardPolicy, *, first_reply: bool = False, address: str = "unknown") -> Screen:
    """Disclose, defer, or let the model answer an incoming message (first_reply: the chat's first)."""
    language = detect_language(text) or policy.language
    asked = asks_if_bot(text)
    if asked and policy.disclose_ai in ("when_asked", "always"):
        return Screen("disclose", disclosure_text(language, policy), "the contact asked whether this is a bot")
    bait = commitment_bait(text, policy.topics)
    if bait is not None:
        topic, words = bait
        return Screen("defer", deferral_text(language, policy, address=address),
                      f"needs the owner: asks for a commitment ({topic}: '{words}')")
    prefix = disclosure_text(language, policy) if policy.disclose_ai == "always" and first_reply else ""
    return Screen("answer", prefix=prefix)


def _ngrams(tokens: Sequence[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)}


def leaked_fact(reply: str, fact: str) -> bool:
    """Whether a reply gives away a private fact: its words in a row, its numbers, or two of its names."""
    reply_words, fact_words = lx.words(reply), lx.words(fact)
    if len(fact_words) >= 3 and " ".join(fact_words) in " ".join(reply_words):
        return True
    if _ngrams(fact_words, 4) & _ngrams(reply_words, 4):
        return True
    digits = set(re.findall(r"\d{3,}", reply.replace(" ", "")))
    if any(d in digits for d in re.findall(r"\d{3,}", fact.replace(" ", ""))):
        return True
    names = {w.lower() for w in re.findall(r"(?<=[\w,;] )[A-ZА-ЯЁ][\w-]{2,}", fact)}
    return len(names) >= 2 and len(names & set(reply_words)) >= 2


def leak_reason(reply: str, policy: GuardPolicy, *, protected: str = "", allowed: Sequence[str] = ()) -> str:
    """Why a reply must not be sent (it repeats instructions, private facts or secrets), or ""."""
    for secret in policy.secrets:
        if secret in reply:
            return "blocked: the reply contains a secret (an API key or token of this twin)"
    for name, pattern in KEY_PATTERNS:
        if pattern.search(reply):
            return f"blocked: the reply looks like it contains a key or token ({name})"
    for index, fact in enumerate(policy.private, 1):
        if leaked_fact(reply, fact):
            return f"blocked: the reply gives away private fact #{index} of the persona file"
    if protected:
        shared = _ngrams(lx.words(reply), NGRAM) & _ngrams(lx.words(protected), NGRAM)
        shared -= {g for text in allowed for g in _ngrams(lx.words(text), NGRAM)}
        if shared:
            return f"blocked: the reply repeats the system prompt ('{' '.join(sorted(shared)[0])}')"
    return ""


def commits(reply: str, topics: Sequence[str]) -> str | None:
    """The topic a reply agrees to (pay, meet, sign, promise...), or None when it does not commit."""
    low = reply.lower().replace("ё", "е")
    if not AGREEMENT.search(low) or DEFERRING.search(low):
        return None
    for topic in topics:
        if any(p.search(low) for p in _topic_patterns(topic, OUTPUT_TOPICS)):
            return topic
    return None


def check_output(reply: str, policy: GuardPolicy, *, incoming: str = "", protected: str = "",
                 allowed: Sequence[str] = (), address: str = "unknown") -> Verdict:
    """Judge a model's reply before sending: blocked (leak), needs_owner (commits), or ok."""
    reason = leak_reason(reply, policy, protected=protected, allowed=allowed)
    if reason:
        return Verdict("blocked", reason)
    topic = commits(reply, policy.topics)
    if topic is not None:
        language = detect_language(incoming) or detect_language(reply) or policy.language
        return Verdict("needs_owner", f"needs the owner: the reply agreed to a commitment ({topic})",
                       deferral_text(language, policy, address=address))
    return Verdict("ok")
