"""Settings resolved once: CLI overrides > TWIN_* environment > twin.toml > defaults."""

from __future__ import annotations

import json
import os
import re
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from twin.errors import ConfigError
from twin.sections import (
    HoursSettings,
    LLMSettings,
    PersonaSettings,
    RulesSettings,
    Secret,
    ServiceSettings,
    STTSettings,
    TelegramSettings,
    TimingSettings,
    TTSSettings,
)

# The sections are part of the settings API: `from twin.config import HoursSettings` keeps working.
__all__ = [
    "SECTIONS", "HoursSettings", "LLMSettings", "PersonaSettings", "RulesSettings", "STTSettings", "Secret",
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
    "service": ServiceSettings,
}

CHOICES: dict[str, tuple[str, ...]] = {
    "telegram.backend": ("telethon", "sandbox"),
    "llm.provider": ("auto", "gemini", "openai", "local"),
    "persona.disclose_ai": ("when_asked", "always", "never"),
    "hours.outside": ("defer", "away", "ignore"),
    "stt.provider": ("auto", "openai", "local", "off"),
    "tts.when": ("never", "mirror", "always"),
    "tts.provider": ("elevenlabs", "local"),
    "service.mode": ("auto", "review", "off"),
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
    kind = _field_type(section, key)
    name = f"{section}.{key}"
    origin_note = "" if origin == name else f" (from {origin})"
    bad = ConfigError(f"setting '{name}'{origin_note} must be {_type_name(kind)}, got {type(value).__name__}")
    if kind is Secret:
        if isinstance(value, Secret):
            return value
        if not isinstance(value, str):
            raise bad
        return Secret(value)
    if isinstance(value, str) and kind is not str:
        value = _parse_env_value(value, kind, bad)
    if kind is bool:
        if not isinstance(value, bool):
            raise bad
    elif kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad
    elif kind is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise bad
        value = float(value)
    elif kind is str:
        if not isinstance(value, str):
            raise bad
        allowed = CHOICES.get(name)
        if allowed and value not in allowed:
            raise ConfigError(f"setting '{name}'{origin_note} must be one of {', '.join(allowed)}; got '{value}'")
    elif typing.get_origin(kind) is list:
        if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
            raise bad
        value = [str(v) for v in value]
    elif typing.get_origin(kind) is dict:
        if not isinstance(value, dict) or not all(
            isinstance(v, list) and all(isinstance(s, str) for s in v) for v in value.values()
        ):
            raise bad
        value = {str(k): list(v) for k, v in value.items()}
    return value


def _type_name(kind: Any) -> str:
    if typing.get_origin(kind) is list:
        return "a list of strings"
    if typing.get_origin(kind) is dict:
        return "a table of string lists"
    if kind is Secret:
        return "a string"
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string"}.get(kind, str(kind))


def _parse_env_value(raw: str, kind: Any, bad: ConfigError) -> Any:
    if kind is bool:
        lowered = raw.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        raise bad
    if kind is int:
        try:
            return int(raw)
        except ValueError:
            raise bad from None
    if kind is float:
        try:
            return float(raw)
        except ValueError:
            raise bad from None
    if typing.get_origin(kind) in (list, dict):
        stripped = raw.strip()
        if stripped.startswith(("[", "{")):
            try:
                return json.loads(stripped)
            except json.JSONDecodeError:
                raise bad from None
        if typing.get_origin(kind) is list:
            return [part.strip() for part in stripped.split(",") if part.strip()]
    raise bad


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


