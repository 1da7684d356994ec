"""speech.hear / speak / wants_voice: every failure is a recorded reason, never an exception."""

from __future__ import annotations

import importlib.util

import pytest

from tests import voice_samples as s
from tests.fakes import FakeSTT, FakeTTS
from twin.config import STTSettings, TTSSettings
from twin.errors import ConfigError, ProviderError
from twin.types import Media
from twin.voice import audio
from twin.voice.speech import hear, mime_of, speak, too_big, wants_voice

VOICE = Media(kind="voice", mime="audio/ogg", size=0, duration_s=3)


class FailingSTT:
    provider = "broken"

    def __init__(self, error: Exception) -> None:
        self.error = error

    async def transcribe(self, audio: bytes, *, mime: str, language: str | None = None) -> str:
        raise self.error


class FailingTTS:
    provider = "broken"

    def __init__(self, error: Exception) -> None:
        self.error = error

    async def synthesize(self, text: str) -> bytes:
        raise self.error


class TestHear:
    async def test_a_clear_note_is_transcribed_with_the_hint(self):
        stt = FakeSTT("the quick brown fox")
        heard = await hear(stt, VOICE, s.speech_ogg(), STTSettings(language="fr"), "en")
        assert (heard.transcript, heard.reason, heard.provider) == ("the quick brown fox", "", "fake")
        assert heard.duration_s == pytest.approx(s.ffprobe(s.speech_ogg())["duration"], abs=0.1)
        assert heard.seconds_spent > 0
        assert stt.calls == [(len(s.speech_ogg()), "audio/ogg", "en")]

    async def test_settings_language_is_the_fallback_hint(self):
        stt = FakeSTT("hi")
        await hear(stt, VOICE, s.speech_ogg(), STTSettings(language="de"), None)
        await hear(stt, VOICE, s.speech_ogg(), STTSettings(), None)
        assert [call[2] for call in stt.calls] == ["de", None]

    async def test_an_mp3_sent_as_a_voice_note_goes_out_as_mp3(self):
        stt = FakeSTT("hi")
        heard = await hear(stt, VOICE, s.speech_mp3(), STTSettings(), None)
        assert heard.transcript == "hi"
        assert stt.calls[0][1] == "audio/mpeg"

    async def test_ten_minutes_is_too_long_even_when_telegram_says_nothing(self):
        stt = FakeSTT("never called")
        unknown = Media(kind="voice", mime="audio/ogg", duration_s=0)
        heard = await hear(stt, unknown, s.ten_minutes_ogg(), STTSettings(max_duration_s=300), None)
        assert heard.transcript is None
        assert heard.reason == "voice note too long (600 s > 300 s limit)"
        assert heard.duration_s == pytest.approx(600, abs=0.1)
        assert stt.calls == []

    async def test_telegrams_duration_is_checked_before_probing(self):
        stt = FakeSTT()
        long_note = Media(kind="voice", mime="audio/ogg", duration_s=601)
        heard = await hear(stt, long_note, b"not even read", STTSettings(max_duration_s=300), None)
        assert heard.reason == "voice note too long (601 s > 300 s limit)" and stt.calls == []

    async def test_size_limit(self):
        heard = await hear(FakeSTT(), VOICE, s.speech_ogg(), STTSettings(max_bytes=1000), None)
        assert heard.transcript is None
        assert heard.reason.startswith("voice note too long (") and "MB limit" in heard.reason

    @pytest.mark.parametrize("data", [s.corrupt(), s.EMPTY], ids=["corrupt", "empty"])
    async def test_unreadable_notes(self, data):
        stt = FakeSTT()
        heard = await hear(stt, VOICE, data, STTSettings(), None)
        assert heard.transcript is None
        assert heard.reason.startswith("could not read the voice note: ")
        assert "\n" not in heard.reason and stt.calls == []

    async def test_an_empty_transcript_is_nothing_heard(self):
        for transcript in ("", "   \n"):
            heard = await hear(FakeSTT(transcript), VOICE, s.silence_ogg(), STTSettings(), None)
            assert (heard.transcript, heard.reason) == (None, "nothing heard in the voice note")

    @pytest.mark.parametrize(("error", "retryable"), [
        (ProviderError("openai transcription: HTTP 429: slow down", retryable=True, status=429), True),
        (ProviderError("openai transcription: HTTP 401: bad key", status=401), False),
        (RuntimeError("adapter bug"), False),
        (ConfigError("no key"), False),
    ])
    async def test_provider_failures_become_reasons(self, error, retryable):
        heard = await hear(FailingSTT(error), VOICE, s.speech_ogg(), STTSettings(), None)
        assert heard.transcript is None
        assert heard.reason.startswith("transcription failed: ") and str(error) in heard.reason
        assert heard.retryable is retryable and heard.provider == "broken"

    async def test_missing_ffmpeg_is_a_reason_too(self, monkeypatch):
        mp3 = s.speech_mp3()
        monkeypatch.setenv("PATH", "/nonexistent")
        heard = await hear(FakeSTT(), VOICE, mp3, STTSettings(), None)
        assert heard.transcript is None and "install ffmpeg" in heard.reason


