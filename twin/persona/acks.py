"""Acknowledgements and closings ("ok", "thanks!", "👍", "haha", "спасибо"): pure functions, no I/O.

A person does not answer "ok thanks 👍" with a message that restarts the conversation: they react
or stay quiet. `acknowledgement` recognises such a message cheaply (English and Russian), so the
twin decides without asking the model; `quote_target` picks the message a reply should quote.
`ack_replies`, `count_reactions` and `reaction_habit` read the owner's habit from their chats' history.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import NamedTuple

from twin.types import HistoryMessage

# Telegram's standard (free) reactions; "❤" is sent without the variation selector.
REACTIONS = frozenset(
    "👍 👎 ❤ 🔥 🥰 👏 😁 🤔 🤯 😱 🤬 😢 🎉 🤩 🤮 💩 🙏 👌 🕊 🤡 🥱 🥴 😍 🐳 ❤‍🔥 🌚 🌭 💯 🤣 ⚡ 🍌 🏆 💔 "
    "🤨 😐 🍓 🍾 💋 🖕 😈 😴 😭 🤓 👻 👨‍💻 👀 🎃 🙈 😇 😨 🤝 ✍ 🤗 🫡 🎅 🎄 ☃ 💅 🤪 🗿 🆒 💘 🙉 🦄 😘 💊 "
    "🙊 😎 👾 🤷‍♂ 🤷 🤷‍♀ 😡".split())
# Emoji that mean "seen / agreed / thanks / funny" when sent on their own, and the reaction that answers them.
ACK_EMOJI = {
    "👍": "👍", "👌": "👌", "🙏": "🙏", "❤": "❤", "♥": "❤", "😘": "❤", "🥰": "❤", "😊": "❤", "🤗": "❤",
    "😂": "🤣", "🤣": "🤣", "😄": "😁", "😁": "😁", "😆": "🤣", "😅": "😁", "🙂": "👍", "😉": "👍",
    "✅": "👍", "💯": "💯", "🔥": "🔥", "🤝": "🤝", "👏": "👏", "🫡": "🫡", "💪": "👍", "✌": "👍", "👋": "❤",
}
# Whole phrases, by kind (the kind picks the reaction). Multi-word phrases are matched first.
PHRASES: dict[str, tuple[str, ...]] = {
    "thanks": ("thanks", "thank you", "thank u", "thx", "thnx", "ty", "tysm", "cheers", "much appreciated",
               "appreciate it", "спасибо", "спс", "спасиб", "спасибки", "пасиб", "пасибо", "благодарю",
               "мерси", "сенкс", "thanks again", "np", "no problem", "no worries", "you're welcome",
               "youre welcome", "пожалуйста", "не за что"),
    "laugh": ("lol", "lmao", "rofl", "kek", "кек", "лол", "ору", "хд", "xd"),
    "bye": ("bye", "bye bye", "see you", "see ya", "cya", "later", "talk later", "good night", "gn", "night",
            "nighty night", "take care", "have a good one", "пока", "пока пока", "до встречи", "до завтра",
            "до связи", "you too", "same to you", "тебе тоже", "и тебе", "взаимно", "спокойной ночи", "споки",
            "споки ноки", "доброй ночи", "увидимся", "созвонимся"),
    "ok": ("ok", "okay", "okey", "okie", "oki", "k", "kk", "alright", "all right", "sure", "cool", "great", "nice",
           "good", "perfect", "fine", "got it", "gotcha", "noted", "understood", "will do", "sounds good",
           "makes sense", "yep", "yes", "yeah", "yup", "ya", "right", "awesome", "amazing", "excellent",
           "wonderful", "fair enough", "same", "agreed", "deal", "done", "ok then", "ок", "окей", "оке", "окс",
           "хорошо", "ладно", "лады", "понял", "поняла", "понятно", "ясно", "принято", "договорились", "супер",
           "класс", "отлично", "круто", "норм", "нормально", "да", "ага", "угу", "ну да", "ну ок", "давай",
           "конечно", "точно", "верно", "согласен", "согласна", "всё", "все", "идёт", "идет", "бывает", "ок ок"),
}
# Words that may surround an acknowledgement without changing what it is.
FILLERS = frozenset("a lot so much very you all and then too again oh ah well ok so really man dude bro "
                    "большое огромное тебе вам и тогда тоже ещё еще раз ну ой а о же".split())
_LAUGH = re.compile(r"^(?:(?=[hae]*h)(?=[hae]*[ae])[hae]{3,}|ha|ah"  # haha, hehe, ahah
                    r"|(?=[хаеи]*х)(?=[хаеи]*[аеи])[хаеи]{3,}|ха|ах|lo+l|ло+л)$")  # хаха, ахах, хихи
_REPEAT = re.compile(r"(.)\1{2,}")  # "okkk", "thanksss", "спасибооо"
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?", re.UNICODE)
MAX_ACK_CHARS = 60
MAX_ACK_WORDS = 7
REACTION_FOR = {"thanks": "❤", "laugh": "🤣", "bye": "❤", "ok": "👍"}
_PHRASES = sorted(((p.replace("ё", "е").split(), kind) for kind, ps in PHRASES.items() for p in ps),
                  key=lambda item: -len(item[0]))


def _emoji_chars(text: str) -> list[str]:
    """The emoji of a text, variation selectors and skin tones dropped."""
    found = []
    for ch in text:
        if ch in "\ufe0f\u200d" or 0x1F3FB <= ord(ch) <= 0x1F3FF:
            continue
        if unicodedata.category(ch) == "So" or ch in ACK_EMOJI:
            found.append(ch)
    return found


def _words(text: str) -> list[str]:
    return [_REPEAT.sub(r"\1", w) for w in _WORD.findall(text.lower().replace("ё", "е"))]


def _cover(words: Sequence[str]) -> list[str] | None:
    """The phrase kinds that cover every word (fillers aside), or None when some word is not an acknowledgement."""
    kinds: list[str] = []
    i = 0
    while i < len(words):
        for parts, kind in _PHRASES:
            if words[i:i + len(parts)] == parts:
                kinds.append(kind)
                i += len(parts)
                break
        else:
            if _LAUGH.match(words[i]):
                kinds.append("laugh")
            elif words[i] not in FILLERS:
                return None
            i += 1
    return kinds


def acknowledgement(text: str) -> str | None:
    """The reaction that fits a pure acknowledgement or closing, or None when the text asks or says more."""
    stripped = text.strip()
    if not stripped or "?" in stripped or len(stripped) > MAX_ACK_CHARS:
        return None
    words = _words(stripped)
    if len(words) > MAX_ACK_WORDS:
        return None
    emoji = _emoji_chars(stripped)
    if any(e not in ACK_EMOJI for e in emoji):
        return None
    if re.sub(r"[\W_]+", "", _WORD.sub("", stripped)):
        return None  # digits outside words: a time, a number, a code — something to answer
    kinds = _cover(words)
    if kinds is None or (not kinds and not emoji):
        return None
    if emoji:
        return ACK_EMOJI[emoji[-1]]  # "ok thanks 👍" gets the 👍 it ends with
    for kind in ("laugh", "thanks", "bye", "ok"):
        if kind in kinds:
            return REACTION_FOR[kind]
    return "👍"


def pure_acknowledgements(texts: Sequence[str]) -> str | None:
    """The reaction for a burst whose every message is an acknowledgement (the last one's), else None."""
    found = [acknowledgement(t) for t in texts if t.strip()]
    if not found or any(f is None for f in found):
        return None
    return found[-1]


def valid_reaction(emoji: str) -> str | None:
    """A model's emoji as Telegram accepts it (variation selector dropped), or None when it is not one."""
    cleaned = emoji.strip().replace("\ufe0f", "")
    if cleaned in REACTIONS:
        return cleaned
    mapped = ACK_EMOJI.get(cleaned)
    return mapped if mapped in REACTIONS else None


def _filler(text: str) -> bool:
    """A message that adds nothing to answer: an acknowledgement, a nudge ("??", "hello?"), emoji only."""
    stripped = text.strip()
    if not stripped or acknowledgement(stripped) is not None:
        return True
    words = _words(stripped)
    nudges = {"hello", "hey", "hi", "yo", "ау", "алло", "эй", "привет", "ну", "so", "and", "а", "и"}
    return len(words) <= 1 and (not words or words[0] in nudges) and len(stripped) <= 12


def quote_target(messages: Sequence[tuple[int, str]], later: bool) -> int | None:
    """The message a reply should quote, or None for a plain reply.

    messages: the turn's messages (id, text) oldest first; later: other messages came after them.
    A burst whose substance is not its last message ("how was it?", "??") quotes the substantive one;
    a reply that comes after newer messages quotes what it answers.
    """
    if not messages:
        return None
    substantive = [mid for mid, text in messages if not _filler(text)]
    answered = substantive[-1] if substantive else messages[-1][0]
    if answered != messages[-1][0] or later:
        return answered
    return None


class AckCount(NamedTuple):
    """How the owner met the contact's acknowledgements in a run of bursts."""

    seen: int
    answered: int  # with a message of their own
    reacted: int  # with a reaction on one of the burst's messages
    upto: int  # the id of the last burst counted


def ack_replies(runs: Sequence[Sequence[HistoryMessage]], window: timedelta, after_id: int = 0) -> AckCount:
    """How the owner met the contact's acknowledgements: seen, answered with text, reacted to, last burst counted.

    runs: a chat's same-side bursts, oldest first. Only bursts that start after after_id and are
    followed by another burst count (the last one may still be answered). A burst's words are what
    counts (a photo's caption, not its "[photo]" line).
    """
    seen = answered = reacted = 0
    upto = after_id
    for said, nxt in zip(runs, runs[1:], strict=False):
        first = said[0].message_id
        if said[0].outgoing or first <= after_id or pure_acknowledgements([m.words for m in said]) is None:
            continue
        seen += 1
        answered += int(nxt[0].outgoing and nxt[0].date - said[-1].date <= window and any(m.words for m in nxt))
        reacted += int(any(m.reaction for m in said))
        upto = max(upto, first)
    return AckCount(seen, answered, reacted, upto)


def count_reactions(reactions: dict[str, int], messages: Sequence[HistoryMessage]) -> dict[str, int]:
    """Add the owner's reactions on the contact's messages: "messages" read, "reacted" to, and "emoji:<e>" counts."""
    counts = dict(reactions)
    for m in messages:
        if m.outgoing:
            continue
        counts["messages"] = counts.get("messages", 0) + 1
        if m.reaction:
            counts["reacted"] = counts.get("reacted", 0) + 1
            counts[f"emoji:{m.reaction}"] = counts.get(f"emoji:{m.reaction}", 0) + 1
    return counts


def reaction_habit(counts: Mapping[str, int]) -> dict[str, int]:
    """The owner's reactions on contacts' messages for the profile: messages read, reacted, the top five emoji."""
    emoji = sorted(((k.removeprefix("emoji:"), v) for k, v in counts.items() if k.startswith("emoji:")),
                   key=lambda kv: (-kv[1], kv[0]))[:5]
    found = {"messages": int(counts.get("messages", 0)), "reacted": int(counts.get("reacted", 0)), **dict(emoji)}
    return found if found["messages"] else {}
