"""Settings resolved once: CLI overrides > TWIN_* environment > twin.toml > defaults."""

from __future__ import annotations

import json
import os
import re
import tomllib
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from twin.errors import ConfigError
from twin.sections import (
    FallbackModel,
    HoursSettings,
    LLMSettings,
    MediaSettings,
    PersonaSettings,
    RulesSettings,
    Secret,
    ServiceSettings,
    STTSettings,
    TelegramSettings,
    TimingSettings,
    TTSSettings,
    parse_fallback,
)

# The sections are part of the settings API: `from twin.config import HoursSettings` keeps working.
__all__ = [
    "SECTIONS", "HoursSettings", "LLMSettings", "MediaSettings", "PersonaSettings", "RulesSettings", "STTSettings",
    "Secret",
    "ServiceSettings", "Settings", "TTSSettings", "TelegramSettings", "TimingSettings", "load",
]

SECTIONS: dict[str, type] = {
    "telegram": TelegramSettings,
    "llm": LLMSettings,
    "persona": PersonaSettings,
    "timing": TimingSettings,
    "hours": HoursSettings,
    "rules": RulesSettings,
    "stt": STTSettings,
    "tts": TTSSettings,
    "media": MediaSettings,
    "service": ServiceSettings,
}

CHOICES: dict[str, tuple[str, ...]] = {
    "telegram.backend": ("telethon", "sandbox"),
    "llm.provider": ("auto", "gemini", "openai", "local"),
    "persona.disclose_ai": ("when_asked", "always", "never"),
    "persona.react_to_acks": ("usually", "sometimes", "never", "ask"),
    "hours.outside": ("defer", "away", "ignore"),
    "stt.provider": ("auto", "openai", "local", "off"),
    "tts.when": ("never", "mirror", "always"),
    "tts.provider": ("elevenlabs", "local"),
    "service.mode": ("auto", "review", "off"),
    "media.vision": ("auto", "on", "off"),
}

# Environment names the issue fixes as a contract, beside the generic TWIN_<SECTION>_<KEY>.
ENV_ALIASES: dict[str, str] = {
    "TWIN_API_ID": "telegram.api_id",
    "TWIN_API_HASH": "telegram.api_hash",
}
ACCOUNT_RE = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


@dataclass(frozen=True)
class Settings:
    """Every setting of one account, resolved once and passed down."""

    home: Path
    account: str
    database_url: str
    telegram: TelegramSettings
    llm: LLMSettings
    persona: PersonaSettings
    timing: TimingSettings
    hours: HoursSettings
    rules: RulesSettings
    stt: STTSettings
    tts: TTSSettings
    service: ServiceSettings
    gemini_api_key: Secret = Secret("")
    openai_api_key: Secret = Secret("")
    elevenlabs_api_key: Secret = Secret("")
    media: MediaSettings = MediaSettings()  # last, with a default: code that builds Settings by hand keeps working

    @property
    def sessions_dir(self) -> Path:
        return self.home / "sessions"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def session_path(self) -> Path:
        """The account's session file (the sandbox keeps its own, so switching never clobbers one)."""
        suffix = ".sandbox.json" if self.telegram.backend == "sandbox" else ".session"
        return self.sessions_dir / f"{self.account}{suffix}"

    @property
    def persona_path(self) -> Path:
        path = Path(self.persona.file)
        return path if path.is_absolute() else self.home / path

    def with_overrides(self, overrides: Mapping[str, Any]) -> Settings:
        """A copy with dotted keys ("llm.provider") replaced, validated like the file."""
        sections = {name: getattr(self, name) for name in SECTIONS}
        for dotted, value in overrides.items():
            section, key = _split(dotted, dotted)
            sections[section] = replace(sections[section], **{key: _coerce(dotted, section, key, value)})
        return replace(self, **sections)


def _split(dotted: str, origin: str) -> tuple[str, str]:
    section, _, key = dotted.partition(".")
    if section not in SECTIONS:
        raise ConfigError(f"unknown setting section '{section}' in {origin}")
    names = {f.name for f in fields(SECTIONS[section])}
    if key not in names:
        raise ConfigError(f"unknown setting '{section}.{key}' in {origin}")
    return section, key


def _field_type(section: str, key: str) -> Any:
    hints = typing.get_type_hints(SECTIONS[section])
    return hints[key]


def _coerce(origin: str, section: str, key: str, value: Any) -> Any:
    """Check a value against the field's type; strings from the environment are parsed."""
    name = f"{section}.{key}"
    field_type = _field_type(section, key)
    if field_type == tuple[FallbackModel, ...]:
        try:
            parsed = _parse_list(value) if isinstance(value, str) else value
        except ValueError:
            raise ConfigError(f"setting '{name}' (from {origin}) must be a list of model tables") from None
        return parse_fallback(parsed, name, "" if origin == name else f" in {origin}")
    kind = _KINDS[_kind_key(field_type)]
    origin_note = "" if origin == name else f" (from {origin})"
    bad = ConfigError(f"setting '{name}'{origin_note} must be {kind.name}, got {type(value).__name__}")
    if isinstance(value, str) and kind.parse is not None:
        try:
            value = kind.parse(value)
        except ValueError:
            raise bad from None
    checked = kind.check(value)
    if checked is _MISFIT:
        raise bad
    allowed = CHOICES.get(name)
    if allowed and checked not in allowed:
        raise ConfigError(f"setting '{name}'{origin_note} must be one of {', '.join(allowed)}; got '{checked}'")
    return checked


