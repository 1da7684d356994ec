"""Audio helpers on ffmpeg/ffprobe: probe, convert to a Telegram voice note, decode, waveform.

Every helper runs ffmpeg as an async subprocess with the bytes on stdin and the result on
stdout, under a bounded timeout (the process is killed on timeout or cancellation). Inputs that
need seeking go through a temp file instead: MP4 (round video notes) and ffprobe's input.
Failures become one-line errors: AudioError for audio that cannot be read (with at most
ffmpeg's last stderr line), ConfigError when ffmpeg is missing.

Ogg/Opus headers and durations are read in Python: it is exact (the last granule position,
as ffprobe computes it) and saves an ffmpeg start-up, which costs 50-100 ms on Debian's build.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import struct
import sys
import tempfile
from array import array
from collections.abc import Sequence

from twin.errors import AudioError, ConfigError
from twin.types import VoiceNote

TIMEOUT_S = 60.0
WAVEFORM_BARS = 100
WAVEFORM_RATE = 4000  # decoding rate for the waveform: plenty for 100 bars, cheap to scan in Python
PEAK_FLOOR = 2500  # like Telegram Desktop's recorder: quiet audio is not stretched to full bars
OPUS_RATE = 48000
VOICE_ARGS = ("-vn", "-ac", "1", "-ar", "48000", "-c:a", "libopus", "-b:a", "32k",
              "-application", "voip", "-f", "ogg")

Probe = tuple[str, int, int, float]


def _last_line(stderr: bytes) -> str:
    lines = [ln.strip() for ln in stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
    return lines[-1][:200] if lines else ""


def _needs_file(data: bytes) -> bool:
    # MP4/MOV (round video notes, m4a) often keep their index at the end: not readable from a pipe
    return data[4:8] == b"ftyp"


async def _run(tool: str, args: Sequence[str], data: bytes, what: str, timeout_s: float,
               seekable: bool = False) -> bytes:
    """Run ffmpeg/ffprobe with data as input (a temp file when seekable); stdout, or a one-line AudioError."""
    if not data:
        raise AudioError(f"{what}: empty audio (0 bytes)")
    path = ""
    if seekable or _needs_file(data):
        fd, path = tempfile.mkstemp(prefix="twin-audio-")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
    source = path or "pipe:0"
    argv = [a if a != "{in}" else source for a in args]
    try:
        proc = await asyncio.create_subprocess_exec(
            tool, *argv,
            stdin=asyncio.subprocess.DEVNULL if path else asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
    except FileNotFoundError:
        if path:
            os.unlink(path)
        raise ConfigError(f"{tool} not found: install ffmpeg (e.g. apt install ffmpeg)") from None
    try:
        out, err = await asyncio.wait_for(proc.communicate(None if path else data), timeout_s)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        raise AudioError(f"{what}: {tool} took longer than {timeout_s:g} s") from None
    except asyncio.CancelledError:  # the turn was cancelled: leave no ffmpeg behind
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        raise
    finally:
        if path:
            os.unlink(path)
    if proc.returncode != 0:
        line = _last_line(err)
        raise AudioError(f"{what}: {line or f'{tool} exited with {proc.returncode}'}")
    return out


def _opus_head(data: bytes) -> tuple[int, int, int] | None:
    """(serial, channels, pre-skip) when data begins as an Ogg/Opus stream, else None."""
    if len(data) < 47 or data[:4] != b"OggS":
        return None
    nseg = data[26]
    start = 27 + nseg
    packet = data[start:start + 19]
    if len(packet) < 19 or packet[:8] != b"OpusHead":
        return None
    serial = struct.unpack_from("<I", data, 14)[0]
    return serial, packet[9], struct.unpack_from("<H", packet, 10)[0]


def ogg_opus_duration(data: bytes) -> float | None:
    """The duration of an Ogg/Opus stream from its last granule position, as ffprobe reports it."""
    head = _opus_head(data)
    if head is None:
        return None
    serial, _, pre_skip = head
    pos = data.rfind(b"OggS")
    while pos >= 0:
        if len(data) - pos >= 27 and data[pos + 4] == 0:
            granule, page_serial = struct.unpack_from("<qI", data, pos + 6)
            nseg = data[pos + 26]
            body = sum(data[pos + 27:pos + 27 + nseg])
            # a real page header: its length fits what follows, its serial and granule are ours
            if page_serial == serial and granule >= 0 and pos + 27 + nseg + body <= len(data):
                return max(0, int(granule) - int(pre_skip)) / OPUS_RATE
        pos = data.rfind(b"OggS", 0, pos)
    return None


def is_voice_ogg(data: bytes) -> bool:
    """Whether data is already a Telegram voice note: Ogg container, Opus, mono (always 48 kHz)."""
    head = _opus_head(data)
    return head is not None and head[1] == 1


async def probe(data: bytes, *, timeout_s: float = TIMEOUT_S) -> Probe:
    """(codec, channels, sample_rate, duration_s) of the first audio stream; AudioError if unreadable."""
    head = _opus_head(data)
    duration = ogg_opus_duration(data) if head else None
    if head and duration is not None:
        return "opus", head[1], OPUS_RATE, duration  # what ffprobe says, without its ~70 ms start-up
    out = await _run(
        "ffprobe",
        ["-v", "error", "-select_streams", "a:0", "-show_entries",
         "stream=codec_name,channels,sample_rate,duration:format=duration", "-of", "json", "-i", "{in}"],
        data, "could not read the audio", timeout_s, seekable=True,  # from a pipe, most durations are N/A
    )
    try:
        info = json.loads(out)
        streams = info.get("streams") or []
        if not streams:
            raise AudioError("could not read the audio: no audio stream in it")
        stream = streams[0]
        codec = str(stream.get("codec_name", "?"))
        channels = int(stream.get("channels", 0))
        rate = int(stream.get("sample_rate", 0))
    except (ValueError, AttributeError, TypeError) as exc:
        raise AudioError(f"could not read the audio: unexpected ffprobe output ({exc})") from None
    duration = ogg_opus_duration(data)
    if duration is None:
        duration = _float(stream.get("duration")) or _float((info.get("format") or {}).get("duration"))
    if duration is None:
        samples = await to_pcm(data, rate=WAVEFORM_RATE, timeout_s=timeout_s)
        duration = len(samples) / WAVEFORM_RATE
    return codec, channels, rate, duration


def _float(value: object) -> float | None:
    try:
        return float(str(value))
    except ValueError:
        return None


async def to_voice_ogg(data: bytes, *, timeout_s: float = TIMEOUT_S) -> bytes:
    """Transcode any audio to a Telegram voice note: Ogg, Opus 32 kbit/s voip, mono, 48 kHz."""
    out = await _run("ffmpeg", ["-nostdin", "-v", "error", "-i", "{in}", *VOICE_ARGS, "pipe:1"],
                     data, "could not convert to Ogg/Opus", timeout_s)
    if not out:
        raise AudioError("could not convert to Ogg/Opus: ffmpeg produced no audio")
    return out


async def to_pcm(data: bytes, *, rate: int, timeout_s: float = TIMEOUT_S) -> array[int]:
    """Decode to mono signed 16-bit samples at rate."""
    out = await _run("ffmpeg", ["-nostdin", "-v", "error", "-i", "{in}", "-vn", "-ac", "1", "-ar", str(rate),
                                "-f", "s16le", "pipe:1"], data, "could not decode the audio", timeout_s)
    return _samples(out)


def _samples(pcm: bytes) -> array[int]:
    samples = array("h")
    samples.frombytes(pcm[: len(pcm) - len(pcm) % 2])
    if sys.byteorder == "big":
        samples.byteswap()
    return samples


async def to_pcm16k(data: bytes, *, timeout_s: float = TIMEOUT_S) -> bytes:
    """Decode to mono float32 little-endian samples at 16 kHz, the input Whisper expects."""
    return await _run("ffmpeg", ["-nostdin", "-v", "error", "-i", "{in}", "-vn", "-ac", "1", "-ar", "16000",
                                 "-f", "f32le", "pipe:1"], data, "could not decode the audio", timeout_s)


def levels(samples: Sequence[int], bars: int = WAVEFORM_BARS) -> tuple[int, ...]:
    """Telegram-style waveform: the peak of each of `bars` slices, scaled to 0..31."""
    n = len(samples)
    if n == 0:
        return (0,) * bars
    count = min(bars, n)
    peaks = []
    for i in range(count):
        chunk = samples[i * n // count:(i + 1) * n // count]
        peaks.append(max(max(chunk), -min(chunk)))
    norm = max(max(peaks), PEAK_FLOOR)
    return tuple(min(31, p * 31 // norm) for p in peaks)


async def waveform(data: bytes, *, timeout_s: float = TIMEOUT_S) -> tuple[int, ...]:
    """About 100 levels 0..31 from the decoded audio's peaks (all zeros for silence)."""
    return levels(await to_pcm(data, rate=WAVEFORM_RATE, timeout_s=timeout_s))


