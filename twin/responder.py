"""From a chat's context to a draft reply: prompt, model, and what to do with its answer.

The daemon's pipeline and `twin chat` both use this, so a persona tried in the terminal
behaves exactly as it will on Telegram.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from twin.clock import Clock
from twin.config import Settings
from twin.persona.llm import LLM, complete_with_retries
from twin.persona.profile import Persona
from twin.persona.prompt import build_prompt
from twin.types import Completion, HistoryMessage, Prompt

TEMPLATE_LEFTOVERS = ("<|im_start|>", "<|im_end|>", "<|endoftext|>", "<end_of_turn>", "<start_of_turn>")


@dataclass(frozen=True)
class Draft:
    """A reply to send (text) or the reason nothing is sent (status, reason)."""

    text: str | None
    status: str  # "answered" when there is text to send; else skipped | blocked | needs_owner
    reason: str
    prompt: Prompt
    completion: Completion | None = None


class Responder:
    """Builds the prompt, calls the model with retries, and judges its answer."""

    def __init__(self, llm: LLM, persona: Persona, settings: Settings, clock: Clock) -> None:
        self.llm = llm
        self.persona = persona
        self.settings = settings
        self.clock = clock

    async def draft(self, history: Sequence[HistoryMessage], text: str, *, contact: str) -> Draft:
        """A draft reply to `text` given the chat's earlier messages; ProviderError when the model fails."""
        limit = self.settings.rules.max_incoming_chars
        if len(text) > limit:
            text = text[:limit] + f"\n[… {len(text) - limit} more characters not shown]"
        prompt = build_prompt(self.persona, history, text, contact=contact)
        completion = await complete_with_retries(
            self.llm, prompt, self.clock, retries=self.settings.llm.retries
        )
        reply = clean_reply(completion.text or "")
        if not reply:
            why = completion.reason or "empty response"
            status = "blocked" if why.startswith("blocked") else "skipped"
            return Draft(None, status, f"the model returned nothing ({why})", prompt, completion)
        return Draft(reply, "answered", "", prompt, completion)

    async def away_note(self, *, contact: str, back_at: str) -> str:
        """A short away message in the persona's voice (used when hours.outside = away)."""
        note = (f"You are away right now and will be back around {back_at}. Write one short, friendly away "
                "note in your style. Promise nothing else.")
        prompt = build_prompt(self.persona, [], note, contact=contact)
        completion = await complete_with_retries(self.llm, prompt, self.clock, retries=self.settings.llm.retries)
        text = clean_reply(completion.text or "")
        return text or "Away right now, will get back to you later."


def clean_reply(text: str) -> str:
    """Strip chat-template leftovers and surrounding quotes a model may add."""
    for token in TEMPLATE_LEFTOVERS:
        text = text.replace(token, "")
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'«":
        text = text[1:-1].strip()
    return text
