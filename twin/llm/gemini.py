"""The Gemini adapter: google-genai's async client, converted to Completion at the boundary."""

from __future__ import annotations

from typing import TYPE_CHECKING

from twin.errors import ConfigError, ProviderError
from twin.llm.errors import http_error, one_line, transport_error, unexpected_error
from twin.types import CHOICE_SCHEMA, Completion, Prompt, PromptMessage

if TYPE_CHECKING:
    from google import genai
    from google.genai import types as genai_types

PROVIDER = "gemini"
GEMINI_URL = "https://generativelanguage.googleapis.com/"


class GeminiLLM:
    """Gemini through google-genai; the SDK is imported on first use, not at import time."""

    provider = PROVIDER
    vision = True  # every Gemini chat model takes images (inline_data parts)
    structured = True  # honours Prompt.structured: JSON of CHOICE_SCHEMA (responseJsonSchema)

    def __init__(
        self,
        api_key: str,
        model: str = "gemini-2.5-flash",
        base_url: str = "",
        timeout_s: float = 60,
        temperature: float = 0.7,
        max_output_tokens: int = 512,
    ) -> None:
        if not api_key:
            raise ConfigError("gemini: no API key; set GEMINI_API_KEY or choose another llm.provider")
        self.model = model
        self._api_key = api_key
        self._base_url = base_url
        self._timeout_s = timeout_s
        self._temperature = temperature
        self._max_output_tokens = max_output_tokens
        self._client: genai.Client | None = None

    def __repr__(self) -> str:
        # Spelled out so the API key can never reach a log line through repr().
        return f"GeminiLLM(model={self.model!r}, base_url={self._base_url!r})"

    def _get_client(self) -> genai.Client:
        if self._client is None:
            from google import genai
            from google.genai import types

            options = types.HttpOptions(
                # Explicit even for Google's own endpoint, so GOOGLE_GEMINI_BASE_URL in the
                # environment cannot redirect us: settings are resolved once, in twin.config.
                base_url=self._base_url or GEMINI_URL,
                # 3.x defaults to v1; v1beta is the surface the Gemini API documents for these fields.
                api_version="v1beta",
                timeout=int(self._timeout_s * 1000),  # milliseconds
                # One attempt: complete_with_retries owns retries, and with retry_options set the
                # SDK also skips its hidden 1-10 s sleep-and-retry on aiohttp connection errors.
                retry_options=types.HttpRetryOptions(attempts=1),
            )
            # vertexai=False for the same reason: GOOGLE_GENAI_USE_VERTEXAI would switch backends.
            self._client = genai.Client(vertexai=False, api_key=self._api_key, http_options=options)
        return self._client

    async def complete(self, prompt: Prompt) -> Completion:
        """Answer the prompt; ProviderError(retryable=...) when Gemini fails."""
        from google.genai import errors, types

        client = self._get_client()
        contents = [
            types.Content(role="model" if m.role == "assistant" else "user", parts=_parts(m))
            for m in prompt.messages
        ]
        images = sum(len(m.images) for m in prompt.messages)
        config = types.GenerateContentConfig(
            system_instruction=prompt.system or None,
            temperature=self._temperature,
            max_output_tokens=self._max_output_tokens,
            candidate_count=1,
            automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
        )
        if prompt.structured:  # reply / react / nothing as one JSON object
            config.response_mime_type, config.response_json_schema = "application/json", CHOICE_SCHEMA
        secrets = (self._api_key,)
        try:
            response = await client.aio.models.generate_content(
                model=self.model, contents=contents, config=config
            )
        except errors.APIError as exc:
            raise _api_error(exc, secrets) from None
        except Exception as exc:
            known = transport_error(PROVIDER, exc, secrets=secrets)
            if known is not None:
                raise known from None
            # Kept chained: an unknown failure is a bug to debug, and its traceback helps.
            raise unexpected_error(PROVIDER, exc, secrets=secrets) from exc
        return self._completion(response, images)

    def _completion(self, response: genai_types.GenerateContentResponse, images: int = 0) -> Completion:
        usage = response.usage_metadata
        tokens_in = tokens_out = 0
        if usage is not None:
            tokens_in = usage.prompt_token_count or 0
            # Thinking tokens are billed as output and count against max_output_tokens.
            tokens_out = (usage.candidates_token_count or 0) + (usage.thoughts_token_count or 0)

        def done(text: str | None, reason: str = "") -> Completion:
            return Completion(text, PROVIDER, self.model, reason, tokens_in, tokens_out, images)

        feedback = response.prompt_feedback
        if feedback is not None and feedback.block_reason:
            detail = f" ({feedback.block_reason_message})" if feedback.block_reason_message else ""
            return done(None, one_line(f"blocked: {_name(feedback.block_reason)}{detail}"))
        if not response.candidates:
            return done(None, "empty response")
        candidate = response.candidates[0]
        parts = candidate.content.parts if candidate.content and candidate.content.parts else []
        # Our own join instead of response.text: it skips thought parts the same way but does not
        # log a warning for every non-text part.
        text = "".join(p.text for p in parts if p.text and not p.thought).strip()
        finish = _name(candidate.finish_reason) if candidate.finish_reason else ""
        unusual = finish not in ("", "STOP", "FINISH_REASON_UNSPECIFIED")
        if text:
            # A reply cut at max_output_tokens is still sent; the reason keeps it visible.
            return done(text, f"finish: {finish}" if unusual else "")
        return done(None, f"finish: {finish}" if unusual else "empty response")


def _parts(message: PromptMessage) -> list[genai_types.Part]:
    """A message's parts: its images first (as inline_data: bytes and MIME type), then its text."""
    from google.genai import types

    parts = [types.Part(inline_data=types.Blob(data=image.data, mime_type=image.mime)) for image in message.images]
    return [*parts, types.Part(text=message.text)]


def _api_error(exc: BaseException, secrets: tuple[str, ...]) -> ProviderError:
    code = getattr(exc, "code", None)
    if not isinstance(code, int):
        return unexpected_error(PROVIDER, exc, secrets=secrets)
    status = getattr(exc, "status", None)
    message = getattr(exc, "message", None)
    detail = ": ".join(str(x) for x in (status, message) if x)
    return http_error(PROVIDER, code, detail, secrets=secrets)


def _name(value: object) -> str:
    # SDK enums carry the wire name in .value; plain strings pass through.
    return str(getattr(value, "value", value))