def test_too_big_before_download():
    settings = STTSettings(max_duration_s=300, max_bytes=20_000_000)
    assert too_big(Media(kind="voice", size=1000, duration_s=12), settings) == ""
    assert too_big(Media(kind="voice", size=25_000_000, duration_s=12), settings) == \
        "voice note too long (25.0 MB > 20.0 MB limit)"
    assert too_big(Media(kind="voice", size=1000, duration_s=301), settings) == \
        "voice note too long (301 s > 300 s limit)"
    assert too_big(None, settings) == ""
    assert too_big(Media(kind="voice", duration_s=9999), STTSettings(max_duration_s=0, max_bytes=0)) == ""


def test_mime_of_trusts_the_bytes():
    assert mime_of(b"OggS....", "opus", "audio/mpeg") == "audio/ogg"
    assert mime_of(b"ID3.....", "mp3", "audio/ogg") == "audio/mpeg"
    assert mime_of(b"RIFF....WAVE", "pcm_s16le", "") == "audio/wav"
    assert mime_of(b"\0\0\0\x20ftypisom", "aac", "video/mp4") == "video/mp4"
    assert mime_of(b"\0\0\0\x20ftypM4A ", "aac", "") == "audio/mp4"


@pytest.mark.parametrize(("when", "kind", "text", "max_chars", "expected", "why"), [
    ("never", "voice", "hi", 400, False, "voice replies are off (tts.when = never)"),
    ("mirror", "voice", "hi", 400, True, ""),
    ("mirror", "video_note", "hi", 400, True, ""),
    ("mirror", "text", "hi", 400, False, "mirror: the message was text, not a voice note"),
    ("mirror", "audio", "hi", 400, False, "mirror: the message was audio, not a voice note"),
    ("always", "text", "hi", 400, True, ""),
    ("always", "voice", "x" * 401, 400, False, "reply too long for voice (401 > 400 chars)"),
    ("always", "voice", "x" * 400, 400, True, ""),
    ("always", "voice", "x" * 5000, 0, True, ""),
    ("always", "text", "   ", 400, False, "nothing to say"),
    ("sometimes", "voice", "hi", 400, False, "unknown tts.when 'sometimes' (never, mirror or always)"),
])
def test_wants_voice(when, kind, text, max_chars, expected, why):
    assert wants_voice(TTSSettings(when=when, max_chars=max_chars), kind, text) == (expected, why)


class TestSpeak:
    async def test_ogg_from_the_provider_is_sent_as_is(self):
        tts = FakeTTS(s.speech_ogg())
        spoken = await speak(tts, "the quick brown fox")
        assert spoken.note is not None and spoken.reason == ""
        assert spoken.note.data == s.speech_ogg()
        assert spoken.note.duration_s == pytest.approx(s.ffprobe(s.speech_ogg())["duration"], abs=0.1)
        assert max(spoken.note.waveform) > 20
        assert (spoken.provider, tts.texts) == ("fake", ["the quick brown fox"])
        assert spoken.seconds_spent >= spoken.provider_s >= 0

    @pytest.mark.parametrize("make", [s.speech_mp3, s.speech_wav], ids=["mp3", "wav"])
    async def test_other_formats_are_transcoded(self, make):
        spoken = await speak(FakeTTS(make()), "hello")
        assert spoken.note is not None and audio.is_voice_ogg(spoken.note.data)
        info = s.ffprobe(spoken.note.data)
        assert (info["codec"], info["channels"], info["sample_rate"]) == ("opus", 1, 48000)

    async def test_bytes_that_are_not_audio_fall_back_to_text(self):
        spoken = await speak(FakeTTS(b"OggS fake"), "hello")
        assert spoken.note is None
        assert spoken.reason.startswith("could not convert to Ogg/Opus: ") and "\n" not in spoken.reason

    async def test_no_audio_falls_back_to_text(self):
        spoken = await speak(FakeTTS(b""), "hello")
        assert (spoken.note, spoken.reason) == (None, "tts failed: the provider returned no audio")

    @pytest.mark.parametrize("error", [ProviderError("elevenlabs: HTTP 429: busy", retryable=True, status=429),
                                       RuntimeError("adapter bug")])
    async def test_provider_failures_fall_back_to_text(self, error):
        spoken = await speak(FailingTTS(error), "hello")
        assert spoken.note is None
        assert spoken.reason.startswith("tts failed: ") and str(error) in spoken.reason
        assert spoken.provider == "broken"

    async def test_nothing_to_say(self):
        tts = FakeTTS(s.speech_ogg())
        spoken = await speak(tts, "  ")
        assert (spoken.note, spoken.reason, tts.texts) == (None, "tts failed: nothing to say", [])


def test_missing_local_packages_say_how_to_install(monkeypatch):
    from twin.voice import local_stt, local_tts

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in ("faster_whisper", "piper") else real(name, *a))
    with pytest.raises(ConfigError, match=r"pip install '\.\[voice\]'"):
        local_stt.LocalSTT()
    with pytest.raises(ConfigError, match=r"pip install '\.\[voice\]'"):
        local_tts.LocalTTS()


def test_voice_modules_import_no_sdk():
    import subprocess
    import sys

    code = ("import sys, twin.voice.speech, twin.voice.openai_stt, twin.voice.elevenlabs_tts, "
            "twin.voice.local_stt, twin.voice.local_tts\n"
            "heavy = {'openai', 'elevenlabs', 'faster_whisper', 'piper', 'numpy', 'ctranslate2', 'onnxruntime'}\n"
            "print(sorted(heavy & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