async def _convert_and_decode(data: bytes, timeout_s: float) -> tuple[bytes, array[int]]:
    """One ffmpeg run, two outputs: the voice note on stdout and low-rate samples in a temp file."""
    fd, pcm_path = tempfile.mkstemp(prefix="twin-pcm-")
    os.close(fd)
    try:
        ogg = await _run("ffmpeg", ["-nostdin", "-y", "-v", "error", "-i", "{in}", *VOICE_ARGS, "pipe:1",
                                    "-vn", "-ac", "1", "-ar", str(WAVEFORM_RATE), "-f", "s16le", pcm_path],
                         data, "could not convert to Ogg/Opus", timeout_s)
        with open(pcm_path, "rb") as f:
            return ogg, _samples(f.read())
    finally:
        os.unlink(pcm_path)


async def make_voice_note(data: bytes, *, timeout_s: float = TIMEOUT_S) -> VoiceNote:
    """A Telegram-ready VoiceNote from any audio: Ogg/Opus (converted if needed), true duration, waveform."""
    if is_voice_ogg(data):
        ogg, samples = data, await to_pcm(data, rate=WAVEFORM_RATE, timeout_s=timeout_s)
    else:  # one ffmpeg run with two outputs instead of two runs: each start-up costs 50-100 ms
        ogg, samples = await _convert_and_decode(data, timeout_s)
    if not samples or not ogg:
        raise AudioError("could not convert to Ogg/Opus: no audio in it")
    duration = ogg_opus_duration(ogg)
    if duration is None:
        duration = len(samples) / WAVEFORM_RATE
    return VoiceNote(data=ogg, duration_s=duration, waveform=levels(samples))
