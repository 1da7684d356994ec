"""ElevenLabsTTS through the real elevenlabs SDK against the local scripted server."""

from __future__ import annotations

import pytest

from tests.httpserver import Reply
from tests.voice_samples import speech_ogg
from twin.errors import ConfigError, ProviderError
from twin.voice import audio
from twin.voice.elevenlabs_tts import ElevenLabsTTS

KEY = "el-test-key-0123456789"
VOICE_ID = "owner-voice-123"


def tts(server, **kw) -> ElevenLabsTTS:
    return ElevenLabsTTS(KEY, VOICE_ID, base_url=server.url, timeout_s=5, **kw)


async def test_request_shape_and_bytes(server):
    audio_bytes = b"OggS" + bytes(range(256)) * 40  # more than one streamed chunk
    server.expect("/text-to-speech/", Reply(200, audio_bytes, {"Content-Type": "audio/ogg"}))
    result = await tts(server).synthesize("See you at five!")
    assert result == audio_bytes
    [request] = server.requests
    assert (request.method, request.path) == ("POST", f"/v1/text-to-speech/{VOICE_ID}")
    assert request.query["output_format"] == ["opus_48000_64"]
    assert request.headers["xi-api-key"] == KEY
    body = request.json()
    assert body["text"] == "See you at five!"
    assert body["model_id"] == "eleven_multilingual_v2"


async def test_model_and_output_format_settings(server):
    server.expect("/text-to-speech/", Reply(200, b"ID3 mp3 bytes"))
    await tts(server, model="eleven_flash_v2_5", output_format="mp3_44100_64").synthesize("hi")
    request = server.requests[0]
    assert request.query["output_format"] == ["mp3_44100_64"]
    assert request.json()["model_id"] == "eleven_flash_v2_5"


async def test_opus_output_is_already_a_voice_note(server):
    server.expect("/text-to-speech/", Reply(200, speech_ogg()))
    data = await tts(server).synthesize("the quick brown fox")
    note = await audio.make_voice_note(data)
    assert note.data == data and note.duration_s > 2


@pytest.mark.parametrize(("status", "retryable"), [(401, False), (422, False), (429, True), (500, True)])
async def test_http_errors_map_to_provider_errors(server, status, retryable):
    detail = {"detail": {"status": "invalid_api_key" if status == 401 else "x", "message": f"failed {status}"}}
    server.expect("/text-to-speech/", Reply(status, detail))
    with pytest.raises(ProviderError) as caught:
        await tts(server).synthesize("hello")
    error = caught.value
    assert (error.status, error.retryable) == (status, retryable)
    assert f"failed {status}" in str(error)
    assert KEY not in str(error)
    assert len(server.requests) == 1  # no hidden retries: the pipeline decides


async def test_plain_text_error_body(server):
    server.expect("/text-to-speech/", Reply(503, "upstream busy"))
    with pytest.raises(ProviderError, match="upstream busy") as caught:
        await tts(server).synthesize("hello")
    assert caught.value.retryable


async def test_connection_refused_is_retryable():
    client = ElevenLabsTTS(KEY, VOICE_ID, base_url="http://127.0.0.1:9", timeout_s=2)
    with pytest.raises(ProviderError, match="could not connect") as caught:
        await client.synthesize("hello")
    assert caught.value.retryable


def test_voice_id_and_key_are_required():
    with pytest.raises(ConfigError, match="voice_id"):
        ElevenLabsTTS(KEY, "")
    with pytest.raises(ConfigError, match="ELEVENLABS_API_KEY"):
        ElevenLabsTTS("", VOICE_ID)
