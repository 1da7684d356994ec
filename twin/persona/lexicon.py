"""Word lists and small text helpers shared by style, retrieval, guard and eval (English and Russian)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?")

# One emoji: a flag pair, or a pictograph with its variation selector, skin tone and ZWJ followers.
_PICTO = "\U0001f300-\U0001faff\u2600-\u27bf\u2b00-\u2bff\u2300-\u23ff\U0001f000-\U0001f2ff"
_EMOJI = (
    f"(?:[\U0001f1e6-\U0001f1ff]{{2}}|[{_PICTO}](?:\ufe0f|[\U0001f3fb-\U0001f3ff])*"
    f"(?:\u200d[{_PICTO}](?:\ufe0f|[\U0001f3fb-\U0001f3ff])*)*)"
)
EMOJI = re.compile(_EMOJI)
EMOJI_TAIL = re.compile(_EMOJI + r"[\ufe0f\s]*$")


def words(text: str) -> list[str]:
    """Lowercased word tokens (letters and digits; ё as е; inner apostrophes kept: i'll, don't)."""
    return [w.replace("’", "'") for w in _WORD.findall(text.lower().replace("ё", "е"))]


LATIN_STOPWORDS: dict[str, frozenset[str]] = {
    "en": frozenset("the a an and or but is are was were be been i you he she it we they me my your "
                    "to of in on at for with this that what how why when where do does did not no yes "
                    "can will would just so if ok okay it's i'm don't i'll you're have has".split()),
    "de": frozenset("und ich nicht das ist der die ein eine du wir sie mit auf auch es zu den dem".split()),
    "es": frozenset("que el los las por está es una un y de del con para pero como muy".split()),
    "fr": frozenset("je le les est pas vous et une un de des du avec pour mais tu nous ça".split()),
}
RU_STOPWORDS = frozenset(
    "и в во не что он на я с со как а то все она так его но да ты к у же вы за бы по только ее мне "
    "было вот от меня еще нет о из ему теперь когда даже ну ли если уже или ни быть был него до вас "
    "там потом себя ей может они есть надо ней для мы тебя их чем была сам чтобы без будто чего раз "
    "тоже себе под будет тогда кто этот того потому этого какой ним здесь этом один мой тем это".split()
)
STOPWORDS = LATIN_STOPWORDS["en"] | RU_STOPWORDS

LAUGHTER: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("haha", re.compile(r"\b(?:a?ha){2,}h?\b|\bhah(?:a)+\b")),
    ("hehe", re.compile(r"\b(?:he){2,}h?\b")),
    ("lol", re.compile(r"\blo+l+\b")),
    ("lmao", re.compile(r"\blmf?ao+\b")),
    ("ахах", re.compile(r"\b(?:ах){2,}а?\b")),
    ("хаха", re.compile(r"\b(?:ха){2,}х?\b")),
    ("хех", re.compile(r"\bхе(?:хе)*х\b")),
    ("лол", re.compile(r"\bлол\b")),
    ("ржу", re.compile(r"\bржу\b")),
    ("))", re.compile(r"\){2,}")),
)
FILLERS = ("um", "uh", "umm", "hmm", "kinda", "sorta", "basically", "actually", "anyway", "i mean",
           "you know", "короче", "типа", "как бы", "блин", "кстати", "слушай", "вообще", "в общем")
FILLERS_AT_START = ("well", "so", "ну", "вот")
GREETINGS = ("good morning", "good evening", "hi", "hey", "hello", "yo", "hiya", "morning",
             "доброе утро", "добрый день", "добрый вечер", "привет", "приветик", "прив", "здравствуй",
             "здравствуйте", "здорово", "хай", "салют")
SIGNOFFS = ("see you", "see ya", "good night", "take care", "talk soon", "до завтра", "до встречи",
            "спокойной ночи", "на связи", "bye", "cya", "later", "ttyl", "night", "cheers", "xoxo", "xx",
            "пока", "давай", "споки", "целую", "обнимаю", "удачи")
RU_FORMAL = frozenset("вы вас вам вами ваш ваша ваше ваши вашего вашей вашему ваших вашим вашими".split())
RU_INFORMAL = frozenset("ты тебя тебе тобой тобою твой твоя твое твои твоего твоей твоему твоих твоим".split())
EN_FORMAL = frozenset("dear sir madam mr mrs ms regards sincerely kindly appreciate apologies".split())
EN_INFORMAL = frozenset("hey lol gonna wanna gotta ya u dude bro mate haha yeah yep nope omg btw".split())


def _key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else json.dumps(name, ensure_ascii=False)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid TOML basic string
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def dump_toml(data: Mapping[str, Any], prefix: str = "") -> str:
    """A small TOML writer for plain data: scalars and lists first, then tables (nested by dotted headers)."""
    lines = [f"{_key(k)} = {_value(v)}" for k, v in data.items() if not isinstance(v, Mapping)]
    for key, value in data.items():
        if isinstance(value, Mapping):
            header = f"{prefix}.{_key(key)}" if prefix else _key(key)
            lines.append(f"\n[{header}]")
            body = dump_toml(value, header)
            if body:
                lines.append(body)
    return "\n".join(lines) + ("\n" if not prefix else "")
