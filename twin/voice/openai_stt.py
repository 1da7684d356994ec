"""Speech-to-text with OpenAI's transcription API (or any server that speaks it)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from twin.errors import ConfigError, ProviderError

if TYPE_CHECKING:
    from openai import AsyncOpenAI

EXTENSIONS = {
    "audio/ogg": "ogg", "audio/opus": "ogg", "audio/mpeg": "mp3", "audio/mp3": "mp3", "audio/mp4": "m4a",
    "audio/m4a": "m4a", "audio/x-m4a": "m4a", "video/mp4": "mp4", "audio/wav": "wav", "audio/x-wav": "wav",
    "audio/webm": "webm", "video/webm": "webm", "audio/flac": "flac", "audio/x-flac": "flac",
}
KEY_PATTERN = re.compile(r"\b(sk-[A-Za-z0-9_\-*]{4,})")


def filename_for(mime: str) -> str:
    """A file name whose extension tells the API the audio's format ("voice.ogg" by default)."""
    return f"voice.{EXTENSIONS.get(mime.split(';')[0].strip().lower(), 'ogg')}"


def redact(text: str, secret: str) -> str:
    """The text with the key (and anything shaped like an OpenAI key) replaced by ***."""
    if secret:
        text = text.replace(secret, "***")
    return KEY_PATTERN.sub("***", text)


class OpenAISTT:
    """Transcription through the openai SDK: whisper-1 by default, any transcription model by setting."""

    provider = "openai"

    def __init__(self, api_key: str, model: str = "whisper-1", base_url: str = "",
                 timeout_s: float = 60) -> None:
        if not api_key and not base_url:
            raise ConfigError("OpenAI transcription needs a key: set OPENAI_API_KEY or [stt] api_key")
        self.model = model or "whisper-1"
        self._key = api_key
        self._base_url = base_url
        self._timeout_s = timeout_s
        self._client: AsyncOpenAI | None = None  # the SDK (about 40 MB) loads with the first voice note

    def __repr__(self) -> str:
        return f"OpenAISTT(model={self.model!r}, base_url={self._base_url!r})"

    def _get_client(self) -> AsyncOpenAI:
        if self._client is None:
            from openai import AsyncOpenAI

            self._client = AsyncOpenAI(api_key=self._key or "unused", base_url=self._base_url or None, max_retries=0,
                                       timeout=self._timeout_s)
        return self._client

    async def transcribe(self, audio: bytes, *, mime: str, language: str | None = None) -> str:
        """The words spoken in the audio ("" when nothing was heard)."""
        client = self._get_client()
        import openai

        extra: dict[str, Any] = {"language": language} if language else {}
        try:
            result = await client.audio.transcriptions.create(
                model=self.model, file=(filename_for(mime), audio, mime or "audio/ogg"), **extra
            )
        except openai.APIStatusError as exc:
            status = exc.status_code
            raise ProviderError(
                redact(f"openai transcription: HTTP {status}: {_message(exc)}", self._key),
                retryable=status in (408, 409, 429) or status >= 500, status=status,
            ) from None
        except openai.APIConnectionError as exc:
            raise ProviderError(redact(f"openai transcription: {exc}", self._key), retryable=True) from None
        except openai.OpenAIError as exc:
            raise ProviderError(redact(f"openai transcription: {exc}", self._key)) from None
        return (getattr(result, "text", "") or "").strip()


def _message(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])[:300]
    return str(getattr(exc, "message", "") or exc)[:300]
