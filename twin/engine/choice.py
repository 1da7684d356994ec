"""Reply, react or stay quiet: the structured answer a model gives, read and checked here.

The pipeline asks inside `choosing(...)`; the ChoosingLLM wrapper (around the responder's model)
then adds the instruction, asks the provider for JSON where it can (Prompt.structured), and
parses the answer into a Choice. A "reply" goes on through the responder's checks as text; a
"react" or "nothing" comes back as no text and the Choice says what to do. A malformed answer
falls back to its usable text as a reply, and the Choice records why.

Acknowledgements are decided before any model is asked (`precheck`), so even a weak model
never answers "ok thanks 👍" with a message that restarts the conversation.
"""

from __future__ import annotations

import json
import logging
import random
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass, replace
from typing import Any

import sqlalchemy as sa

from twin.db.store import Store
from twin.db.tables import MessageRow
from twin.errors import ProviderError
from twin.llm.base import LLM
from twin.persona.acks import pure_acknowledgements, quote_target, valid_reaction
from twin.types import CHOICE_ACTIONS, Completion, Prompt, Turn

log = logging.getLogger("twin.choice")
REACT_SHARE = {"usually": 0.85, "sometimes": 0.4, "never": 0.0}
MIN_LEARNED = 10  # acknowledgements (or reactions) seen before the learned habit counts
FAVOURITE_SHARE = 0.6  # of the owner's reactions, one emoji's share that makes it their usual one
FALLBACK_REACTION = "👍"
_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.IGNORECASE)
_TEXT_FIELD = re.compile(r'"text"\s*:\s*"((?:[^"\\]|\\.)*)"')

INSTRUCTION = """How you answer: as on Telegram, you either reply with a message, react to the contact's \
last message with one emoji, or do nothing. Acknowledgements and closings ("ok", "thanks!", "👍", "haha", \
"спасибо") get a reaction or nothing, never a reply that restarts the conversation; anything that asks \
or needs an answer gets a reply.{habit}
Answer with one JSON object and nothing else:
{{"action": "reply" | "react" | "nothing", "text": "<the message when replying, else empty>", \
"emoji": "<one emoji when reacting, else empty>", "reason": "<a few words on why>"}}
Reactions you can use: 👍 ❤ 🤣 😁 🔥 🙏 👌 🎉 😢 🤔 🤝 👏 💯 😍 🫡"""


@dataclass(frozen=True)
class Choice:
    """What the twin does with a turn, and why.

    source: model (a valid structured answer) | plain (the provider answered in text) |
    malformed (a broken structured answer; its text, if any, is the reply) | precheck (decided
    without the model).
    """

    action: str  # reply | react | nothing
    text: str = ""
    emoji: str = ""
    reason: str = ""
    source: str = "model"
    note: str = ""  # what was wrong with the answer, when something was

    def as_dict(self) -> dict[str, object]:
        """For the turn's record (a reply's text is the turn's reply_text already)."""
        return {k: v for k, v in asdict(self).items() if (v or k == "action") and k != "text"}


@dataclass(frozen=True)
class AckPolicy:
    """How the owner treats acknowledgements: react_to_acks usually | sometimes | never | ask (the model decides)."""

    mode: str
    source: str  # "setting" or what was learned
    emoji: str = ""  # the owner's usual reaction, when learned and clear (else each acknowledgement's own)

    @property
    def habit(self) -> str:
        usual = f" (most often with {self.emoji})" if self.emoji else ""
        return {"usually": f" You usually react to acknowledgements{usual}.",
                "sometimes": f" You sometimes react to acknowledgements{usual} and often just leave them.",
                "never": " You do not react to acknowledgements: you leave them without an answer."}.get(self.mode, "")


