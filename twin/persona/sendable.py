"""Would a person send this? A check every reply passes before it goes out, whatever the model wrote.

unsendable() returns the reason a reply must not be sent, or None. It looks at the form only
(the guard judges what a reply says): markup and prompt tags, an echo of the contact's own words,
a script other than the chat's (a Russian chat gets Cyrillic), repetition, emptiness and
gibberish. Pure: the responder decides what a failure means (one regeneration, then the owner).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from twin.persona import lexicon as lx
from twin.persona.features import detect_language

# <email>, </contact_message>, <b>, <example id="1">, <br/>; never "<3" or "a < b".
TAG = re.compile(r"</?[A-Za-z_][\w:.-]*(?:\s+[\w:.-]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s>]+))?)*\s*/?>")
PROMPT_TOKENS = re.compile(r"<\|[^|>]{1,40}\|>|\[/?INST\]|<<SYS>>|\{\{[^{}]{1,60}\}\}")
PLACEHOLDER = re.compile(r"\[(?:your|insert|name|contact|recipient|date|time|имя|ваше|вставьте)\b[^\]]{0,40}\]",
                         re.IGNORECASE)
HEADING = re.compile(r"(?m)^\s{0,3}#{1,6}\s+\S.*")
FENCE = re.compile(r"```|~~~")
BOLD = re.compile(r"\*\*[^*\n]+\*\*|__[^_\n]+__")
ROLE = re.compile(r"(?im)^\s*(?:assistant|user|system|human|ai|bot|model|ассистент|пользователь|система|бот)\s*:")
# A chatbot talking, not a person: the twin never calls itself an AI on its own (the guard discloses).
ASSISTANT = re.compile(
    r"\b(?:as an? (?:ai|a\.i\.|language model|chatbot|assistant|virtual assistant)|i'?m (?:just )?(?:an? )?"
    r"(?:ai|chatbot|language model|virtual assistant|ai assistant)\b|i'?m (?:your|an?) (?:ai |virtual |helpful )?"
    r"assistant|i'?m here to (?:help|assist)|i'?m ready to (?:help|assist)|how (?:can|may) i assist|"
    r"how may i help|"
    r"как (?:ии|языковая модель|искусственный интеллект|ассистент)|я (?:ваш |твой )?(?:ии-?|виртуальный )?"
    r"(?:ассистент|помощник|чат-?бот|языковая модель))",
    re.IGNORECASE)
# A help desk's openers and closers. A friend says "how can I help? want me to bring food?", "can I help
# with the move?", "hope that helps", "обращайся", "чем помочь?"; a help desk says "How can I help you?",
# "Is there anything else I can help you with?", "I hope this helps!", "Чем могу помочь?", "Обращайтесь".
SERVICE = re.compile("|".join((
    r"\bhow (?:can|could) i help you(?: today)?\s*(?:[?.!]|$)",
    r"\bwhat can i (?:help|assist) you with\b", r"\bwhat can i do for you today\b",
    r"\b(?:is there )?anything else (?:that )?i can (?:help|assist|do for you)\b",
    r"\b(?:let me know|feel free to (?:ask|let me know)) if you (?:have|need) (?:any )?(?:other |more |further |"
    r"additional )?(?:questions|help|assistance)\b",
    r"\bif you have any (?:other |more |further |additional )?questions\b",
    r"\bfeel free to (?:ask|reach out|contact)\b", r"\bdon'?t hesitate to (?:ask|reach out|contact)\b",
    r"\bi hope (?:this|that) (?:helps|was helpful|information)\b", r"\bhope this (?:information )?(?:is|was) helpful\b",
    r"(?<!\w)чем (?:ещё |еще )?(?:я )?могу (?:вам |тебе )?(?:ещё |еще )?помочь",
    r"(?<!\w)могу ли я(?:\s+(?:ещё|еще|вам|тебе|чем-?(?:то|нибудь)))*\s+помочь",
    r"(?<!\w)(?:если (?:у вас|у тебя) (?:есть|будут|возникнут) (?:ещё |еще |другие |какие-?(?:то|либо) )*вопросы)",
    r"(?<!\w)обращайтесь(?!\w)", r"(?<!\w)не стесняйтесь (?:спрашивать|обращаться|задавать)",
    r"(?<!\w)я здесь,? чтобы помочь", r"(?<!\w)надеюсь,? (?:эта информация|это было полезно|это поможет вам)",
)), re.IGNORECASE)
# "How can I help?" as the whole answer to a bare greeting: a help desk, not a friend (after "my car broke
# down" it is a friend offering help).
BARE_OFFER = re.compile(r"^(?:(?:hi|hey|hello|привет|здравствуй\w*)(?: there)?[\s,!.]*)?"
                        r"(?:how can i help|чем (?:могу )?помочь)\s*[?.!]*$", re.IGNORECASE)
GREETING = re.compile(r"^\W*(?:hi|hey|hello|yo|good (?:morning|evening)|привет\w*|здравствуй\w*|хай|"
                      r"добрый (?:день|вечер)|доброе утро)(?:\s+\w+)?\W*$", re.IGNORECASE)
URL = re.compile(r"(?:https?://|www\.)\S+|\b[\w.-]+@[\w-]+\.[\w.]+\b")
SENTENCE = re.compile(r"[^.!?…\n]+")
CYRILLIC = ("\u0400", "\u04ff")

ECHO_SHARE = 0.8  # a reply this much made of one run of the contact's words is an echo
ECHO_MIN_RUN = 3
QUOTE_RUN = 6  # ... or a reply that repeats a message of 6+ words almost whole
QUOTE_SHARE = 0.8
MIN_LETTERS_FOR_SCRIPT = 8  # "ok" or "👍" in a Russian chat is fine; a sentence in English is not
MIN_LETTER_RATIO = 0.5  # letters, digits and emoji among the visible characters, URLs aside
MIN_LETTERS_TO_TELL = 3  # an incoming "ok" or "ок" says nothing about the chat's language
LAUGH = frozenset({"ha", "he", "hi", "ah", "ха", "хе", "хи", "ах", "lol", "лол"})
MIXED_WORD = re.compile(r"(?=\w*[a-zA-Z]\w*[a-zA-Z])(?=\w*[а-яёА-ЯЁ]\w*[а-яёА-ЯЁ])\w{4,}")


def unsendable(reply: str, *, incoming: str = "", previous: str = "", languages: Sequence[str] = (),
               owner: str = "") -> str | None:
    """Why no person would send `reply` in answer to `incoming`, or None when it may go out.

    previous: the last reply sent in this chat (the same text again is a loop). languages: what
    the chat is written in when known (learned from the owner's own messages there); otherwise the
    language of the incoming message decides. owner: the name the twin speaks as (it does not greet
    itself).
    """
    for check in (_empty, _markup, _gibberish):
        why = check(reply)
        if why:
            return why
    return (_voice(reply, owner, incoming) or _echo(reply, incoming) or _language(reply, incoming, languages)
            or _repetition(reply, previous))


def _empty(reply: str) -> str | None:
    if not reply.strip():
        return "empty"
    if not any(c.isalnum() for c in reply) and not lx.EMOJI.search(reply):
        return "only punctuation"
    return None


def _markup(reply: str) -> str | None:
    for name, pattern in (("a prompt token", PROMPT_TOKENS), ("a markup or template tag", TAG),
                          ("a template placeholder", PLACEHOLDER), ("a role prefix", ROLE),
                          ("a markdown heading", HEADING), ("a code fence", FENCE), ("markdown bold", BOLD)):
        match = pattern.search(reply)
        if match:
            return f"{name} ('{match.group(0).strip()[:30]}')"
    return None


def _gibberish(reply: str) -> str | None:
    if "\ufffd" in reply or any(ord(c) < 32 and c not in "\n\t" for c in reply):
        return "gibberish (broken characters)"
    visible = "".join(URL.sub("", reply).split())
    if len(visible) < 10:
        return None
    emoji = sum(len(e) for e in lx.EMOJI.findall(visible))
    letters = sum(1 for c in visible if c.isalnum())
    ratio = (letters + emoji) / len(visible)
    if ratio < MIN_LETTER_RATIO:
        return f"gibberish (only {ratio:.0%} letters)"
    mixed = MIXED_WORD.search(reply)
    if mixed:
        return f"gibberish (a word in two alphabets: '{mixed.group(0)[:20]}')"
    return None


def _voice(reply: str, owner: str, incoming: str = "") -> str | None:
    """A chatbot's voice, or the twin greeting its own owner as if they were the contact."""
    match = ASSISTANT.search(reply) or SERVICE.search(reply)
    if match:
        return f"talks like a chatbot ('{match.group(0).strip()}')"
    if BARE_OFFER.match(reply.strip()) and GREETING.match(incoming.strip()):
        return f"talks like a chatbot ('{reply.strip()}' in answer to a greeting)"
    first = owner.split()[0] if owner.split() else ""
    if first and re.search(rf"(?i)\b(?:hi|hey|hello|dear|привет|здравствуй\w*)[\s,!]+(?:there[\s,]+)?"
                           rf"{re.escape(first)}\b", reply):
        return f"greets {first}, the person it speaks as"
    return None


def _longest_run(a: Sequence[str], b: Sequence[str]) -> int:
    """The longest run of words that a and b share in the same order."""
    best = 0
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0] * (len(b) + 1)
        for j, y in enumerate(b, 1):
            if x == y:
                current[j] = previous[j - 1] + 1
                best = max(best, current[j])
        previous = current
    return best


