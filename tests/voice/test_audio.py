"""twin.voice.audio on real audio: probing, conversion to voice notes, waveform, broken input."""

from __future__ import annotations

import pytest

from tests import voice_samples as s
from twin.errors import AudioError, ConfigError
from twin.voice import audio


def assert_voice_note(data: bytes) -> dict[str, object]:
    info = s.ffprobe(data)
    assert (info["format"], info["codec"], info["channels"], info["sample_rate"]) == ("ogg", "opus", 1, 48000)
    return info


async def test_probe_reads_codec_channels_rate_and_true_duration():
    for data, codec, rate in [(s.speech_ogg(), "opus", 48000), (s.speech_mp3(), "mp3", 22050),
                              (s.speech_wav(), "pcm_s16le", 22050)]:
        got_codec, channels, got_rate, duration = await audio.probe(data)
        assert (got_codec, channels, got_rate) == (codec, 1, rate)
        assert duration == pytest.approx(s.ffprobe(data)["duration"], abs=0.1)


async def test_probe_sees_the_end_of_a_ten_minute_note():
    data = s.ten_minutes_ogg()
    _, _, _, duration = await audio.probe(data)
    assert duration == pytest.approx(600, abs=0.1)
    assert duration == pytest.approx(s.ffprobe(data)["duration"], abs=0.1)


async def test_a_round_video_note_is_read_from_a_file_not_a_pipe():
    data = s.video_note_mp4()
    assert data[4:8] == b"ftyp"
    codec, channels, _, duration = await audio.probe(data)
    assert (codec, channels) == ("aac", 1)
    assert duration == pytest.approx(s.ffprobe(data)["duration"], abs=0.1)
    note = await audio.make_voice_note(data)
    assert_voice_note(note.data)
    assert note.duration_s == pytest.approx(duration, abs=0.1)


def test_is_voice_ogg_only_for_mono_ogg_opus():
    assert audio.is_voice_ogg(s.speech_ogg())
    assert not audio.is_voice_ogg(s.speech_mp3())
    assert not audio.is_voice_ogg(s.speech_wav())
    assert not audio.is_voice_ogg(s.stereo_ogg())
    assert not audio.is_voice_ogg(s.corrupt())
    assert not audio.is_voice_ogg(s.EMPTY)


@pytest.mark.parametrize("make", [s.speech_wav, s.speech_mp3, s.stereo_ogg], ids=["wav", "mp3", "stereo-ogg"])
async def test_to_voice_ogg_makes_ogg_opus_mono_48k(make):
    source = make()
    converted = await audio.to_voice_ogg(source)
    info = assert_voice_note(converted)
    assert audio.is_voice_ogg(converted)
    assert info["duration"] == pytest.approx(s.ffprobe(source)["duration"], abs=0.1)


@pytest.mark.parametrize("make", [s.speech_ogg, s.speech_wav, s.speech_mp3], ids=["ogg", "wav", "mp3"])
async def test_make_voice_note_has_true_duration_and_waveform(make):
    source = make()
    note = await audio.make_voice_note(source)
    info = assert_voice_note(note.data)
    assert note.duration_s == pytest.approx(info["duration"], abs=0.1)
    assert note.duration_s == pytest.approx(s.ffprobe(source)["duration"], abs=0.1)
    assert len(note.waveform) == audio.WAVEFORM_BARS
    assert all(0 <= level <= 31 for level in note.waveform)
    assert max(note.waveform) >= 20 and len(set(note.waveform)) > 5


async def test_a_voice_note_already_in_shape_is_kept_byte_for_byte():
    source = s.speech_ogg()
    assert (await audio.make_voice_note(source)).data is source


async def test_waveform_is_deterministic_and_tells_speech_from_silence():
    speech = await audio.waveform(s.speech_ogg())
    assert speech == await audio.waveform(s.speech_ogg())
    silence = await audio.waveform(s.silence_ogg())
    assert len(silence) == len(speech) == audio.WAVEFORM_BARS
    assert max(silence) == 0
    assert max(speech) > 20
    # the gaps between words show up as low bars
    assert min(speech) < 5


def test_levels_scale_peaks_to_31_and_handle_tiny_inputs():
    assert audio.levels([0, 1000, -32768, 0], bars=4) == (0, 0, 31, 0)
    assert audio.levels([], bars=100) == (0,) * 100
    assert audio.levels([100, -100, 5000], bars=100) == (0, 0, 31)
    quiet = audio.levels([200] * 1000)  # below the floor: not stretched to full bars
    assert max(quiet) < 5


async def test_pcm16k_is_float32_at_16_khz():
    pcm = await audio.to_pcm16k(s.speech_ogg())
    seconds = len(pcm) / 4 / 16000
    assert seconds == pytest.approx(s.ffprobe(s.speech_ogg())["duration"], abs=0.1)


@pytest.mark.parametrize("data", [s.corrupt(), b"not audio at all" * 10, s.EMPTY], ids=["corrupt", "text", "empty"])
async def test_broken_input_is_one_line_audio_error(data):
    for operation in (audio.probe, audio.to_voice_ogg, audio.make_voice_note, audio.waveform, audio.to_pcm16k):
        with pytest.raises(AudioError) as caught:
            await operation(data)
        message = str(caught.value)
        assert "\n" not in message and len(message) < 300
        assert "Traceback" not in message


async def test_empty_input_says_so():
    with pytest.raises(AudioError, match="empty audio"):
        await audio.probe(s.EMPTY)


async def test_truncated_note_is_not_a_crash():
    cut = s.speech_ogg()[: len(s.speech_ogg()) // 2]
    note = await audio.make_voice_note(cut)  # ffmpeg decodes what is there; the duration says how much
    assert 0 < note.duration_s < s.ffprobe(s.speech_ogg())["duration"]


async def test_missing_ffmpeg_is_a_config_error(monkeypatch):
    wav, mp3, ogg = s.speech_wav(), s.speech_mp3(), s.speech_ogg()
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ConfigError, match="install ffmpeg"):
        await audio.to_voice_ogg(wav)
    with pytest.raises(ConfigError, match="install ffmpeg"):
        await audio.probe(mp3)
    with pytest.raises(ConfigError, match="install ffmpeg"):
        await audio.make_voice_note(ogg)
    # an Ogg/Opus note is probed in Python: no ffmpeg needed to check its limits
    assert (await audio.probe(ogg))[:3] == ("opus", 1, 48000)


async def test_a_stuck_ffmpeg_is_stopped_at_the_timeout():
    with pytest.raises(AudioError, match="took longer"):
        await audio.to_voice_ogg(s.ten_minutes_ogg(), timeout_s=0.001)
