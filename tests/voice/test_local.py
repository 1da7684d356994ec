"""The local speech pair for real: faster-whisper tiny.en hears espeak-ng, Piper makes a voice note."""

from __future__ import annotations

import asyncio

import pytest

from tests import voice_samples as s
from twin.errors import AudioError, ConfigError, ProviderError
from twin.voice import audio

pytestmark = [s.needs_voice_models, pytest.mark.voice_models]


@pytest.fixture(scope="module")
def local_stt():
    from twin.voice.local_stt import LocalSTT

    return LocalSTT()


@pytest.fixture(scope="module")
def local_tts():
    from twin.voice.local_tts import LocalTTS

    return LocalTTS()


@pytest.mark.parametrize("make", [s.speech_ogg, s.speech_mp3, s.speech_wav, s.video_note_mp4],
                         ids=["ogg", "mp3", "wav", "video-note"])
async def test_whisper_hears_the_espeak_phrase(local_stt, make):
    text = await local_stt.transcribe(make(), mime="audio/ogg", language="en")
    assert s.overlap(s.PHRASE, text) >= 0.8, text


async def test_a_non_english_hint_on_an_english_model_still_works(local_stt):
    text = await local_stt.transcribe(s.speech_ogg(), mime="audio/ogg", language="de")
    assert s.overlap(s.PHRASE, text) >= 0.8, text


async def test_silence_is_heard_as_little_or_nothing(local_stt):
    text = await local_stt.transcribe(s.silence_ogg(), mime="audio/ogg")
    assert len(s.words(text)) <= 3, text


async def test_two_notes_at_once_share_the_model(local_stt):
    first, second = await asyncio.gather(
        local_stt.transcribe(s.speech_ogg(), mime="audio/ogg"), local_stt.transcribe(s.speech_mp3(), mime="audio/mpeg")
    )
    assert s.overlap(s.PHRASE, first) >= 0.8 and s.overlap(s.PHRASE, second) >= 0.8


async def test_corrupt_audio_is_an_audio_error(local_stt):
    with pytest.raises(AudioError):
        await local_stt.transcribe(s.corrupt(), mime="audio/ogg")


async def test_piper_output_becomes_a_real_voice_note(local_tts):
    wav = await local_tts.synthesize("Sure, I can meet you at five tomorrow.")
    assert wav[:4] == b"RIFF"
    note = await audio.make_voice_note(wav)
    info = s.ffprobe(note.data)
    assert (info["format"], info["codec"], info["channels"], info["sample_rate"]) == ("ogg", "opus", 1, 48000)
    assert note.duration_s == pytest.approx(info["duration"], abs=0.1)
    assert note.duration_s == pytest.approx(s.ffprobe(wav)["duration"], abs=0.1)
    assert len(note.waveform) == audio.WAVEFORM_BARS and max(note.waveform) > 10
    assert min(note.waveform) < max(note.waveform)


async def test_piper_speech_round_trips_through_whisper(local_tts, local_stt):
    phrase = "Sure, I can meet you at the station tomorrow."
    note = await audio.make_voice_note(await local_tts.synthesize(phrase))
    heard = await local_stt.transcribe(note.data, mime="audio/ogg")
    assert s.overlap(phrase, heard) >= 0.8, heard


def test_wrong_paths_are_config_errors(tmp_path):
    from twin.voice.local_stt import LocalSTT
    from twin.voice.local_tts import LocalTTS

    with pytest.raises(ConfigError, match="model.bin"):
        LocalSTT(str(tmp_path))
    with pytest.raises(ConfigError, match="no Piper voice"):
        LocalTTS(str(tmp_path / "missing.onnx"))
    voice = tmp_path / "voice.onnx"
    voice.write_bytes(b"")
    with pytest.raises(ConfigError, match="no config"):
        LocalTTS(str(voice))



async def test_a_broken_model_folder_is_a_provider_error(tmp_path):
    from twin.voice.local_stt import LocalSTT

    (tmp_path / "model.bin").write_bytes(b"not a model")
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ProviderError, match="local whisper"):
        await LocalSTT(str(tmp_path)).transcribe(s.speech_ogg(), mime="audio/ogg")