def shares_run(reply: str, other: str, words: int = 5) -> bool:
    """Whether a reply repeats `words` or more words of another text in a row (an instruction parroted)."""
    return _longest_run(lx.words(reply), lx.words(other)) >= words


def _echo(reply: str, incoming: str) -> str | None:
    said, heard = lx.words(reply), lx.words(incoming)
    if not said or not heard:
        return None
    run = _longest_run(said, heard)
    if run >= ECHO_MIN_RUN and run / len(said) >= ECHO_SHARE:
        return f"echoes the contact's message ({run} of its {len(said)} words)"
    if run >= QUOTE_RUN and run / len(heard) >= QUOTE_SHARE:
        return f"repeats the contact's message ({run} of their {len(heard)} words)"
    return None


def script_of(text: str) -> str:
    """cyrillic | latin | other, by the letters most of the text is written in ("" without letters)."""
    counts = {"cyrillic": 0, "latin": 0, "other": 0}
    for c in text:
        if c.isalpha():
            if CYRILLIC[0] <= c <= CYRILLIC[1]:
                counts["cyrillic"] += 1
            elif c.isascii() or "\u00c0" <= c <= "\u024f":
                counts["latin"] += 1
            else:
                counts["other"] += 1
    best = max(counts, key=lambda k: counts[k])
    return best if counts[best] else ""


