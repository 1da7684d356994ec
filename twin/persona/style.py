"""The owner's writing style, measured from their own messages: pure functions, no I/O but the TOML file."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twin.persona import lexicon as lx
from twin.persona.features import address_of, detect_language, emoji_of, ending_of, laughter_of


@dataclass(frozen=True, slots=True)
class Sample:
    """One owner message (parts=1) or one whole reply burst (parts = messages in it)."""

    chat_id: int
    text: str
    parts: int = 1


@dataclass(frozen=True, slots=True)
class Spread:
    """Median and quartiles of a measure."""

    median: float = 0.0
    p25: float = 0.0
    p75: float = 0.0


@dataclass(frozen=True, slots=True)
class ChatStyle:
    """How the owner writes in one chat."""

    chat_id: int
    title: str
    messages: int
    language: str  # "" when unknown
    address: str  # formal | informal | unknown
    reply_chars_median: float


@dataclass(frozen=True)
class StyleProfile:
    """Figures of the owner's style, every one computed deterministically from their messages."""

    messages: int = 0
    replies: int = 0
    languages: dict[str, float] = field(default_factory=dict)  # share of messages with letters
    reply_chars: Spread = Spread()  # characters per reply (a reply may be several messages)
    reply_messages: Spread = Spread()  # messages per reply
    message_chars: Spread = Spread()
    emoji_per_message: float = 0.0
    messages_with_emoji: float = 0.0
    favourite_emoji: list[str] = field(default_factory=list)
    starts_lowercase: float = 0.0  # of the messages that start with a letter
    endings: dict[str, float] = field(default_factory=dict)  # "." "!" "?" "…" ")" emoji none
    laughter_rate: float = 0.0
    laughter: dict[str, int] = field(default_factory=dict)
    fillers: dict[str, int] = field(default_factory=dict)
    greetings: dict[str, int] = field(default_factory=dict)
    signoffs: dict[str, int] = field(default_factory=dict)
    chats: tuple[ChatStyle, ...] = ()
    # The contact's acknowledgements ("ok", "thanks!"): "seen", "answered" by the owner with text,
    # "checked" (read with their reactions) and "reacted" to by the owner.
    acks: dict[str, int] = field(default_factory=dict)
    # The owner's reactions on contacts' messages: "messages" read, "reacted" to, then emoji -> count (top five).
    reactions: dict[str, int] = field(default_factory=dict)


def spread(values: Sequence[float]) -> Spread:
    """Median and quartiles (inclusive method), rounded to one decimal."""
    if not values:
        return Spread()
    if len(values) == 1:
        return Spread(float(values[0]), float(values[0]), float(values[0]))
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return Spread(round(q2, 1), round(q1, 1), round(q3, 1))


def _share(count: int, total: int) -> float:
    return round(count / total, 3) if total else 0.0


def _top(counter: Counter[str], n: int = 5) -> dict[str, int]:
    return dict(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:n])


def _phrase_counts(texts: Iterable[str], phrases: Sequence[str], *, at_end: bool) -> Counter[str]:
    counts: Counter[str] = Counter()
    for text in texts:
        words = lx.words(text)
        for phrase in phrases:
            size = len(phrase.split())
            piece = words[-size:] if at_end else words[:size]
            if " ".join(piece) == phrase:
                counts[phrase] += 1
                break
    return counts


