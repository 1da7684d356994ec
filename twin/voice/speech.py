"""The two voice operations the pipeline calls; every failure comes back as a reason, never raised.

How the pipeline uses them (stt/tts are the adapters app.py picked; both seams are in base.py):

    from twin.voice.speech import hear, speak, too_big, wants_voice

    # In: a voice note / audio file / round video arrived in a private chat.
    why = too_big(incoming.media, settings.stt)      # "" or the same reason hear() would give
    if why: ...                                      # skip the turn with `why`, no download
    data = ...                                       # download the media's bytes
    heard = await hear(stt, incoming.media, data, settings.stt, language_hint)
    if heard.transcript is None:
        ...  # do not answer; record heard.reason ("voice note too long (...)" and "nothing heard
             # in the voice note" read as skipped; "could not read the voice note: ..." and
             # "transcription failed: ..." as failed; heard.retryable is True for 429/5xx/network)
    else:
        text = heard.transcript  # store it on the turn and use it as the message text
    # heard.duration_s is the note's real length (for "listening counts as reading" timing)

    # Out: the reply text is ready.
    ok, why = wants_voice(settings.tts, incoming.kind, reply_text)
    if ok:
        spoken = await speak(tts, reply_text)
        if spoken.note is not None:  # Ogg/Opus mono 48 kHz: send with voice_note=True, mime audio/ogg,
            ...  # DocumentAttributeAudio(voice=True, duration=round(spoken.note.duration_s),
                 #   waveform=telethon.utils.encode_waveform(bytes(spoken.note.waveform)))
        else:
            ...  # send reply_text as text; record spoken.reason on the turn
    # when not ok, `why` says why the reply goes as text (record it if useful)

`hear` checks the size and Telegram's duration, then the real duration (read from the Ogg
pages, or ffprobe for other formats), then transcribes; `language_hint` wins over
settings.stt.language. `speak` synthesizes and turns the provider's bytes into a Telegram-ready
VoiceNote (converted with ffmpeg unless already Ogg/Opus mono; true duration; waveform of
100 levels 0..31). Both measure their own time (seconds_spent); neither sleeps nor uses the
Clock; neither raises for a failure (only cancellation propagates).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from twin.config import STTSettings, TTSSettings
from twin.errors import AudioError, ConfigError, ProviderError, TwinError
from twin.types import Media, VoiceNote
from twin.voice import audio
from twin.voice.base import SpeechToText, TextToSpeech

SPOKEN_KINDS = frozenset({"voice", "video_note"})
PREFIXES = ("could not read the audio: ", "could not decode the audio: ", "could not convert to Ogg/Opus: ")


@dataclass(frozen=True, slots=True)
class Heard:
    """What listening to a note gave: the transcript, or None and the reason."""

    transcript: str | None
    reason: str = ""
    duration_s: float = 0.0
    provider: str = ""
    seconds_spent: float = 0.0
    retryable: bool = False  # the provider may succeed on a later try (429, 5xx, connection)


@dataclass(frozen=True, slots=True)
class Spoken:
    """A voice reply ready to send, or None and the reason the reply goes as text."""

    note: VoiceNote | None
    reason: str = ""
    provider: str = ""
    seconds_spent: float = 0.0
    provider_s: float = 0.0  # of seconds_spent, the provider's own time


def too_big(media: Media | None, settings: STTSettings, size: int = 0) -> str:
    """The reason a note is over the size or duration limits ("" when within them)."""
    size = max(size, media.size if media else 0)
    if settings.max_bytes and size > settings.max_bytes:
        return f"voice note too long ({size / 1e6:.1f} MB > {settings.max_bytes / 1e6:.1f} MB limit)"
    duration = media.duration_s if media else 0.0
    if settings.max_duration_s and duration > settings.max_duration_s:
        return f"voice note too long ({duration:.0f} s > {settings.max_duration_s:.0f} s limit)"
    return ""


async def hear(stt: SpeechToText, media: Media | None, data: bytes, settings: STTSettings,
               language_hint: str | None = None) -> Heard:
    """Transcribe a downloaded voice note within the limits; failures become Heard(None, reason)."""
    started = time.perf_counter()
    provider = getattr(stt, "provider", "")

    def done(transcript: str | None, reason: str = "", duration: float = 0.0,
             retryable: bool = False) -> Heard:
        return Heard(transcript, reason, duration, provider, time.perf_counter() - started, retryable)

    reason = too_big(media, settings, len(data))
    if reason:
        return done(None, reason, media.duration_s if media else 0.0)
    if not data:
        return done(None, "could not read the voice note: empty file (0 bytes)")
    try:
        codec, _, _, duration = await audio.probe(data)
    except (AudioError, ConfigError) as exc:
        return done(None, f"could not read the voice note: {_tail(exc)}")
    if settings.max_duration_s and duration > settings.max_duration_s:
        return done(None, f"voice note too long ({duration:.0f} s > {settings.max_duration_s:.0f} s limit)",
                    duration)
    if duration <= 0:
        return done(None, "nothing heard in the voice note", duration)
    mime = mime_of(data, codec, media.mime if media else "")
    language = language_hint or settings.language or None
    try:
        text = await stt.transcribe(data, mime=mime, language=language)
    except AudioError as exc:
        return done(None, f"could not read the voice note: {_tail(exc)}", duration)
    except ProviderError as exc:
        return done(None, f"transcription failed: {exc}", duration, exc.retryable)
    except Exception as exc:  # a broken adapter must not take the turn down: record it
        return done(None, f"transcription failed: {_describe(exc)}", duration)
    text = text.strip()
    if not text:
        return done(None, "nothing heard in the voice note", duration)
    return done(text, "", duration)


def wants_voice(settings: TTSSettings, incoming_kind: str, reply_text: str) -> tuple[bool, str]:
    """Whether to answer with a voice note (never / mirror / always, within max_chars), and why not."""
    when = settings.when
    if when == "never":
        return False, "voice replies are off (tts.when = never)"
    if when not in ("mirror", "always"):
        return False, f"unknown tts.when {when!r} (never, mirror or always)"
    if when == "mirror" and incoming_kind not in SPOKEN_KINDS:
        return False, f"mirror: the message was {incoming_kind}, not a voice note"
    text = reply_text.strip()
    if not text:
        return False, "nothing to say"
    if settings.max_chars and len(text) > settings.max_chars:
        return False, f"reply too long for voice ({len(text)} > {settings.max_chars} chars)"
    return True, ""


async def speak(tts: TextToSpeech, text: str) -> Spoken:
    """Synthesize text and make it a Telegram voice note; failures become Spoken(None, reason)."""
    started = time.perf_counter()
    provider = getattr(tts, "provider", "")
    if not text.strip():
        return Spoken(None, "tts failed: nothing to say", provider)
    try:
        data = await tts.synthesize(text)
    except ProviderError as exc:
        return Spoken(None, f"tts failed: {exc}", provider, time.perf_counter() - started)
    except Exception as exc:  # a broken adapter must not take the turn down: record it
        return Spoken(None, f"tts failed: {_describe(exc)}", provider, time.perf_counter() - started)
    provider_s = time.perf_counter() - started
    if not data:
        return Spoken(None, "tts failed: the provider returned no audio", provider, provider_s, provider_s)
    try:
        note = await audio.make_voice_note(data)
    except (AudioError, ConfigError) as exc:
        return Spoken(None, f"could not convert to Ogg/Opus: {_tail(exc)}", provider,
                      time.perf_counter() - started, provider_s)
    return Spoken(note, "", provider, time.perf_counter() - started, provider_s)


def mime_of(data: bytes, codec: str, claimed: str = "") -> str:
    """The audio's real MIME type from its bytes (an mp3 sent as a voice note is audio/mpeg)."""
    if data[:4] == b"OggS":
        return "audio/ogg"
    if codec == "mp3":
        return "audio/mpeg"
    if data[:4] == b"RIFF":
        return "audio/wav"
    if data[4:8] == b"ftyp":
        return claimed if claimed.startswith(("audio/", "video/")) else "audio/mp4"
    return claimed or "audio/ogg"


def _tail(exc: TwinError) -> str:
    """The error's message without the helper's own prefix (the reason adds its own)."""
    message = str(exc)
    for prefix in PREFIXES:
        if message.startswith(prefix):
            return message[len(prefix):]
    return message


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:300] if str(exc) else type(exc).__name__
