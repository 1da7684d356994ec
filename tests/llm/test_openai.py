"""OpenAIChatLLM through the real openai SDK against a local scripted server."""

from __future__ import annotations

import pytest

from tests.fakes import FakeClock
from tests.httpserver import Reply, ScriptedServer, closed_port, raw_server
from twin.errors import ProviderError
from twin.llm.base import complete_with_retries
from twin.llm.openai_chat import OpenAIChatLLM
from twin.types import Prompt, PromptMessage

KEY = "sk-test-secret-key-123456"
PROMPT = Prompt(
    system="You are Alex, replying in a private Telegram chat with Alice.",
    messages=(
        PromptMessage("user", "hi!"),
        PromptMessage("assistant", "hey, what's up"),
        PromptMessage("user", "dinner tonight?"),
    ),
)
ROUTE = "/v1/chat/completions"


def ok(content: str | None = "sure, 8pm", finish: str = "stop", **extra: object) -> Reply:
    body: dict[str, object] = {
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish}],
        "usage": {"prompt_tokens": 31, "completion_tokens": 4, "total_tokens": 35},
    }
    body.update(extra)
    return Reply(200, body)


def error(code: int, message: str = "nope", kind: str = "invalid_request_error") -> Reply:
    return Reply(code, {"error": {"message": message, "type": kind, "code": None, "param": None}})


def llm(server: ScriptedServer, temperature: float = 0.7, max_output_tokens: int = 512) -> OpenAIChatLLM:
    return OpenAIChatLLM(
        KEY, base_url=server.url + "/v1", timeout_s=5, temperature=temperature, max_output_tokens=max_output_tokens
    )


async def test_request_shape_and_parsing(server: ScriptedServer) -> None:
    server.expect(ROUTE, ok("  sure, 8pm \n"))
    completion = await llm(server, temperature=0.3, max_output_tokens=77).complete(PROMPT)

    assert (completion.text, completion.provider, completion.model) == ("sure, 8pm", "openai", "gpt-4o-mini")
    assert (completion.tokens_in, completion.tokens_out, completion.reason) == (31, 4, "")
    [request] = server.requests
    assert (request.method, request.path) == ("POST", "/v1/chat/completions")
    assert request.headers["authorization"] == f"Bearer {KEY}"
    body = request.json()
    assert isinstance(body, dict)
    assert body["model"] == "gpt-4o-mini"
    assert body["messages"] == [
        {"role": "system", "content": PROMPT.system},
        {"role": "user", "content": "hi!"},
        {"role": "assistant", "content": "hey, what's up"},
        {"role": "user", "content": "dinner tonight?"},
    ]
    assert (body["temperature"], body["max_tokens"]) == (0.3, 77)
    assert "stream" not in body or body["stream"] is False


async def test_a_local_server_gets_a_placeholder_key_and_the_url_as_given(server: ScriptedServer) -> None:
    server.expect("/api/v1/chat/completions", ok("hi"))
    model = OpenAIChatLLM("", model="smollm2", base_url=server.url + "/api/v1")
    completion = await model.complete(Prompt(system="", messages=(PromptMessage("user", "yo"),)))
    assert completion.text == "hi"
    [request] = server.requests
    assert request.path == "/api/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer not-needed"
    body = request.json()
    assert isinstance(body, dict)
    assert (body["model"], body["messages"]) == ("smollm2", [{"role": "user", "content": "yo"}])


async def test_minimal_response_without_usage(server: ScriptedServer) -> None:
    server.expect(ROUTE, Reply(200, {"choices": [{"message": {"content": "x"}}]}))
    completion = await llm(server).complete(PROMPT)
    assert (completion.text, completion.tokens_in, completion.tokens_out) == ("x", 0, 0)


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (ok(None), "empty response"),
        (ok("   "), "empty response"),
        (ok(None, "length"), "finish: length"),
        (ok("some filtered text", "content_filter"), "blocked: content_filter"),
        (ok(None, "content_filter"), "blocked: content_filter"),
        (Reply(200, {"choices": []}), "empty response"),
        (Reply(200, {"choices": [{"message": {"content": None, "refusal": "I can't help with that."},
                                  "finish_reason": "stop"}]}), "refused: I can't help with that."),
    ],
)
async def test_nothing_to_send_says_why(server: ScriptedServer, reply: Reply, reason: str) -> None:
    server.expect(ROUTE, reply)
    completion = await llm(server).complete(PROMPT)
    assert (completion.text, completion.reason) == (None, reason)


async def test_a_reply_cut_at_the_token_limit_is_kept_with_a_reason(server: ScriptedServer) -> None:
    server.expect(ROUTE, ok("sure, let me", "length"))
    completion = await llm(server).complete(PROMPT)
    assert (completion.text, completion.reason) == ("sure, let me", "finish: length")


async def test_429_is_retryable(server: ScriptedServer) -> None:
    server.expect(ROUTE, error(429, "Rate limit reached for gpt-4o-mini", "requests"))
    with pytest.raises(ProviderError) as caught:
        await llm(server).complete(PROMPT)
    assert (caught.value.retryable, caught.value.status) == (True, 429)
    assert str(caught.value) == "openai: HTTP 429 rate limited: Rate limit reached for gpt-4o-mini"
    assert len(server.requests) == 1  # the SDK itself did not retry