def _script_of_language(language: str) -> str:
    if not language:
        return ""
    return "cyrillic" if language in ("ru", "uk", "be", "bg", "sr", "kk") else "latin"


def _language(reply: str, incoming: str, languages: Sequence[str]) -> str | None:
    letters = sum(1 for c in URL.sub("", reply) if c.isalpha())
    if letters < MIN_LETTERS_FOR_SCRIPT:
        return None
    told = sum(1 for c in incoming if c.isalpha()) >= MIN_LETTERS_TO_TELL
    heard = detect_language(incoming) if told else ""
    expected = {_script_of_language(lang) for lang in (*languages, heard)} - {""}
    got = script_of(URL.sub("", reply))
    if not expected or got in expected:
        return None
    language = heard or next(iter(languages), "")
    return f"not in the chat's language ({got} script in answer to {language or 'the chat'})"


def _loop(said: Sequence[str]) -> str:
    """A phrase said over and over in a row ("ok ok ok ok ok ok", "i am fine i am fine i am fine"), or ""."""
    for size in range(1, 6):
        times = 6 if size == 1 else 3
        for start in range(len(said) - size * times + 1):
            phrase = said[start:start + size]
            if set(phrase) <= LAUGH:
                continue  # "ha ha ha ha ha ha" is a person laughing
            if all(said[start + k * size:start + (k + 1) * size] == phrase for k in range(1, times)):
                return " ".join(phrase)
    return ""


def _norm(text: str) -> str:
    return " ".join(lx.words(text))


def _repetition(reply: str, previous: str) -> str | None:
    said = lx.words(reply)
    if previous and len(said) >= 3 and _norm(reply) == _norm(previous):
        return "the same reply as the last one in this chat"
    seen: set[str] = set()
    for sentence in SENTENCE.findall(reply):
        key = _norm(sentence)
        if len(key.split()) >= 3 and key in seen:
            return f"repeats itself ('{sentence.strip()[:30]}')"
        seen.add(key)
    loop = _loop(said)
    if loop:
        return f"repeats itself ('{loop}' again and again)"
    if len(said) >= 16 and len(set(said)) / len(said) < 0.35:
        return "repeats itself (few different words)"
    return None
