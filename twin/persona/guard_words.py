"""The guard's patterns, English and Russian, matched on lowercased text with ё folded to е."""

from __future__ import annotations

import re


def _any(*patterns: str) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p) for p in patterns)


# What a contact writes to get a commitment out of the twin, per topic.
INPUT_TOPICS: dict[str, tuple[re.Pattern[str], ...]] = {
    "money": _any(
        r"\b(?:lend|loan|borrow|owe|spot me|chip in|venmo|paypal|zelle|wire me|transfer)\b",
        r"\bpay (?:me|for|back|you|it|the)\b",
        r"\bsend (?:me )?(?:some )?(?:money|cash|the money|\$?\d+)",
        r"[$€£₽]\s?\d|\b\d+(?:[.,]\d+)?\s?(?:usd|eur|gbp|bucks|dollars|euros|quid|k)\b",
        r"\b(?:одолж\w*|займ\w*|занять|занял\w*|в долг|долг\w*|заплат\w*|оплат\w*|перевед\w*|перевести|"
        r"скин\w* (?:мне )?(?:\d+|денег|деньги|бабки|на карту)|деньг\w*|денег|бабк\w*|до зарплаты|на карту)",
        r"\b\d+\s?(?:руб\w*|р\b|₽|тыс\w*|к\b)",
    ),
    "meeting": _any(
        r"\b(?:meet(?:ing|up)?|catch up|come over|hang out|pick (?:me|you) up|are we still on|still on for)\b",
        r"\bsee you (?:at|on|tomorrow|tonight|there|then)\b",
        r"\bgrab (?:a )?(?:coffee|lunch|dinner|drinks?|beer)\b",
        r"\b(?:lunch|dinner|coffee|drinks) (?:tomorrow|today|tonight|at|on)\b",
        r"\b(?:tomorrow|tonight|today|monday|tuesday|wednesday|thursday|friday|saturday|sunday) at \d",
        r"\bat \d{1,2}(?::\d\d)?\s*(?:am|pm)?\b.*\b(?:yes|right|ok|okay|confirm\w*)\b",
        r"\bare you free\b|\bwhere are you\b|\bwhat are you doing (?:tonight|tomorrow|later|on)\b",
        r"\b(?:are|will) you (?:coming|come|joining|join|be (?:there|at|around|home))\b|\bcan you make it\b",
        r"\b(?:you|u) coming\b|\bwill you be\b.*\b(?:tonight|tomorrow|weekend|party|there)\b",
        r"\b(?:встреч\w*|встрет\w*|увидимся|увидеться|пересеч\w*|приходи\w*|придешь|придете|приедешь|"
        r"приедете|заедешь|заберешь|заберете|зайдешь|погуляем|ты свободен\w*|вы свободны|ты где|"
        r"какие планы)\b",
        r"\b(?:завтра|сегодня|вечером|утром) в \d|\bв \d{1,2}(?::\d\d)?\b.*\b(?:да|ок|ok|идет|в силе)\b",
    ),
    "signing": _any(
        r"\b(?:sign(?:ed|ing)?|signature|contract|agreement|docusign|nda|paperwork|power of attorney)\b",
        r"\b(?:подпиш\w*|подписа\w*|подпись|договор(?!ил)\w*|контракт\w*|соглашени\w*|доверенност\w*)",
    ),
    "promise": _any(
        r"\b(?:promise|swear|guarantee|can i count on you|count on you|you'?ll be there|will you be there|"
        r"is it a deal|deal\?)",
        r"\b(?:обещаешь|обещаете|пообещай\w*|обещай|клянись|поклянись|гарантируешь|гарантируете|"
        r"договорились\?|можно на тебя рассчитывать|можно на вас рассчитывать|"
        r"точно (?:придешь|придете|сделаешь|сделаете|будешь|будете))",
    ),
}

