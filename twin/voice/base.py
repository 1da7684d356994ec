"""The speech seams."""

from __future__ import annotations

from typing import Protocol


class SpeechToText(Protocol):
    provider: str

    async def transcribe(self, audio: bytes, *, mime: str, language: str | None = None) -> str:
        """The words spoken in the audio ("" when nothing was heard)."""
        ...


class TextToSpeech(Protocol):
    provider: str

    async def synthesize(self, text: str) -> bytes:
        """Audio of the text in the owner's voice, in whatever format the provider gives."""
        ...