def build_profile(
    messages: Sequence[Sample], replies: Sequence[Sample], titles: Mapping[int, str] | None = None
) -> StyleProfile:
    """The style profile of the owner's messages and reply bursts."""
    titles = titles or {}
    texts = [m.text for m in messages if m.text.strip()]
    langs = Counter(lang for lang in map(detect_language, texts) if lang)
    emoji = [emoji_of(t) for t in texts]
    lettered = [t.lstrip() for t in texts if t.lstrip()[:1].isalpha()]
    endings = Counter(ending_of(t) for t in texts)
    laughs = [laughter_of(t) for t in texts]
    fillers: Counter[str] = Counter()
    for text in texts:
        joined = " " + " ".join(lx.words(text)) + " "
        fillers.update(f for f in lx.FILLERS if f" {f} " in joined)
        fillers.update(f for f in lx.FILLERS_AT_START if joined.startswith(f" {f} "))
    return StyleProfile(
        messages=len(texts),
        replies=len(replies),
        languages={k: _share(v, sum(langs.values())) for k, v in sorted(langs.items(), key=lambda kv: -kv[1])},
        reply_chars=spread([len(r.text) - (r.parts - 1) for r in replies]),
        reply_messages=spread([r.parts for r in replies]),
        message_chars=spread([len(t) for t in texts]),
        emoji_per_message=_share(sum(map(len, emoji)), len(texts)),
        messages_with_emoji=_share(sum(1 for e in emoji if e), len(texts)),
        favourite_emoji=list(_top(Counter(e for found in emoji for e in found))),
        starts_lowercase=_share(sum(1 for t in lettered if t[0].islower()), len(lettered)),
        endings={k: _share(v, len(texts)) for k, v in _top(endings, 7).items()},
        laughter_rate=_share(sum(1 for found in laughs if found), len(texts)),
        laughter=_top(Counter(tok for found in laughs for tok in found)),
        fillers=_top(fillers),
        greetings=_top(_phrase_counts(texts, lx.GREETINGS, at_end=False)),
        signoffs=_top(_phrase_counts(texts, lx.SIGNOFFS, at_end=True)),
        chats=_chat_styles(messages, replies, titles),
    )


def _chat_styles(
    messages: Sequence[Sample], replies: Sequence[Sample], titles: Mapping[int, str]
) -> tuple[ChatStyle, ...]:
    by_chat: dict[int, list[str]] = {}
    for m in messages:
        if m.text.strip():
            by_chat.setdefault(m.chat_id, []).append(m.text)
    lengths: dict[int, list[float]] = {}
    for r in replies:
        lengths.setdefault(r.chat_id, []).append(len(r.text) - (r.parts - 1))
    styles = []
    for chat_id in sorted(by_chat):
        texts = by_chat[chat_id]
        langs = Counter(lang for lang in map(detect_language, texts) if lang)
        language = max(sorted(langs), key=lambda k: langs[k]) if langs else ""
        styles.append(ChatStyle(chat_id, titles.get(chat_id, ""), len(texts), language,
                                address_of(texts, language), spread(lengths.get(chat_id, [])).median))
    return tuple(styles)


def profile_dict(profile: StyleProfile) -> dict[str, Any]:
    """The profile as plain data, the shape of the TOML file and of the persona's [profile] table."""
    data: dict[str, Any] = {}
    for name in StyleProfile.__dataclass_fields__:
        value = getattr(profile, name)
        if isinstance(value, Spread):
            value = {"median": value.median, "p25": value.p25, "p75": value.p75}
        elif name == "chats":
            value = {str(c.chat_id): {"title": c.title, "messages": c.messages, "language": c.language,
                                      "address": c.address, "reply_chars_median": c.reply_chars_median}
                     for c in value}
        data[name] = value
    return data


def profile_path(persona_path: Path, profile_file: str = "") -> Path:
    """Where the learned profile lives: the setting, else <persona stem>.profile.toml beside it."""
    if profile_file:
        path = Path(profile_file)
        return path if path.is_absolute() else persona_path.parent / path
    return persona_path.with_name(f"{persona_path.stem}.profile.toml")


def write_profile(path: Path, profile: StyleProfile, *, learned_at: str = "") -> None:
    """Write the profile as readable TOML (the owner's persona file is never touched)."""
    header = [
        f"# How you write, learned by `twin persona learn`{' on ' + learned_at if learned_at else ''}.",
        "# This file is rewritten on every learn. To pin or correct a figure, copy it into your",
        "# persona file's [profile] table: values there win over this file.",
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(header) + "\n" + lx.dump_toml(profile_dict(profile)), encoding="utf-8")


def load_profile(path: Path) -> dict[str, Any]:
    """The learned profile as plain data; {} when it has not been learned yet."""
    import tomllib

    if not path.exists():
        return {}
    return tomllib.loads(path.read_text(encoding="utf-8"))