# What a reply says when it agrees to something on a topic.
OUTPUT_TOPICS: dict[str, tuple[re.Pattern[str], ...]] = {
    "money": _any(
        r"\b(?:lend|loan|send you|pay you|pay for|pay it|transfer|wire|venmo|paypal|money|cash)\b",
        r"[$€£₽]\s?\d|\b\d+(?:[.,]\d+)?\s?(?:usd|eur|gbp|bucks|dollars|euros|quid)\b",
        r"\b(?:одолжу|займу|переведу|скину|заплачу|оплачу|верну|деньги|денег)\b|\b\d+\s?(?:руб\w*|₽)",
    ),
    "meeting": _any(
        r"\b(?:see you (?:at|on|tomorrow|tonight|there|then)|let'?s meet|meet you|i'?ll be there|"
        r"i'?ll come|i'?ll pick you up|at \d{1,2}(?::\d\d)?\s*(?:am|pm)?)\b",
        r"\b(?:i'?ll|i will|i'?m going to|i'?m gonna) (?:be at|be there|be coming|come to|join|make it|go to)\b",
        r"\b(?:count me in|i'?m in|i'?m coming|wouldn'?t miss it)\b",
        r"\b(?:встретимся|увидимся|приду|приеду|заеду|заберу|буду в \d|в \d{1,2}(?::\d\d)?)\b",
    ),
    "signing": _any(r"\b(?:i'?ll sign|i will sign|signed|sign it)\b", r"\b(?:подпишу|подписал\w*)\b"),
    "promise": _any(r"\b(?:i promise|i swear|i guarantee)\b", r"\b(?:обещаю|клянусь|гарантирую)\b"),
}

AGREEMENT = re.compile(
    r"\b(?:yes|yeah|yep|sure|ok|okay|of course|deal|no problem|absolutely|definitely|i'?ll|i will|i can|"
    r"i'?m in|count me in|i promise|sounds good|see you|"
    r"да|ага|конечно|окей|ок|хорошо|договорились|без проблем|обещаю|давай|буду|приду|приеду|сделаю|подпишу|"
    r"переведу|одолжу|займу|скину|заплачу|верну|встретимся|увидимся)\b"
)
DEFERRING = re.compile(
    r"\b(?:check|get back|not sure|can'?t|cannot|won'?t|let me see|let me think|no way|"
    r"уточню|проверю|посмотрю|вернусь|не могу|не знаю|не уверен\w*|подумаю|не получится)\b"
)

# A question to the twin itself about being a bot or an AI (English, Russian, Ukrainian).
_EN_BOT = (r"(?:bot|robot|ai|a\.i\.|chat ?bot|chatgpt|gpt|machine|program|auto-?responder|auto-?reply|assistant|"
           r"language model|llm)")
_RU_BOT = (r"(?:бот|робот|ии|нейросеть|нейронка|chatgpt|чатгпт|гпт|gpt|программа|автоответчик|ассистент|чат-?бот|"
           r"искусственный интеллект)")