@pytest.mark.parametrize("code", [400, 401, 403, 404])
async def test_client_errors_are_final(server: ScriptedServer, code: int) -> None:
    server.expect(ROUTE, error(code))
    with pytest.raises(ProviderError) as caught:
        await llm(server).complete(PROMPT)
    assert (caught.value.retryable, caught.value.status) == (False, code)
    assert str(caught.value).startswith(f"openai: HTTP {code} ")
    assert len(server.requests) == 1


async def test_a_base_url_without_v1_is_not_guessed_and_the_404_says_so(server: ScriptedServer) -> None:
    model = OpenAIChatLLM("", base_url=server.url)
    with pytest.raises(ProviderError) as caught:
        await model.complete(PROMPT)
    assert server.requests[0].path == "/chat/completions"
    assert "base_url" in str(caught.value) and "/v1" in str(caught.value)
    assert not caught.value.retryable


async def test_the_key_is_blanked_even_when_the_server_echoes_it(server: ScriptedServer) -> None:
    server.expect(ROUTE, error(401, f"Incorrect API key provided: {KEY}.\nYou can find your key at ..."))
    with pytest.raises(ProviderError) as caught:
        await llm(server).complete(PROMPT)
    message = str(caught.value)
    assert KEY not in message and "***" in message
    assert "\n" not in message


async def test_a_non_json_error_page_is_one_line(server: ScriptedServer) -> None:
    server.expect(ROUTE, Reply(502, "<html>\n<body>Bad Gateway</body>\n</html>"))
    with pytest.raises(ProviderError) as caught:
        await llm(server).complete(PROMPT)
    assert (caught.value.retryable, caught.value.status) == (True, 502)
    assert str(caught.value).startswith("openai: HTTP 502 bad gateway")
    assert "\n" not in str(caught.value)


async def test_429_then_success_through_the_retry_policy(server: ScriptedServer) -> None:
    server.expect(ROUTE, error(429), ok("on my way"))
    clock = FakeClock()
    completion = await complete_with_retries(llm(server), PROMPT, clock, retries=3)
    assert completion.text == "on my way"
    assert len(server.requests) == 2
    assert len(clock.slept) == 1


async def test_500_until_the_retries_run_out(server: ScriptedServer) -> None:
    server.expect(ROUTE, *[error(500, "The server had an error", "server_error")] * 3)
    clock = FakeClock()
    with pytest.raises(ProviderError) as caught:
        await complete_with_retries(llm(server), PROMPT, clock, retries=2)
    assert (caught.value.retryable, caught.value.status) == (True, 500)
    assert len(server.requests) == 3
    assert len(clock.slept) == 2


async def test_connection_refused_is_retryable() -> None:
    model = OpenAIChatLLM(KEY, base_url=f"http://127.0.0.1:{closed_port()}/v1", timeout_s=5)
    with pytest.raises(ProviderError) as caught:
        await model.complete(PROMPT)
    assert caught.value.retryable
    assert str(caught.value) == "openai: connection refused (APIConnectionError)"


@pytest.mark.parametrize(
    ("mode", "expected"),
    [("silent", "timed out (APITimeoutError)"), ("reset", "connection reset (APIConnectionError)")],
)
async def test_timeouts_and_resets_are_retryable(mode: str, expected: str) -> None:
    with raw_server(mode) as port:
        model = OpenAIChatLLM(KEY, base_url=f"http://127.0.0.1:{port}/v1", timeout_s=0.2)
        with pytest.raises(ProviderError) as caught:
            await model.complete(PROMPT)
    assert caught.value.retryable
    assert str(caught.value) == f"openai: {expected}"


def test_repr_hides_the_key() -> None:
    assert KEY not in repr(OpenAIChatLLM(KEY))


async def test_a_photo_reaches_openai_as_an_image_url_data_url(server: ScriptedServer, tmp_path) -> None:
    import base64
    import subprocess

    from twin.media.image import prepare_image

    source = tmp_path / "photo.jpg"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=2000x1500",
                    "-frames:v", "1", str(source)], check=True, timeout=60)
    image = await prepare_image(source.read_bytes())
    new = PromptMessage("user", "[photo] look at my new bike", (image,))
    prompt = Prompt(PROMPT.system, (*PROMPT.messages[:2], new))
    server.expect(ROUTE, ok("wow, nice bike!"))
    completion = await llm(server).complete(prompt)

    assert completion.text == "wow, nice bike!" and completion.images == 1
    messages = server.requests[0].json()["messages"]
    assert messages[1] == {"role": "user", "content": "hi!"}  # text-only turns stay plain strings
    text, picture = messages[-1]["content"]
    assert messages[-1]["role"] == "user" and text == {"type": "text", "text": "[photo] look at my new bike"}
    assert picture["type"] == "image_url"
    prefix = "data:image/jpeg;base64,"
    url = picture["image_url"]["url"]
    assert url.startswith(prefix) and base64.b64decode(url[len(prefix):]) == image.data


def test_vision_is_assumed_for_openai_itself_only() -> None:
    assert OpenAIChatLLM(KEY).vision
    assert not OpenAIChatLLM(KEY, base_url="http://127.0.0.1:11434/v1").vision
    assert OpenAIChatLLM(KEY, base_url="http://127.0.0.1:11434/v1", vision=True).vision