def usual_reaction(reactions: object) -> str:
    """The owner's reaction on contacts' messages when one emoji makes most of them (FAVOURITE_SHARE), else ""."""
    if not isinstance(reactions, Mapping):
        return ""
    counts = {str(k): int(v or 0) for k, v in reactions.items() if k not in ("messages", "reacted")}
    total = max(sum(counts.values()), int(reactions.get("reacted", 0) or 0))  # the profile keeps the top five only
    if not counts or total < MIN_LEARNED:
        return ""
    emoji, count = max(counts.items(), key=lambda kv: kv[1])
    return (valid_reaction(emoji) or "") if count >= FAVOURITE_SHARE * total else ""


def ack_policy(setting: str, profile: Mapping[str, Any]) -> AckPolicy:
    """The setting, unless the learned profile shows the owner's habit: answering acknowledgements with text
    (the model decides), or how often they react to them (read from the reactions in their chats)."""
    acks = profile.get("acks")
    emoji = usual_reaction(profile.get("reactions"))
    if isinstance(acks, Mapping):
        seen, answered = int(acks.get("seen", 0) or 0), int(acks.get("answered", 0) or 0)
        if seen >= MIN_LEARNED and answered * 2 >= seen:
            return AckPolicy("ask", f"learned: the owner answered {answered} of {seen} acknowledgements", emoji)
        checked, reacted = int(acks.get("checked", 0) or 0), int(acks.get("reacted", 0) or 0)
        if checked >= MIN_LEARNED:
            share = reacted / checked
            mode = min(REACT_SHARE, key=lambda m: abs(REACT_SHARE[m] - share))
            return AckPolicy(mode, f"learned: the owner reacted to {reacted} of {checked} acknowledgements", emoji)
    return AckPolicy(setting if setting in (*REACT_SHARE, "ask") else "usually", "setting", emoji)


def precheck(texts: Sequence[str], policy: AckPolicy, seed: int) -> Choice | None:
    """React or stay quiet on a burst of pure acknowledgements, without the model; None: ask the model."""
    emoji = pure_acknowledgements(texts)
    if emoji is None or policy.mode == "ask":
        return None
    why = f"persona.react_to_acks = {policy.mode}" if policy.source == "setting" else policy.source
    if random.Random(seed).random() < REACT_SHARE[policy.mode]:
        return Choice("react", emoji=policy.emoji or emoji, reason=f"an acknowledgement ({why})", source="precheck")
    return Choice("nothing", reason=f"an acknowledgement, left without an answer ({why})", source="precheck")


def _json_object(raw: str) -> tuple[dict[str, Any] | None, str]:
    text = _FENCE.sub("", raw.strip()).strip()
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return None, "not JSON"
    try:
        data = json.loads(text[start:end + 1])
    except json.JSONDecodeError as exc:
        return None, f"invalid JSON ({exc.msg})"
    return (data, "") if isinstance(data, dict) else (None, "not a JSON object")


def _salvage(raw: str, why: str) -> Choice:
    """A broken structured answer: its text becomes the reply when there is any."""
    found = _TEXT_FIELD.search(raw)
    if found:
        try:
            text = str(json.loads(f'"{found.group(1)}"')).strip()
        except json.JSONDecodeError:
            text = found.group(1).strip()
    else:
        looks_json = raw.lstrip().startswith(("{", "```")) or '"action"' in raw
        text = "" if looks_json else raw.strip()
    note = f"malformed structured answer: {why}"
    if text:
        return Choice("reply", text=text, reason="fell back to the answer's text", source="malformed", note=note)
    return Choice("nothing", reason="the answer had no usable text", source="malformed", note=note)


def parse_choice(raw: str | None, structured: bool = True) -> Choice | None:
    """The Choice in a model's answer; None when it said nothing at all."""
    if raw is None or not raw.strip():
        return None
    data, why = _json_object(raw)
    if data is None:
        return _salvage(raw, why) if structured else Choice("reply", text=raw.strip(), source="plain")
    action = str(data.get("action", "")).strip().lower()
    reason = " ".join(str(data.get("reason", "") or "").split())[:200]
    text = str(data.get("text", "") or "").strip()
    if action not in CHOICE_ACTIONS:
        return _salvage(raw, f"unknown action {action!r}")
    if action == "reply":
        return Choice("reply", text=text, reason=reason) if text else _salvage(raw, "a reply without text")
    if action == "react":
        emoji = valid_reaction(str(data.get("emoji", "") or ""))
        if emoji is None:
            return Choice("react", emoji=FALLBACK_REACTION, reason=reason,
                          note=f"{str(data.get('emoji', ''))[:8]!r} is not a Telegram reaction: "
                               f"{FALLBACK_REACTION} instead")
        return Choice("react", emoji=emoji, reason=reason)
    return Choice("nothing", reason=reason)


