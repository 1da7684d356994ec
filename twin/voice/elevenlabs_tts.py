"""Text-to-speech with ElevenLabs: the owner's cloned voice, Ogg/Opus out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from twin.errors import ConfigError, ProviderError

if TYPE_CHECKING:
    from elevenlabs.client import AsyncElevenLabs


class ElevenLabsTTS:
    """Speech through the elevenlabs SDK; the bytes are whatever output_format asks for."""

    provider = "elevenlabs"

    def __init__(self, api_key: str, voice_id: str, model: str = "eleven_multilingual_v2", base_url: str = "",
                 output_format: str = "opus_48000_64", timeout_s: float = 60) -> None:
        if not voice_id:
            raise ConfigError("ElevenLabs needs the owner's voice: set [tts] voice_id (the cloned voice)")
        if not api_key:
            raise ConfigError("ElevenLabs needs a key: set ELEVENLABS_API_KEY or [tts] api_key")
        self.voice_id = voice_id
        self.model = model or "eleven_multilingual_v2"
        self.output_format = output_format
        self._key = api_key
        self._base_url = base_url
        self._timeout_s = timeout_s
        self._client: AsyncElevenLabs | None = None  # the SDK (about 40 MB) loads with the first voice reply

    def __repr__(self) -> str:
        return f"ElevenLabsTTS(voice_id={self.voice_id!r}, model={self.model!r}, base_url={self._base_url!r})"

    def _get_client(self) -> AsyncElevenLabs:
        if self._client is None:
            from elevenlabs.client import AsyncElevenLabs

            options: dict[str, Any] = {"base_url": self._base_url} if self._base_url else {}
            self._client = AsyncElevenLabs(api_key=self._key, timeout=self._timeout_s, **options)
        return self._client

    async def synthesize(self, text: str) -> bytes:
        """Audio of the text in the owner's voice (Ogg/Opus with the default output_format)."""
        client = self._get_client()
        import httpx
        from elevenlabs.core.api_error import ApiError

        chunks: list[bytes] = []
        try:
            stream = client.text_to_speech.convert(
                self.voice_id, text=text, model_id=self.model, output_format=self.output_format,
                request_options={"max_retries": 0},
            )
            async for chunk in stream:
                chunks.append(chunk)
        except ApiError as exc:
            status = exc.status_code
            retryable = status is not None and (status == 429 or status >= 500)
            message = f"elevenlabs: HTTP {status}: {_message(exc.body)}".replace(self._key, "***")
            raise ProviderError(message, retryable=retryable, status=status) from None
        except httpx.TimeoutException:
            raise ProviderError("elevenlabs: the request timed out", retryable=True) from None
        except httpx.TransportError as exc:
            message = f"elevenlabs: could not connect ({type(exc).__name__})"
            raise ProviderError(message, retryable=True) from None
        return b"".join(chunks)


def _message(body: object) -> str:
    """The readable part of an ElevenLabs error body ({"detail": {"message": ...}} or text)."""
    if isinstance(body, dict):
        detail = body.get("detail", body)
        if isinstance(detail, dict):
            return str(detail.get("message") or detail.get("status") or detail)[:300]
        return str(detail)[:300]
    return str(body)[:300]