_RU_BOT_INSTR = r"(?:ботом|роботом|ии|нейросетью|нейронкой|машиной|программой|автоответчиком|чат-?ботом)"
_RU_SOFT = r"(?:(?:что|что ли|правда|реально|вообще|случайно|точно|ведь|же|часом|не|а|сейчас|тут|здесь),? )*"
_RU_REAL = r"(?:живой|живая|настоящий|настоящая|реальный|реальная)"
_RU_ASKED = r"(?=\s*(?:\?|$|или\b|что ли\b)|[^.!\n]*\?)"  # ends the message, or a question mark follows
_RU_END = r"(?=\s*(?:\?|$|,|или\b|что ли\b|вообще\b))"  # "ты человек?" but not "ты человек слова?"
_RU_VERB = r"(?:отвечает|пишет|отвечают|пишут|сидит|стоит|включен\w*|работает)"
_RU_WHERE = r"(?:(?:за тебя|за вас|тут|здесь|мне|сейчас|вместо тебя|вместо вас) )*"
BOT_QUESTION = _any(
    rf"\b(?:are|r|aren'?t) (?:you|u) (?:not |a |an |the |just |really |actually |even )*(?:real )?(?:{_EN_BOT}|"
    r"human|real person|person)\b",
    rf"\b(?:you'?re|you are|ur) (?:not |just |really |actually )*(?:a |an )(?:real )?{_EN_BOT}\b(?=[^.!\n]*\?)",
    r"\b(?:is|am) (?:this|it|i) (?:really |actually |even )?(?:(?:talking|chatting|speaking|texting|writing) )?"
    rf"(?:to |with )?(?:a |an |the )?(?:{_EN_BOT}|real person|human)\b",
    rf"\bis (?:a |an |the )?{_EN_BOT} (?:answering|replying|writing|responding|texting)\b",
    r"\bis this (?:really|actually) you\b|\bam i talking to (?:you|a person|a human)\b",
    r"\bwho am i (?:talking|chatting|speaking|texting) (?:to|with)\b",
    rf"^\W*(?:a |an )?(?:{_EN_BOT}|бот|робот|ии|нейросеть)\s*\?+\W*$",
    rf"\b(?:ты|вы) {_RU_SOFT}{_RU_BOT}\b",
    rf"\b(?:ты|вы) {_RU_SOFT}(?:{_RU_REAL} )?человек{_RU_END}",
    rf"\b(?:ты|вы) {_RU_SOFT}{_RU_REAL}{_RU_END}",
    rf"\bэто {_RU_SOFT}(?:ты|вы) (?:\w+ )?(?:или )?(?:бот|робот|ии|нейросеть)\b",
    rf"\bэто {_RU_SOFT}{_RU_BOT}\b{_RU_ASKED}",
    rf"\b{_RU_VERB} {_RU_WHERE}{_RU_BOT}\b{_RU_ASKED}",
    rf"\b{_RU_BOT} {_RU_WHERE}{_RU_VERB}\b{_RU_ASKED}",
    rf"\b(?:говорю|общаюсь|переписываюсь|разговариваю|пишу) (?:сейчас )?(?:с|со) (?:{_RU_BOT_INSTR}|"
    r"(?:живым )?человеком)\b",
    rf"\b(?:с|со) {_RU_BOT_INSTR} (?:я )?(?:говорю|общаюсь|переписываюсь|разговариваю)\b",
    rf"\b{_RU_REAL} человек (?:\w+ )?(?:пишет|отвечает|говорит)\b{_RU_ASKED}",
    r"\bс кем я (?:сейчас )?(?:говорю|общаюсь|переписываюсь|разговариваю)\b",
    rf"\bэто (?:правда|реально|действительно|точно|вообще) (?:ты|вы)\b(?: (?:пишешь|отвечаешь|пишете|отвечаете))?"
    rf"{_RU_END}",
    r"\b(?:ти|ви) (?:(?:що|справді|насправді|часом|не),? )*(?:бот|робот|ші|штучний інтелект|нейромережа|"
    r"автовідповідач|жива людина|справжня людина|живий|справжній|людина)\b",
    r"\bце (?:бот|робот|ші|автовідповідач)\b",
)

# Things that look like credentials, whatever the persona says.
KEY_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("private key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
    ("OpenAI-style key", re.compile(r"\bsk-[A-Za-z0-9_-]{16,}")),
    ("Google API key", re.compile(r"\bAIza[0-9A-Za-z_-]{30,}")),
    ("GitHub token", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}")),
    ("Slack token", re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}")),
    ("Telegram bot token", re.compile(r"\b\d{8,10}:[A-Za-z0-9_-]{35}\b")),
    ("JWT", re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.")),
    ("hex secret", re.compile(r"\b[0-9a-fA-F]{32,}\b")),
    ("assignment", re.compile(r"(?i)\b(?:api[_-]?key|api[_-]?hash|secret|token|password)\s*[:=]\s*\S{6,}")),
    ("random token", re.compile(r"\b(?=[\w-]*\d)(?=[\w-]*[A-Z])(?=[\w-]*[a-z])[A-Za-z0-9_-]{32,}\b")),
)