@dataclass
class Asked:
    """One choosing request: the instruction given, and the choice the model made."""

    instruction: str
    choice: Choice | None = None
    structured: bool = False


_ASKED: ContextVar[Asked | None] = ContextVar("twin_choosing", default=None)


@contextmanager
def choosing(policy: AckPolicy) -> Iterator[Asked]:
    """Within this block (this task only), the wrapped model is asked to reply, react or do nothing."""
    asked = Asked(INSTRUCTION.format(habit=policy.habit))
    token = _ASKED.set(asked)
    try:
        yield asked
    finally:
        _ASKED.reset(token)


class ChoosingLLM:
    """Wraps a model: inside `choosing`, asks for the structured answer and parses it; elsewhere passes through.

    Providers that can be asked for JSON say so with a class attribute `structured = True`; a
    server that rejects the JSON request (HTTP 400) is asked in plain text from then on.
    """

    def __init__(self, inner: LLM) -> None:
        self.inner = inner
        self.provider = inner.provider
        self.model = inner.model
        self.plain_only = False

    def __repr__(self) -> str:
        return f"ChoosingLLM({self.inner!r})"

    async def complete(self, prompt: Prompt) -> Completion:
        asked = _ASKED.get()
        if asked is None:
            return await self.inner.complete(prompt)
        structured = bool(getattr(self.inner, "structured", False)) and not self.plain_only
        completion: Completion | None = None
        if structured:
            try:
                completion = await self.inner.complete(
                    replace(prompt, system=f"{prompt.system}\n\n{asked.instruction}", structured=True))
            except ProviderError as exc:
                if exc.status != 400:
                    raise
                log.warning("%s rejected the structured request (%s): asking in plain text", self.provider, exc)
                self.plain_only, structured = True, False
        if completion is None:
            completion = await self.inner.complete(prompt)
        choice = parse_choice(completion.text, structured)
        asked.choice, asked.structured = choice, structured
        if choice is None or choice.action == "reply":
            return completion if choice is None else replace(completion, text=choice.text)
        return replace(completion, text=None, reason=f"chose {choice.action}")


def choose_with(responder: Any) -> None:
    """Wrap the responder's models in ChoosingLLM: every model of its chain (fallbacks too), else its llm.

    Duck-typed on purpose: a responder with a model chain (`chain.models[i].llm`) and one with a
    single `llm` are both handled; wrapping twice is harmless (already wrapped models are kept).
    """
    models = getattr(getattr(responder, "chain", None), "models", None)
    holders = list(models) if isinstance(models, list) else [responder]
    for holder in holders:
        if not isinstance(holder.llm, ChoosingLLM):
            holder.llm = ChoosingLLM(holder.llm)


def reply_to_for(store: Store, account: str, turn: Turn) -> int | None:
    """The message a reply to this turn quotes (see twin.persona.acks.quote_target), from the stored messages."""
    ids = list(turn.incoming_ids)
    if not ids:
        return None
    m = MessageRow
    with store.session() as s:
        texts = dict(s.execute(sa.select(m.message_id, m.text).where(
            m.account == account, m.chat_id == turn.chat_id, m.message_id.in_(ids))).all())
        later = s.scalar(sa.select(m.message_id).where(
            m.account == account, m.chat_id == turn.chat_id, m.message_id > max(ids), m.outgoing.is_(False),
            m.message_id.not_in(ids)).limit(1))
    return quote_target([(i, texts.get(i, "")) for i in ids], later is not None)
