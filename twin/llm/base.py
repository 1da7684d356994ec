"""The LLM seam and the one retry policy every provider goes through."""

from __future__ import annotations

import random
from typing import Protocol

from twin.clock import Clock
from twin.errors import ProviderError
from twin.types import Completion, Prompt


class LLM(Protocol):
    """A chat model: a prompt in, a completion out."""

    provider: str
    model: str

    async def complete(self, prompt: Prompt) -> Completion:
        """Answer the prompt; ProviderError(retryable=...) when the provider fails."""
        ...


async def complete_with_retries(
    llm: LLM, prompt: Prompt, clock: Clock, *, retries: int, base_delay_s: float = 1.0,
    rng: random.Random | None = None,
) -> Completion:
    """Call the model, retrying retryable failures with jittered exponential backoff."""
    if getattr(llm, "owns_retries", False):
        return await llm.complete(prompt)  # a model chain retries (and falls back) by itself
    rng = rng or random.Random()
    attempt = 0
    while True:
        try:
            return await llm.complete(prompt)
        except ProviderError as exc:
            if not exc.retryable or attempt >= retries:
                raise
            delay = base_delay_s * (2**attempt) * (0.5 + rng.random())
            attempt += 1
            await clock.sleep(min(delay, 60.0))
