"""GeminiLLM through the real google-genai SDK against a local scripted server."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.fakes import FakeClock
from tests.httpserver import Reply, ScriptedServer, closed_port, raw_server
from twin.errors import ConfigError, ProviderError
from twin.llm.base import complete_with_retries
from twin.llm.gemini import GeminiLLM
from twin.types import Prompt, PromptMessage

KEY = "AIzaTEST-secret-key-123456"
PROMPT = Prompt(
    system="You are Alex, replying in a private Telegram chat with Alice.",
    messages=(
        PromptMessage("user", "hi!"),
        PromptMessage("assistant", "hey, what's up"),
        PromptMessage("user", "dinner tonight?"),
    ),
)
ROUTE = ":generateContent"


def ok(text: str = "sure, 8pm", **extra: object) -> Reply:
    body: dict[str, object] = {
        "candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP"}],
        "usageMetadata": {"promptTokenCount": 31, "candidatesTokenCount": 4, "totalTokenCount": 35},
    }
    body.update(extra)
    return Reply(200, body)


def error(code: int, status: str, message: str = "nope") -> Reply:
    return Reply(code, {"error": {"code": code, "message": message, "status": status}})


def llm(server: ScriptedServer, temperature: float = 0.7, max_output_tokens: int = 512) -> GeminiLLM:
    return GeminiLLM(
        KEY, base_url=server.url, timeout_s=5, temperature=temperature, max_output_tokens=max_output_tokens
    )


async def test_request_shape_and_parsing(server: ScriptedServer) -> None:
    server.expect(ROUTE, ok("  sure, 8pm \n"))
    completion = await llm(server, temperature=0.3, max_output_tokens=77).complete(PROMPT)

    assert (completion.text, completion.provider, completion.model) == ("sure, 8pm", "gemini", "gemini-2.5-flash")
    assert (completion.tokens_in, completion.tokens_out, completion.reason) == (31, 4, "")
    [request] = server.requests
    assert request.method == "POST"
    assert request.path == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert request.headers["x-goog-api-key"] == KEY
    body = request.json()
    assert isinstance(body, dict)
    assert body["systemInstruction"]["parts"] == [{"text": PROMPT.system}]
    assert [(c["role"], c["parts"]) for c in body["contents"]] == [
        ("user", [{"text": "hi!"}]),
        ("model", [{"text": "hey, what's up"}]),
        ("user", [{"text": "dinner tonight?"}]),
    ]
    config = body["generationConfig"]
    assert (config["temperature"], config["maxOutputTokens"], config["candidateCount"]) == (0.3, 77, 1)
    assert "tools" not in body


async def test_sdk_environment_variables_do_not_switch_the_backend(
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOOGLE_GENAI_USE_VERTEXAI", "true")
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "someone-elses")
    server.expect(ROUTE, ok())
    completion = await llm(server).complete(PROMPT)
    assert completion.text == "sure, 8pm"
    assert server.requests[0].path == "/v1beta/models/gemini-2.5-flash:generateContent"


async def test_model_name_goes_into_the_path(server: ScriptedServer) -> None:
    server.expect(ROUTE, ok())
    await GeminiLLM(KEY, model="gemini-2.0-flash-lite", base_url=server.url).complete(PROMPT)
    assert server.requests[0].path == "/v1beta/models/gemini-2.0-flash-lite:generateContent"


async def test_thought_parts_are_not_the_reply(server: ScriptedServer) -> None:
    server.expect(ROUTE, Reply(200, {
        "candidates": [{"content": {"role": "model", "parts": [
            {"text": "They want dinner; say yes.", "thought": True}, {"text": "yes! 8?"},
        ]}, "finishReason": "STOP"}],
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 3, "thoughtsTokenCount": 20},
    }))
    completion = await llm(server).complete(PROMPT)
    assert (completion.text, completion.tokens_in, completion.tokens_out) == ("yes! 8?", 10, 23)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({}, "empty response"),
        ({"candidates": []}, "empty response"),
        ({"candidates": [{"content": {"role": "model", "parts": [{"text": "  "}]}}]}, "empty response"),
        ({"promptFeedback": {"blockReason": "SAFETY"}}, "blocked: SAFETY"),
        ({"promptFeedback": {"blockReason": "OTHER", "blockReasonMessage": "nope"}}, "blocked: OTHER (nope)"),
        ({"candidates": [{"finishReason": "SAFETY"}]}, "finish: SAFETY"),
        ({"candidates": [{"finishReason": "MAX_TOKENS", "content": {"role": "model"}}]}, "finish: MAX_TOKENS"),
    ],
)
async def test_nothing_to_send_says_why(server: ScriptedServer, body: dict[str, object], reason: str) -> None:
    server.expect(ROUTE, Reply(200, body))
    completion = await llm(server).complete(PROMPT)
    assert (completion.text, completion.reason) == (None, reason)


async def test_a_reply_cut_at_the_token_limit_is_kept_with_a_reason(server: ScriptedServer) -> None:
    server.expect(ROUTE, Reply(200, {"candidates": [
        {"content": {"role": "model", "parts": [{"text": "sure, let me"}]}, "finishReason": "MAX_TOKENS"}
    ]}))
    completion = await llm(server).complete(PROMPT)
    assert (completion.text, completion.reason) == ("sure, let me", "finish: MAX_TOKENS")


async def test_429_is_retryable(server: ScriptedServer) -> None:
    server.expect(ROUTE, error(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted"))
    with pytest.raises(ProviderError) as caught:
        await llm(server).complete(PROMPT)
    assert (caught.value.retryable, caught.value.status) == (True, 429)
    assert str(caught.value).startswith("gemini: HTTP 429 rate limited: RESOURCE_EXHAUSTED")
    assert KEY not in str(caught.value)
    assert len(server.requests) == 1  # the SDK itself did not retry


@pytest.mark.parametrize(
    ("code", "status"),
    [(400, "INVALID_ARGUMENT"), (401, "UNAUTHENTICATED"), (403, "PERMISSION_DENIED"), (404, "NOT_FOUND")],
)
async def test_client_errors_are_final(server: ScriptedServer, code: int, status: str) -> None:
    server.expect(ROUTE, error(code, status))
    with pytest.raises(ProviderError) as caught:
        await llm(server).complete(PROMPT)
    assert (caught.value.retryable, caught.value.status) == (False, code)
    assert str(caught.value).startswith(f"gemini: HTTP {code} ")


async def test_the_key_is_blanked_even_when_the_server_echoes_it(server: ScriptedServer) -> None:
    server.expect(ROUTE, error(400, "INVALID_ARGUMENT", f"API key not valid: {KEY}\nplease pass a valid key"))
    with pytest.raises(ProviderError) as caught:
        await llm(server).complete(PROMPT)
    message = str(caught.value)
    assert KEY not in message and "***" in message
    assert "\n" not in message


async def test_429_then_success_through_the_retry_policy(server: ScriptedServer) -> None:
    server.expect(ROUTE, error(429, "RESOURCE_EXHAUSTED"), ok("on my way"))
    clock = FakeClock()
    completion = await complete_with_retries(llm(server), PROMPT, clock, retries=3)
    assert completion.text == "on my way"
    assert len(server.requests) == 2
    assert len(clock.slept) == 1


async def test_500_until_the_retries_run_out(server: ScriptedServer) -> None:
    server.expect(ROUTE, *[error(500, "INTERNAL")] * 3)
    clock = FakeClock()
    with pytest.raises(ProviderError) as caught:
        await complete_with_retries(llm(server), PROMPT, clock, retries=2)
    assert (caught.value.retryable, caught.value.status) == (True, 500)
    assert len(server.requests) == 3
    assert len(clock.slept) == 2


async def test_connection_refused_is_retryable() -> None:
    model = GeminiLLM(KEY, base_url=f"http://127.0.0.1:{closed_port()}", timeout_s=5)
    with pytest.raises(ProviderError) as caught:
        await model.complete(PROMPT)
    assert caught.value.retryable
    assert str(caught.value) == "gemini: connection refused (ConnectError)"


@pytest.mark.parametrize(("mode", "expected"), [("silent", "timed out"), ("reset", "connection reset")])
async def test_timeouts_and_resets_are_retryable(mode: str, expected: str) -> None:
    with raw_server(mode) as port:
        model = GeminiLLM(KEY, base_url=f"http://127.0.0.1:{port}", timeout_s=0.2)
        with pytest.raises(ProviderError) as caught:
            await model.complete(PROMPT)
    assert caught.value.retryable
    assert str(caught.value).startswith(f"gemini: {expected} (")
    assert KEY not in str(caught.value)


def test_a_missing_key_is_a_config_error_and_repr_hides_the_key() -> None:
    with pytest.raises(ConfigError):
        GeminiLLM("")
    assert KEY not in repr(GeminiLLM(KEY))


def test_adapters_import_no_sdk_until_used() -> None:
    code = (
        "import sys, twin.llm.gemini, twin.llm.openai_chat, twin.llm.local\n"
        "heavy = [m for m in ('google.genai', 'openai', 'llama_cpp', 'httpx2') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


async def test_a_photo_reaches_gemini_as_inline_data(server: ScriptedServer, tmp_path) -> None:
    import base64

    from twin.media.image import prepare_image
    from twin.types import Image

    source = tmp_path / "photo.png"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=1600x1200",
                    "-frames:v", "1", str(source)], check=True, timeout=60)
    image = await prepare_image(source.read_bytes())
    frame = Image("image/jpeg", b"\xff\xd8second", "frame of the video")
    prompt = Prompt(PROMPT.system, (*PROMPT.messages[:2],
                                    PromptMessage("user", "[photo] look at my new bike", (image, frame))))
    server.expect(ROUTE, ok("wow, nice bike!"))
    completion = await llm(server).complete(prompt)

    assert completion.text == "wow, nice bike!" and completion.images == 2
    body = server.requests[0].json()
    *_, last = body["contents"]
    assert last["role"] == "user"
    first, second, text = last["parts"]
    # The SDK (google-genai 3.4) writes inlineData with a snake_case mime_type and URL-safe base64; the
    # API's JSON parser takes either spelling and either alphabet (its own curl examples use inline_data).
    for part, data in ((first, image.data), (second, b"\xff\xd8second")):
        blob = part.get("inlineData") or part["inline_data"]
        assert (blob.get("mimeType") or blob["mime_type"]) == "image/jpeg"
        assert base64.urlsafe_b64decode(blob["data"]) == data  # the prepared JPEG, byte for byte
    assert text == {"text": "[photo] look at my new bike"}
    assert all(list(p) == ["text"] for c in body["contents"][:-1] for p in c["parts"])


async def test_a_prompt_without_images_reports_none_seen(server: ScriptedServer) -> None:
    server.expect(ROUTE, ok())
    assert (await llm(server).complete(PROMPT)).images == 0
    assert GeminiLLM.vision is True
