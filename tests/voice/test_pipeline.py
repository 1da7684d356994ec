"""Voice through the whole loop: a note in is heard and answered; a reply out is a real voice note."""

from __future__ import annotations

import pytest

from tests import voice_samples
from tests.engine.test_loop import serve, turns_of
from tests.fakes import FakeSTT, FakeTTS, incoming
from tests.helpers import make_rig
from twin.types import Media
from twin.voice import audio

NOTE = Media("voice", "audio/ogg", 20_000, 3.0)


def voice_msg(message_id: int = 1, media: Media = NOTE, **kw):
    return incoming("", message_id=message_id, kind="voice", media=media, **kw)


@pytest.fixture(scope="module")
def speech() -> bytes:
    return voice_samples.speech_ogg()


async def test_a_voice_note_is_transcribed_and_answered_as_text(twin_home, speech):
    stt = FakeSTT("how did the concert go")
    rig = make_rig(twin_home, "it was loud and great!", stt=stt)
    rig.telegram.media[(42, 1)] = speech
    await serve(rig, voice_msg())
    (turn,) = rig.store.turns("default")
    assert turn.status == "answered" and turn.transcript == "how did the concert go"
    assert turns_of(rig.llm.prompts[0])[-1] == ("user", "how did the concert go")
    assert stt.calls == [(len(speech), "audio/ogg", "en")]  # the persona's language as the hint
    assert [s.text for s in rig.telegram.sent] == ["it was loud and great!"] and not turn.voice


async def test_listening_time_counts_as_reading_time(twin_home, speech):
    rig = make_rig(twin_home, "ok", stt=FakeSTT("hi"), timing__read_cps=1000.0, timing__jitter=0.0)
    rig.telegram.media[(42, 1)] = speech
    await serve(rig, voice_msg())
    duration = audio.ogg_opus_duration(speech)
    assert duration and any(abs(s - (1.0 + duration)) < 0.05 for s in rig.clock.slept)  # 1 s minimum read + listen


@pytest.mark.parametrize("data, status, reason", [
    (b"", "failed", "could not read the voice note: empty file"),
    (b"not audio at all" * 50, "failed", "could not read the voice note"),
])
async def test_a_note_the_twin_cannot_hear_is_not_answered(twin_home, data, status, reason):
    rig = make_rig(twin_home, "never sent", stt=FakeSTT("x"))
    rig.telegram.media[(42, 1)] = data
    await serve(rig, voice_msg())
    (turn,) = rig.store.turns("default")
    assert turn.status == status and turn.reason.startswith(reason)
    assert rig.telegram.sent == [] and rig.llm.prompts == []


async def test_silence_and_limits_are_skips_with_the_reason(twin_home):
    rig = make_rig(twin_home, stt=FakeSTT(""), stt__max_duration_s=60.0)
    rig.telegram.media[(42, 1)] = voice_samples.silence_ogg(2.0)
    await serve(rig, [voice_msg(1), voice_msg(3, Media("voice", "audio/ogg", 10_000, 600.0), chat_id=7)])
    reasons = {t.chat_id: (t.status, t.reason) for t in rig.store.turns("default")}
    assert reasons[42] == ("skipped", "nothing heard in the voice note")
    assert reasons[7] == ("skipped", "voice note too long (600 s > 60 s limit)")
    assert rig.telegram.downloads == [(42, 1)]  # the long one was never downloaded


async def test_without_speech_to_text_voice_notes_are_recorded_as_not_answered(twin_home):
    rig = make_rig(twin_home)
    await serve(rig, voice_msg())
    (turn,) = rig.store.turns("default")
    assert turn.status == "skipped" and turn.reason == "voice messages are not answered"


async def test_mirror_answers_a_voice_note_with_a_real_voice_note(twin_home, speech):
    tts = FakeTTS(voice_samples.speech_wav())  # WAV, as Piper gives: converted to Ogg/Opus
    rig = make_rig(twin_home, "it was calm, lots of reading", stt=FakeSTT("how was your weekend"), tts=tts,
                   tts__when="mirror",
                   tts__provider="local")
    rig.telegram.media[(42, 1)] = speech
    await serve(rig, voice_msg(), [incoming("and a text", message_id=9)])
    voice_sent, text_sent = rig.telegram.sent
    note = voice_sent.voice
    assert note is not None and voice_sent.text is None and tts.texts == ["it was calm, lots of reading"]
    probe = voice_samples.ffprobe(note.data)
    assert probe["codec"] == "opus" and probe["channels"] == 1 and probe["sample_rate"] == 48000
    assert abs(note.duration_s - float(probe["duration"])) < 0.1 and note.waveform and max(note.waveform) > 0
    assert (42, "record-audio") in rig.telegram.actions
    turns = {t.incoming_ids: t for t in rig.store.turns("default")}
    assert turns[(1,)].voice and turns[(1,)].extra["voice_out"]["duration_s"] > 0
    assert text_sent.text == "ok" and not turns[(9,)].voice  # mirror: a text gets text


async def test_tts_failure_falls_back_to_text_and_says_why(twin_home, speech):
    rig = make_rig(twin_home, "fine", stt=FakeSTT("hello"), tts=FakeTTS(b"garbage, not audio"),
                   tts__when="always", tts__provider="local")
    rig.telegram.media[(42, 1)] = speech
    await serve(rig, voice_msg())
    (turn,) = rig.store.turns("default")
    assert [s.text for s in rig.telegram.sent] == ["fine"] and not turn.voice
    assert turn.extra["voice_out"]["as_text"].startswith("could not convert to Ogg/Opus")


async def test_keep_audio_saves_the_voice_reply(twin_home):
    rig = make_rig(twin_home, "hello!", tts=FakeTTS(voice_samples.speech_ogg()), tts__when="always",
                   tts__provider="local", tts__keep_audio=True)
    await serve(rig, incoming("say something"))
    (turn,) = rig.store.turns("default")
    saved = twin_home / "data" / "audio" / f"turn-{turn.id}.ogg"
    assert saved.read_bytes()[:4] == b"OggS" and turn.extra["voice_out"]["audio"] == str(saved)




async def test_a_note_it_cannot_hear_can_be_answered_with_a_request_for_text(twin_home):
    rig = make_rig(twin_home, "can't listen now, can you text?", stt=FakeSTT("x"), stt__answer_unheard=True)
    rig.telegram.media[(42, 1)] = b"broken"
    await serve(rig, voice_msg())
    (turn,) = rig.store.turns("default")
    assert [s.text for s in rig.telegram.sent] == ["can't listen now, can you text?"]
    assert turn.status == "skipped" and "asked for a text instead" in turn.reason
