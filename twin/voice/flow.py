"""Voice in a turn: listen to the notes it holds, and speak the reply when the settings say so."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from twin.config import Settings
from twin.errors import TelegramError
from twin.session.base import Telegram
from twin.types import Media, Turn, VoiceNote
from twin.voice.base import SpeechToText, TextToSpeech
from twin.voice.speech import Spoken, hear, speak, too_big, wants_voice

log = logging.getLogger("twin.voice")
VOICE_KINDS = ("voice", "audio", "video_note")
SKIP_REASONS = ("voice note too long", "nothing heard")


@dataclass(frozen=True)
class Listened:
    """What the twin heard in a turn: the text to answer, or None and why not."""

    text: str | None
    reason: str = ""
    status: str = "skipped"  # when text is None: skipped (too long, silence) or failed
    seconds: float = 0.0  # the notes' total duration: listening counts as reading
    transcript: str = ""
    provider: str = ""


def media_of(turn: Turn) -> dict[int, Media]:
    """The voice media of a turn's messages, recorded at ingest."""
    found: dict[int, Media] = {}
    raw = turn.extra.get("media")
    if isinstance(raw, dict):
        for key, value in raw.items():
            kind = value.get("kind") if isinstance(value, dict) else None
            if kind == "voice" or kind == "audio" or kind == "video_note":
                found[int(key)] = Media(kind, str(value.get("mime", "")), int(value.get("size", 0)),
                                        float(value.get("duration_s", 0.0)))
    return found


class VoiceFlow:
    """Speech-to-text for incoming notes and text-to-speech for replies, over the two seams."""

    def __init__(self, settings: Settings, stt: SpeechToText | None, tts: TextToSpeech | None) -> None:
        self.settings = settings
        self.stt = stt
        self.tts = tts

    async def listen(self, telegram: Telegram, turn: Turn, language: str | None) -> Listened:
        """Download and transcribe each note of the turn; the text parts are kept in order."""
        notes = media_of(turn)
        if self.stt is None:  # a round video is still answered, from its frame and description
            notes = {k: m for k, m in notes.items() if m.kind != "video_note"}
        if not notes:
            return Listened(turn.incoming_text)
        if self.stt is None:
            return Listened(None, "voice notes are not understood (stt.provider = off)")
        transcripts: list[str] = []
        seconds = 0.0
        for message_id, media in sorted(notes.items()):
            why = too_big(media, self.settings.stt)
            if why:
                return Listened(None, why, "skipped", media.duration_s)
            try:
                data = await telegram.download(turn.chat_id, message_id, self.settings.stt.max_bytes)
            except TelegramError as exc:
                return Listened(None, f"could not download the voice note: {exc}", "failed")
            heard = await hear(self.stt, media, data, self.settings.stt, language)
            seconds += heard.duration_s
            if heard.transcript is None:
                status = "skipped" if heard.reason.startswith(SKIP_REASONS) else "failed"
                return Listened(None, heard.reason, status, seconds, provider=heard.provider)
            transcripts.append(heard.transcript)
        transcript = "\n".join(transcripts)
        text = "\n".join(t for t in (turn.incoming_text, transcript) if t.strip())
        return Listened(text, seconds=seconds, transcript=transcript, provider=getattr(self.stt, "provider", ""))

    def wants(self, turn: Turn, reply: str) -> tuple[bool, str]:
        """Whether this reply goes as a voice note (mirror looks at whether a note came in)."""
        if self.tts is None:
            return False, "voice replies are off"
        kinds = {m.kind for m in media_of(turn).values()}
        kind = "voice" if "voice" in kinds else ("video_note" if "video_note" in kinds else turn.kind)
        return wants_voice(self.settings.tts, kind, reply)

    async def speak(self, text: str) -> Spoken:
        """The reply in the owner's voice, or the reason it goes as text."""
        assert self.tts is not None
        return await speak(self.tts, text)

    def keep(self, turn_id: int, note: VoiceNote) -> Path | None:
        """Save the audio in data/ when tts.keep_audio says so."""
        if not self.settings.tts.keep_audio:
            return None
        folder = self.settings.data_dir / "audio"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"turn-{turn_id}.ogg"
        path.write_bytes(note.data)
        return path
