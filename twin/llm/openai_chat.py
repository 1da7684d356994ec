"""The OpenAI-compatible chat adapter: OpenAI itself, Ollama, llama.cpp server, vLLM.

base_url is used exactly as given and must include the API prefix, usually `/v1`
(`http://127.0.0.1:11434/v1` for Ollama, `http://127.0.0.1:8080/v1` for llama.cpp server).
We do not guess a missing `/v1`: some servers mount the API elsewhere, and a wrong guess
would hide the mistake; a 404 error says to check the base_url instead.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

from twin.errors import ProviderError
from twin.llm.errors import http_error, transport_error, unexpected_error
from twin.types import CHOICE_SCHEMA, Completion, Prompt, PromptMessage

if TYPE_CHECKING:
    from openai import AsyncOpenAI
    from openai.types.chat import ChatCompletion, ChatCompletionContentPartParam, ChatCompletionMessageParam
    from openai.types.shared_params import ResponseFormatJSONSchema

PROVIDER = "openai"
OPENAI_URL = "https://api.openai.com/v1"
# Local servers ignore the key, but the SDK refuses to start without one.
PLACEHOLDER_KEY = "not-needed"
NOT_FOUND_HINT = "check the model name, and that base_url ends in the API prefix such as /v1"


class OpenAIChatLLM:
    """Chat completions through the openai SDK, imported on first use."""

    provider = PROVIDER
    structured = True  # honours Prompt.structured: response_format json_schema of CHOICE_SCHEMA

    def __init__(
        self,
        api_key: str,
        model: str = "gpt-4o-mini",
        base_url: str = "",
        timeout_s: float = 60,
        temperature: float = 0.7,
        max_output_tokens: int = 512,
        vision: bool | None = None,
    ) -> None:
        self.model = model
        self._api_key = api_key
        # Passed explicitly even for OpenAI itself, so the SDK never falls back to OPENAI_BASE_URL
        # from the environment: settings are resolved once, in twin.config.
        self._base_url = base_url or OPENAI_URL
        # OpenAI's own chat models take images; a compatible server's model may not (media.vision = on to try).
        self.vision = (self._base_url.rstrip("/") == OPENAI_URL) if vision is None else vision
        self._timeout_s = timeout_s
        self._temperature = temperature
        self._max_output_tokens = max_output_tokens
        self._client: AsyncOpenAI | None = None

    def __repr__(self) -> str:
        # Spelled out so the API key can never reach a log line through repr().
        return f"OpenAIChatLLM(model={self.model!r}, base_url={self._base_url!r})"

    def _get_client(self) -> AsyncOpenAI:
        if self._client is None:
            from openai import AsyncOpenAI

            self._client = AsyncOpenAI(
                api_key=self._api_key or PLACEHOLDER_KEY,
                base_url=self._base_url,
                timeout=self._timeout_s,
                max_retries=0,  # complete_with_retries owns retries
            )
        return self._client

    async def complete(self, prompt: Prompt) -> Completion:
        """Answer the prompt; ProviderError(retryable=...) when the server fails."""
        import openai

        client = self._get_client()
        messages: list[ChatCompletionMessageParam] = []
        if prompt.system:
            messages.append({"role": "system", "content": prompt.system})
        for m in prompt.messages:
            if m.role == "assistant":
                messages.append({"role": "assistant", "content": m.text})
            elif m.images:
                messages.append({"role": "user", "content": _content(m)})
            else:
                messages.append({"role": "user", "content": m.text})
        images = sum(len(m.images) for m in prompt.messages if m.role == "user")
        secrets = (self._api_key,)
        try:
            # max_tokens rather than max_completion_tokens: every compatible server knows it.
            completion = await client.chat.completions.create(
                model=self.model,
                messages=messages,
                temperature=self._temperature,
                max_tokens=self._max_output_tokens,
                response_format=_response_format(prompt) if prompt.structured else openai.omit,
            )
        except openai.APIStatusError as exc:
            raise http_error(
                PROVIDER, exc.status_code, _detail(exc.body), secrets=secrets, hint=NOT_FOUND_HINT
            ) from None
        except Exception as exc:
            # APIConnectionError and APITimeoutError wrap the httpx2 error that caused them.
            known = transport_error(PROVIDER, exc, secrets=secrets)
            if known is None and isinstance(exc, openai.APIConnectionError):
                known = ProviderError(f"{PROVIDER}: connection failed", retryable=True)
            if known is not None:
                raise known from None
            # Kept chained: an unknown failure is a bug to debug, and its traceback helps.
            raise unexpected_error(PROVIDER, exc, secrets=secrets) from exc
        return self._completion(completion, images)

    def _completion(self, completion: ChatCompletion, images: int = 0) -> Completion:
        usage = completion.usage
        tokens_in = usage.prompt_tokens or 0 if usage is not None else 0
        tokens_out = usage.completion_tokens or 0 if usage is not None else 0

        def done(text: str | None, reason: str = "") -> Completion:
            return Completion(text, PROVIDER, self.model, reason, tokens_in, tokens_out, images)

        if not completion.choices:
            return done(None, "empty response")
        choice = completion.choices[0]
        finish = str(choice.finish_reason or "")
        message = choice.message
        refusal = getattr(message, "refusal", None) if message is not None else None
        text = (message.content or "").strip() if message is not None else ""
        if refusal:
            return done(None, f"refused: {' '.join(str(refusal).split())[:200]}")
        if finish == "content_filter":
            return done(None, "blocked: content_filter")
        if text:
            # A reply cut at max_tokens is still sent; the reason keeps it visible.
            return done(text, "finish: length" if finish == "length" else "")
        return done(None, f"finish: {finish}" if finish not in ("", "stop") else "empty response")


def _content(message: PromptMessage) -> list[ChatCompletionContentPartParam]:
    """A user message with images: its text part, then each image as a base64 data: URL."""
    parts: list[ChatCompletionContentPartParam] = [{"type": "text", "text": message.text}]
    for image in message.images:
        url = f"data:{image.mime};base64,{base64.b64encode(image.data).decode('ascii')}"
        parts.append({"type": "image_url", "image_url": {"url": url}})
    return parts


def _response_format(prompt: Prompt) -> ResponseFormatJSONSchema:
    """Reply / react / nothing as one JSON object (strict: every field present)."""
    return {"type": "json_schema", "json_schema": {"name": "choice", "schema": CHOICE_SCHEMA, "strict": True}}


def _detail(body: object) -> str:
    # The SDK hands us the "error" object of the JSON body, or the raw text when it was not JSON.
    if isinstance(body, dict):
        message = body.get("message")
        return str(message) if message else ""
    return str(body) if body else ""
