"""The persona file: who the owner is, how they write, what the twin may share."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twin.errors import ConfigError

DEFAULT_PERSONA = '''# Your twin's persona. Edit freely; `twin chat` tries it without touching Telegram.
name = "Sam"
about = "A software developer. Friendly, busy, answers from the phone between tasks."
language = "en"            # the language to answer in unless the contact writes in another
style = "Short, casual messages. Lowercase is fine. No long paragraphs, rarely emoji."
rules = [
  "Never agree to pay, lend, meet, sign or promise anything: say you will check and get back.",
  "Never invent plans, places or facts about yourself that are not listed below.",
]

[facts]
# Things the twin may tell anyone who asks.
shareable = ["I work as a developer.", "I am usually busy during the day."]
# Things the twin knows but must never reveal.
private = []
'''

KNOWN_KEYS = {"name", "about", "language", "style", "rules", "facts", "disclose_ai", "profile", "chats"}


@dataclass(frozen=True)
class Persona:
    """The owner as the twin presents them."""

    name: str
    about: str = ""
    language: str = ""
    style: str = ""
    rules: tuple[str, ...] = ()
    shareable: tuple[str, ...] = ()
    private: tuple[str, ...] = ()
    profile: dict[str, Any] = field(default_factory=dict)  # learned style figures (twin persona learn)
    chats: dict[str, Any] = field(default_factory=dict)  # per-chat notes and assignments


def _strings(value: Any, key: str, path: Path) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"persona key '{key}' in {path} must be a list of strings")
    return tuple(value)


def named_persona_path(default: Path, name: str) -> Path:
    """Where a named persona lives: persona.work.toml beside the default persona.toml."""
    if not name.replace("-", "").replace("_", "").isalnum():
        raise ConfigError(f"persona name '{name}' may only use letters, digits, '-' and '_'")
    return default.with_name(f"{default.stem}.{name}{default.suffix}")


def load_persona(path: Path, *, create: bool = True) -> Persona:
    """Read a persona file; a missing default file gets the embedded default written first."""
    if not path.exists() and not create:
        raise ConfigError(f"persona file {path} does not exist (copy {path.with_name('persona.toml').name} to start)")
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(DEFAULT_PERSONA, encoding="utf-8")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"persona file {path} is not valid TOML: {exc}") from None
    unknown = set(raw) - KNOWN_KEYS
    if unknown:
        raise ConfigError(f"unknown persona key '{sorted(unknown)[0]}' in {path}")
    for key in ("name", "about", "language", "style"):
        if key in raw and not isinstance(raw[key], str):
            raise ConfigError(f"persona key '{key}' in {path} must be a string")
    if not str(raw.get("name", "")).strip():
        raise ConfigError(f"persona file {path} needs a name")
    facts = raw.get("facts", {})
    if not isinstance(facts, dict):
        raise ConfigError(f"persona key 'facts' in {path} must be a table")
    for key in facts:
        if key not in ("shareable", "private"):
            raise ConfigError(f"unknown persona key 'facts.{key}' in {path}")
    return Persona(
        name=raw["name"].strip(),
        about=raw.get("about", ""),
        language=raw.get("language", ""),
        style=raw.get("style", ""),
        rules=_strings(raw.get("rules", []), "rules", path),
        shareable=_strings(facts.get("shareable", []), "facts.shareable", path),
        private=_strings(facts.get("private", []), "facts.private", path),
        profile=dict(raw.get("profile", {})),
        chats=dict(raw.get("chats", {})),
    )
