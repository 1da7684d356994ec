"""What one message shows: its language, emoji, final punctuation, laughter and form of address.

Pure functions over text, shared by the style profile (twin.persona.style), the guard and eval's scoring.
"""

from __future__ import annotations

from collections.abc import Iterable

from twin.persona import lexicon as lx


def detect_language(text: str) -> str:
    """en, ru, uk, de, es, fr by script and stopwords; "" when the text has no letters."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return ""
    cyrillic = sum(1 for c in letters if "\u0400" <= c <= "\u04ff")
    if cyrillic * 2 >= len(letters):
        return "uk" if any(c in "іїєґІЇЄҐ" for c in letters) else "ru"
    words = lx.words(text)
    hits = {lang: sum(1 for w in words if w in stop) for lang, stop in lx.LATIN_STOPWORDS.items()}
    best = max(hits, key=lambda lang: (hits[lang], lang == "en"))
    return best if hits[best] > 0 else "en"


def emoji_of(text: str) -> list[str]:
    """The emoji in a text, a ZWJ sequence or flag counted as one."""
    return lx.EMOJI.findall(text)


def ending_of(text: str) -> str:
    """The class of a message's last character: . ! ? … ) emoji or none."""
    stripped = text.rstrip()
    if not stripped:
        return "none"
    if lx.EMOJI_TAIL.search(stripped):
        return "emoji"
    last = stripped[-1]
    if stripped.endswith("...") or last == "…":
        return "…"
    return last if last in ".!?)" else "none"


def laughter_of(text: str) -> list[str]:
    """Laughter tokens, normalised (hahaha -> haha, ахахах -> ахах, ))) -> )))."""
    low = text.lower()
    found: list[str] = []
    for canon, pattern in lx.LAUGHTER:
        found.extend(canon for _ in pattern.finditer(low))
    return found


def address_of(texts: Iterable[str], language: str) -> str:
    """formal | informal | unknown: ru by вы/ты forms, en by a few register markers."""
    formal = informal = 0
    for text in texts:
        words = lx.words(text)
        if language in ("ru", "uk"):
            formal += sum(1 for w in words if w in lx.RU_FORMAL)
            informal += sum(1 for w in words if w in lx.RU_INFORMAL)
        elif language == "en":
            formal += sum(1 for w in words if w in lx.EN_FORMAL)
            informal += sum(1 for w in words if w in lx.EN_INFORMAL)
    if formal == informal:
        return "unknown"
    return "formal" if formal > informal else "informal"
