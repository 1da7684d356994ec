"""From a chat's context to a draft reply: guard, prompt, model, and a check of its answer.

The daemon's pipeline and `twin chat` both use this, so a persona tried in the terminal
behaves exactly as it will on Telegram.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from twin.clock import Clock
from twin.config import Settings
from twin.errors import ProviderError
from twin.llm.base import LLM
from twin.llm.chain import ModelChain, single
from twin.logs import secrets_of
from twin.persona.features import detect_language
from twin.persona.guard import GuardPolicy, check_output, policy_for, screen_incoming
from twin.persona.notes import ChatNote, chat_note
from twin.persona.profile import Persona, load_persona, named_persona_path
from twin.persona.prompt import PromptParts, assemble_prompt, build_prompt, chat_prompt
from twin.persona.sendable import shares_run, unsendable
from twin.persona.style import profile_for
from twin.types import Completion, HistoryMessage, Image, Prompt

if TYPE_CHECKING:
    from twin.db.store import Store

SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")
MEDIA_LINE = re.compile(r"\[[^\]\n]{1,80}\]")  # "[photo]", "[sticker 😂]": what came, in the twin's words
TEMPLATE_LEFTOVERS = ("<|im_start|>", "<|im_end|>", "<|endoftext|>", "<end_of_turn>", "<start_of_turn>")
NO_PROMPT = Prompt("", ())
RETRY_NOTE = ("\n\nYour last answer could not be sent: {why}. Answer again with one short, plain chat message "
              "as a person would type it{language}: no tags or markup, no role names, do not repeat the contact's "
              "words or your earlier messages.")
LANGUAGE_NAMES = {"ru": "Russian", "uk": "Ukrainian", "en": "English", "de": "German", "es": "Spanish", "fr": "French"}


@dataclass(frozen=True)
class Draft:
    """A reply to send (text) or the reason nothing is sent.

    status: answered | needs_owner (text is a deferral, sent, and the owner is told) |
    skipped | blocked (no text) | review (no text: `held` is a draft no person would send, kept for
    `twin review`). unsendable: what the sendable check found, attempt by attempt.
    """

    text: str | None
    status: str
    reason: str
    prompt: Prompt
    completion: Completion | None = None
    parts: PromptParts | None = None
    fallback: str = ""  # the fallback model that answered ("" for the primary), and why it had to
    fallback_why: str = ""
    held: str | None = None
    unsendable: tuple[str, ...] = ()


class Responder:
    """Screens the message, builds the prompt, calls the model with retries, and judges its answer."""

    def __init__(self, llm: LLM, persona: Persona, settings: Settings, clock: Clock,
                 store: Store | None = None) -> None:
        self.llm = llm
        # Retries, provider health and fallbacks live in the chain; a plain model becomes a chain of one.
        self.chain = llm if isinstance(llm, ModelChain) else single(llm, clock, retries=settings.llm.retries)
        self.persona = persona
        self.settings = settings
        self.clock = clock
        self.store = store
        self.profile = profile_for(settings.persona_path, persona.profile, settings.persona.profile_file)
        self.policy = policy_for(persona, settings.persona, self.profile, secrets=secrets_of(settings))
        self._named: dict[str, tuple[Persona, GuardPolicy]] = {}

    def persona_for(self, chat_id: int | None, note: ChatNote | None = None) -> tuple[Persona, GuardPolicy]:
        """The persona answering this chat (`twin persona note CHAT --persona work`) and its guard."""
        name = note.persona if note is not None else None
        entry = self.persona.chats.get(str(chat_id)) if chat_id is not None else None
        if not name and isinstance(entry, dict) and isinstance(entry.get("persona"), str):
            name = entry["persona"]
        if not name:
            return self.persona, self.policy
        if name not in self._named:
            persona = load_persona(named_persona_path(self.settings.persona_path, name), create=False)
            self._named[name] = (persona, policy_for(persona, self.settings.persona, self.profile,
                                                     secrets=secrets_of(self.settings)))
        return self._named[name]

    def _chat_style(self, chat_id: int | None) -> dict[str, Any]:
        chats = self.profile.get("chats")
        chat = chats.get(str(chat_id)) if isinstance(chats, dict) and chat_id is not None else None
        return chat if isinstance(chat, dict) else {}

    def _address(self, chat_id: int | None) -> str:
        return str(self._chat_style(chat_id).get("address", "unknown"))

    def language_for(self, chat_id: int | None) -> str | None:
        """The language a chat is usually in (learned), else the persona's: a hint for speech-to-text."""
        return str(self._chat_style(chat_id).get("language") or self.persona.language or "") or None

    def _prompt(self, persona: Persona, history: Sequence[HistoryMessage], text: str, contact: str,
                chat_id: int | None, note: ChatNote | None, images: Sequence[Image] = ()) -> PromptParts:
        options = self.settings.persona
        if self.store is not None and chat_id is not None:
            return chat_prompt(self.store, self.settings.account, options, persona, history, text, chat_id=chat_id,
                               contact=contact, profile=self.profile, note=note, images=images)
        return assemble_prompt(persona, history, text, contact=contact, profile=self.profile,
                               budget=options.prompt_tokens, disclose_ai=options.disclose_ai, images=images)

    async def draft(self, history: Sequence[HistoryMessage], text: str, *, contact: str,
                    chat_id: int | None = None, images: Sequence[Image] = ()) -> Draft:
        """A draft reply to `text` given the chat's earlier messages; ProviderError when the model fails.

        `images` (photos, video frames) go with the new message to a model that can see them.
        """
        limit = self.settings.rules.max_incoming_chars
        if len(text) > limit:
            text = text[:limit] + f"\n[… {len(text) - limit} more characters not shown]"
        address = self._address(chat_id)
        note = chat_note(self.store, self.settings.account, chat_id) \
            if self.store is not None and chat_id is not None else None
        persona, policy = self.persona_for(chat_id, note)
        first_reply = not any(m.outgoing for m in history)
        screen = screen_incoming(text, policy, first_reply=first_reply, address=address)
        if screen.action == "disclose":
            return Draft(screen.reply, "answered", screen.reason, NO_PROMPT)
        if screen.action == "defer":
            return Draft(screen.reply, "needs_owner", screen.reason, NO_PROMPT)
        parts = self._prompt(persona, history, text, contact, chat_id, note, images)
        answer = await self.chain.answer(parts.prompt)
        draft = self._judge(answer.completion, text, parts, policy, persona, address)
        draft = await self._sendable(draft, text, history, chat_id, parts, policy, persona, address)
        if answer.fallback:
            draft = replace(draft, fallback=answer.fallback, fallback_why=answer.why)
        if screen.prefix and draft.status == "answered" and draft.text:
            draft = replace(draft, text=f"{screen.prefix}\n\n{draft.text}")
        return draft

    def _judge(self, completion: Completion, text: str, parts: PromptParts, policy: GuardPolicy, persona: Persona,
               address: str) -> Draft:
        """The guard's verdict on a model's answer: answered, blocked, a deferral, or nothing."""
        reply = clean_reply(completion.text or "")
        if not reply:
            why = completion.reason or "empty response"
            status = "blocked" if why.startswith("blocked") else "skipped"
            return Draft(None, status, f"the model returned nothing ({why})", parts.prompt, completion, parts)
        verdict = check_output(reply, policy, incoming=text, protected=parts.protected,
                               allowed=persona.shareable, address=address)
        if verdict.status == "blocked":
            return Draft(None, "blocked", f"blocked: {verdict.reason}", parts.prompt, completion, parts)
        if verdict.status == "needs_owner":
            return Draft(verdict.replacement, "needs_owner", verdict.reason, parts.prompt, completion, parts)
        return Draft(reply, "answered", "", parts.prompt, completion, parts)

    async def _sendable(self, draft: Draft, text: str, history: Sequence[HistoryMessage], chat_id: int | None,
                        parts: PromptParts, policy: GuardPolicy, persona: Persona, address: str) -> Draft:
        """A reply no person would send gets one regeneration, told why; failing again, it waits for the owner."""
        if draft.status != "answered" or draft.text is None:
            return draft
        previous = next((m.text for m in reversed(history) if m.outgoing), "")
        languages = self._languages(chat_id, history)
        why = unsendable(draft.text, incoming=text, previous=previous, languages=languages, owner=persona.name)
        if why is None:
            return draft
        language = LANGUAGE_NAMES.get(detect_language(text) or next(iter(languages), ""), "")
        note = RETRY_NOTE.format(why=why, language=f", in {language}" if language else "")
        retry = Prompt(parts.prompt.system + note, parts.prompt.messages)
        try:
            completion = await self.chain.complete(retry)
        except ProviderError as exc:
            return Draft(None, "review", f"needs the owner: no person would send this reply ({why}); the retry "
                         f"failed ({exc}); the draft waits in twin review", parts.prompt, draft.completion, parts,
                         held=draft.text, unsendable=(why,))
        second = self._judge(completion, text, parts, policy, persona, address)
        if second.status not in ("answered", "skipped"):
            return replace(second, unsendable=(why,))
        if second.text is None:
            again: str | None = "the model returned nothing"
        elif shares_run(second.text, note, words=4):
            again = "it repeats the note about the last answer"
        else:
            again = unsendable(second.text, incoming=text, previous=previous, languages=languages, owner=persona.name)
        if again is None:
            return replace(second, unsendable=(why,))
        return Draft(None, "review", f"needs the owner: no person would send this reply ({why}; "
                     f"after one retry: {again}); the draft waits in twin review", parts.prompt, completion, parts,
                     held=second.text or draft.text, unsendable=(why, again))

    def _languages(self, chat_id: int | None, history: Sequence[HistoryMessage]) -> tuple[str, ...]:
        """The languages a chat is held in: learned from the owner's messages there, and the contact's recent ones."""
        learned = str(self._chat_style(chat_id).get("language") or "")
        return tuple(lang for lang in (learned, contact_language(history)) if lang)

    async def away_note(self, *, contact: str, back_at: str) -> str:
        """A short away message in the persona's voice (used when hours.outside = away)."""
        return await self._note(contact, f"You are away right now and will be back around {back_at}. Write one "
                                "short, friendly away note in your style. Promise nothing else.",
                                "Away right now, will get back to you later.")

    async def unheard_note(self, *, contact: str) -> str:
        """A short "can't listen right now, text me?" in the persona's voice (stt.answer_unheard)."""
        return await self._note(contact, "You got a voice message but cannot listen to it right now. Ask, in one "
                                "short line in your style, for a text instead.", "can't listen right now, text me?")

    async def _note(self, contact: str, instruction: str, fallback: str) -> str:
        prompt = build_prompt(self.persona, [], instruction, contact=contact)
        try:
            completion = await self.chain.complete(prompt)
        except ProviderError:  # an outage or a bad key (the owner hears of it once): the plain line will do
            return fallback
        text = clean_reply(completion.text or "")
        verdict = check_output(text, self.policy, protected=prompt.system) if text else None
        if not text or (verdict is not None and verdict.status != "ok") or unsendable(text) is not None:
            return fallback
        return text