_MISFIT = object()  # what a kind's check returns for a value of the wrong type


@dataclass(frozen=True)
class _Kind:
    """One type a setting can have: its name in messages, its check, and how an environment string is parsed."""

    name: str
    check: Callable[[Any], Any]  # the value as stored, or _MISFIT
    parse: Callable[[str], Any] | None = None  # None: strings are taken as they are; ValueError: unparseable


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _string_lists(value: Any) -> bool:
    return isinstance(value, dict) and all(
        isinstance(v, list) and all(isinstance(s, str) for s in v) for v in value.values())


def _parse_bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError(raw)


def _parse_json(raw: str) -> Any:
    stripped = raw.strip()
    if not stripped.startswith(("[", "{")):
        raise ValueError(raw)
    return json.loads(stripped)  # JSONDecodeError is a ValueError


def _parse_list(raw: str) -> Any:
    if raw.strip().startswith(("[", "{")):
        return _parse_json(raw)
    return [part.strip() for part in raw.split(",") if part.strip()]


_KINDS: dict[Any, _Kind] = {
    Secret: _Kind("a string", lambda v: v if isinstance(v, Secret) else Secret(v) if isinstance(v, str) else _MISFIT),
    bool: _Kind("true or false", lambda v: v if isinstance(v, bool) else _MISFIT, _parse_bool),
    int: _Kind("an integer", lambda v: v if isinstance(v, int) and not isinstance(v, bool) else _MISFIT, int),
    float: _Kind("a number", lambda v: float(v) if _is_number(v) else _MISFIT, float),
    str: _Kind("a string", lambda v: v if isinstance(v, str) else _MISFIT),
    list: _Kind("a list of strings", lambda v: [str(x) for x in v]
                if isinstance(v, list) and all(isinstance(x, str | int) for x in v) else _MISFIT, _parse_list),
    dict: _Kind("a table of string lists", lambda v: {str(k): list(x) for k, x in v.items()}
                if _string_lists(v) else _MISFIT, _parse_json),
}


def _kind_key(kind: Any) -> Any:
    """list[str] -> list, dict[str, list[str]] -> dict, a plain type -> itself."""
    return typing.get_origin(kind) or kind


def _env_overrides(env: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """TWIN_<SECTION>_<KEY> (and the contract aliases) -> {dotted: (value, variable)}."""
    found: dict[str, tuple[str, str]] = {}
    for var, value in env.items():
        if var in ENV_ALIASES:
            found[ENV_ALIASES[var]] = (value, var)
            continue
        if not var.startswith("TWIN_"):
            continue
        section, _, key = var[5:].lower().partition("_")
        if section in SECTIONS:
            found[f"{section}.{key}"] = (value, var)
    return found


def load(
    home: Path | None = None,
    account: str = "default",
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve settings for one account from twin.toml, the environment and overrides."""
    env = os.environ if env is None else env
    home = (home or Path(env.get("TWIN_HOME") or Path.cwd())).expanduser().resolve()
    if not ACCOUNT_RE.match(account):
        raise ConfigError(f"account name '{account}' may only use letters, digits, '-' and '_'")
    config_file = home / "twin.toml"
    raw: dict[str, Any] = {}
    if config_file.exists():
        try:
            raw = tomllib.loads(config_file.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{config_file} is not valid TOML: {exc}") from None
    values: dict[str, dict[str, Any]] = {name: {} for name in SECTIONS}
    for section, table in raw.items():
        if section not in SECTIONS:
            raise ConfigError(f"unknown setting section '[{section}]' in {config_file.name}")
        if not isinstance(table, dict):
            raise ConfigError(f"'{section}' in {config_file.name} must be a table")
        for key, value in table.items():
            _split(f"{section}.{key}", config_file.name)
            values[section][key] = _coerce(config_file.name, section, key, value)
    for dotted, (value, var) in _env_overrides(env).items():
        section, key = _split(dotted, var)
        values[section][key] = _coerce(var, section, key, value)
    for dotted, value in (overrides or {}).items():
        section, key = _split(dotted, "the command line")
        values[section][key] = _coerce(dotted, section, key, value)
    built = {name: cls(**values[name]) for name, cls in SECTIONS.items()}
    default_db = f"sqlite:///{home / 'data' / 'twin.db'}"
    return Settings(
        home=home,
        account=account,
        database_url=env.get("TWIN_DATABASE_URL") or default_db,
        gemini_api_key=Secret(env.get("GEMINI_API_KEY", "")),
        openai_api_key=Secret(env.get("OPENAI_API_KEY", "")),
        elevenlabs_api_key=Secret(env.get("ELEVENLABS_API_KEY", "")),
        **built,
    )