def merged_profile(learned: Mapping[str, Any], pinned: Mapping[str, Any]) -> dict[str, Any]:
    """The learned profile with the persona file's [profile] values on top (one level deep)."""
    merged = dict(learned)
    for key, value in pinned.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def summary_path(profile: Path) -> Path:
    """Where `twin persona learn --summarize` keeps the model-written style summary (plain text, editable)."""
    return profile.with_suffix(".summary.txt")


def profile_for(persona_path: Path, pinned: Mapping[str, Any], profile_file: str = "") -> dict[str, Any]:
    """The profile the prompt uses: the learned file (and summary) beside the persona, its [profile] on top."""
    path = profile_path(persona_path, profile_file)
    learned = load_profile(path)
    summary = summary_path(path)
    if summary.exists() and summary.read_text(encoding="utf-8").strip():
        learned["summary"] = summary.read_text(encoding="utf-8").strip()
    return merged_profile(learned, pinned)


_LANG_NAMES = {"en": "English", "ru": "Russian", "uk": "Ukrainian", "de": "German", "es": "Spanish",
               "fr": "French"}


def summary_lines(profile: Mapping[str, Any], chat_id: int | None = None) -> list[str]:
    """The profile in short sentences for the prompt, most important first (trimmed from the end)."""
    lines: list[str] = []
    if isinstance(profile.get("summary"), str) and profile["summary"].strip():
        lines.append(f"How you write: {' '.join(str(profile['summary']).split())}")
    chat = profile.get("chats", {}).get(str(chat_id), {}) if chat_id is not None else {}
    if isinstance(chat, Mapping) and chat:
        slavic = chat.get("language") in ("ru", "uk")
        address = {"formal": "formal address (вы)" if slavic else "a formal tone",
                   "informal": "informal address (ты)" if slavic else "an informal tone"}
        bits = [f"you write {_LANG_NAMES.get(str(chat.get('language')), chat.get('language'))}"
                if chat.get("language") else "",
                address.get(str(chat.get("address")), ""),
                f"replies around {chat.get('reply_chars_median'):g} characters"
                if isinstance(chat.get("reply_chars_median"), int | float) and chat["reply_chars_median"] else ""]
        if any(bits):
            lines.append("In this chat " + ", ".join(b for b in bits if b) + ".")
    langs = profile.get("languages") or {}
    if isinstance(langs, Mapping) and langs:
        lines.append("Languages: " + ", ".join(f"{_LANG_NAMES.get(k, k)} {float(v):.0%}" for k, v in langs.items())
                     + ".")
    length, parts = profile.get("reply_chars") or {}, profile.get("reply_messages") or {}
    if isinstance(length, Mapping) and length.get("median"):
        line = (f"Reply length: typically {length['median']:g} characters "
                f"(most between {length.get('p25', 0):g} and {length.get('p75', 0):g})")
        if isinstance(parts, Mapping) and parts.get("median"):
            line += f", in {parts['median']:g} message(s) (up to {parts.get('p75', parts['median']):g})"
        lines.append(line + ".")
    if "starts_lowercase" in profile:
        ends = profile.get("endings") or {}
        top_end = next(iter(ends), "none") if isinstance(ends, Mapping) else "none"
        end_text = "no final punctuation" if top_end == "none" else f"'{top_end}'"
        lines.append(f"Casing: {float(profile['starts_lowercase']):.0%} of messages start lowercase; "
                     f"most often they end with {end_text}.")
    if profile.get("messages_with_emoji"):
        favourites = " ".join(profile.get("favourite_emoji") or [])
        lines.append(f"Emoji in {float(profile['messages_with_emoji']):.0%} of messages"
                     + (f"; favourites: {favourites}." if favourites else "."))
    for key, label in (("laughter", "Laughter"), ("fillers", "Fillers"), ("greetings", "Greetings"),
                       ("signoffs", "Sign-offs")):
        tokens = profile.get(key) or {}
        if isinstance(tokens, Mapping) and tokens:
            lines.append(f"{label}: " + ", ".join(str(t) for t in tokens) + ".")
    return lines