def clean_reply(text: str) -> str:
    """Strip chat-template leftovers, surrounding quotes, and the loops a model falls into.

    A person never sends the same line or sentence twice in one message: repeats are dropped.
    """
    for token in TEMPLATE_LEFTOVERS:
        text = text.replace(token, "")
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'«":
        text = text[1:-1].strip()
    seen: set[str] = set()
    kept: list[str] = []
    for line in text.splitlines():
        fresh = []
        for sentence in (s.strip() for s in SENTENCE_END.split(line) if s.strip()):
            key = " ".join(sentence.lower().split())
            if key in seen and len(key.split()) >= 3:  # "no no no" is a person; a repeated sentence is a loop
                continue
            seen.add(key)
            fresh.append(sentence)
        if fresh or not line.strip():
            kept.append(" ".join(fresh))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()


def parts_json(parts: PromptParts | None) -> dict[str, Any]:
    """What went into a prompt, for `twin show` (never the secrets, never the whole system prompt)."""
    if parts is None:
        return {}
    return {
        "tokens": parts.tokens, "trimmed": parts.trimmed,
        "examples": [{"contact": e.exchange.contact_text, "owner": e.exchange.owner_text, "score": round(e.score, 3)}
                     for e in parts.examples],
        "notes": list(parts.notes),
    }


def contact_language(history: Sequence[HistoryMessage]) -> str:
    """The language of the contact's recent messages; media lines ("[photo]", "[sticker 😂]") are the twin's
    words for what came, not the contact's, and do not count."""
    return detect_language(" ".join(MEDIA_LINE.sub(" ", m.text) for m in history[-6:] if not m.outgoing))
