"""OpenAISTT through the real openai SDK against the local scripted server."""

from __future__ import annotations

import email
import email.policy

import pytest

from tests.httpserver import Reply
from tests.voice_samples import speech_mp3, speech_ogg
from twin.errors import ConfigError, ProviderError
from twin.voice.openai_stt import OpenAISTT, filename_for

KEY = "sk-test-0123456789abcdef"


def multipart(content_type: str, body: bytes) -> dict[str, tuple[str | None, bytes]]:
    """The form fields of a multipart body: name -> (filename, bytes)."""
    message = email.message_from_bytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body, policy=email.policy.HTTP
    )
    fields: dict[str, tuple[str | None, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        fields[str(name)] = (part.get_filename(), part.get_payload(decode=True))
    return fields


def stt(server, **kw) -> OpenAISTT:
    return OpenAISTT(KEY, base_url=server.url + "/v1", timeout_s=5, **kw)


async def test_transcription_request_shape_and_parsing(server):
    server.expect("/audio/transcriptions", Reply(200, {"text": "  hello from the fox  "}))
    data = speech_ogg()
    text = await stt(server).transcribe(data, mime="audio/ogg", language="en")
    assert text == "hello from the fox"
    [request] = server.requests
    assert (request.method, request.path) == ("POST", "/v1/audio/transcriptions")
    assert request.headers["authorization"] == f"Bearer {KEY}"
    fields = multipart(request.headers["content-type"], request.body)
    assert fields["model"][1] == b"whisper-1"
    assert fields["language"][1] == b"en"
    assert fields["file"] == ("voice.ogg", data)


async def test_model_setting_and_no_language_field_without_a_hint(server):
    server.expect("/audio/transcriptions", Reply(200, {"text": "hi"}))
    assert await stt(server, model="gpt-4o-mini-transcribe").transcribe(speech_mp3(), mime="audio/mpeg") == "hi"
    fields = multipart(server.requests[0].headers["content-type"], server.requests[0].body)
    assert fields["model"][1] == b"gpt-4o-mini-transcribe"
    assert "language" not in fields
    assert fields["file"] == ("voice.mp3", speech_mp3())


async def test_empty_text_comes_back_empty(server):
    server.expect("/audio/transcriptions", Reply(200, {"text": ""}))
    assert await stt(server).transcribe(b"OggS...", mime="audio/ogg") == ""


@pytest.mark.parametrize(("status", "retryable"), [(401, False), (400, False), (429, True), (500, True),
                                                   (503, True)])
async def test_http_errors_map_to_provider_errors(server, status, retryable):
    message = f"Incorrect API key provided: {KEY}" if status == 401 else "nope"
    server.expect("/audio/transcriptions", Reply(status, {"error": {"message": message, "type": "x"}}))
    with pytest.raises(ProviderError) as caught:
        await stt(server).transcribe(speech_ogg(), mime="audio/ogg")
    error = caught.value
    assert (error.status, error.retryable) == (status, retryable)
    assert str(status) in str(error)
    assert KEY not in str(error) and "sk-test" not in str(error)
    assert len(server.requests) == 1  # no hidden retries: the pipeline decides


async def test_connection_refused_is_retryable():
    client = OpenAISTT(KEY, base_url="http://127.0.0.1:9/v1", timeout_s=2)
    with pytest.raises(ProviderError) as caught:
        await client.transcribe(b"OggS", mime="audio/ogg")
    assert caught.value.retryable and caught.value.status is None
    assert KEY not in str(caught.value)


def test_a_key_or_a_base_url_is_required():
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        OpenAISTT("")
    assert OpenAISTT("", base_url="http://127.0.0.1:1/v1").provider == "openai"


def test_file_names_follow_the_mime_type():
    assert filename_for("audio/ogg") == "voice.ogg"
    assert filename_for("audio/mpeg") == "voice.mp3"
    assert filename_for("video/mp4") == "voice.mp4"
    assert filename_for("audio/ogg; codecs=opus") == "voice.ogg"
    assert filename_for("") == "voice.ogg"
