"""A choice-corpus case decided the way the daemon decides a turn, for `twin eval --choices`.

The pipeline's path, step by step: the acknowledgement pre-check (twin.engine.choice.precheck)
first; else, inside `choosing(...)`, the responder drafts through its models wrapped in
ChoosingLLM, which asks for the structured answer and parses it into a Choice. What the eval
scores is that Choice (reply, react or nothing) and where it came from.
"""

from __future__ import annotations

import zlib

from twin.clock import Clock
from twin.engine.choice import AckPolicy, ack_policy, choose_with, choosing, precheck
from twin.engine.choice import Choice as Made
from twin.engine.responder import Draft, Responder
from twin.errors import ConfigError, ProviderError
from twin.persona.choice_eval import Choice, ChoiceCase, ChoiceKind, Chooser, history_of

HOW = ("as the daemon decides: the acknowledgement pre-check, then the model's structured choice "
       "(ChoosingLLM inside choosing())")
CONTACT = "Friend"


def case_seed(case: ChoiceCase) -> int:
    """A stable seed per case (the daemon draws one per turn): the same corpus scores the same way."""
    return zlib.crc32(case.id.encode("utf-8")) or 1


def _kind(action: str) -> ChoiceKind:
    return "react" if action == "react" else "nothing" if action == "nothing" else "reply"


def as_eval(made: Made, draft: Draft | None = None) -> Choice:
    """The engine's Choice as the eval scores it; a reply carries what the responder made of it."""
    if made.action != "reply" or draft is None:
        return Choice(_kind(made.action), made.text, made.emoji, made.note or made.reason, made.source)
    text = draft.text or draft.held or made.text
    reason = "" if draft.status == "answered" else f"{draft.status}: {draft.reason}"
    return Choice("reply", text, reason=reason or made.note or made.reason, source=made.source)


def without_model(draft: Draft) -> Choice:
    """No choice was parsed: the guard answered without the model, or the model said nothing."""
    if draft.completion is None and draft.text:
        return Choice("reply", draft.text, reason=draft.reason, source="guard")
    if draft.text:
        return Choice("reply", draft.text, reason=draft.reason, source="plain")
    return Choice("nothing", reason=draft.reason, source="empty")


def replay_chooser(responder: Responder, react_to_acks: str, clock: Clock) -> Chooser:
    """Decide each case as the pipeline does with this responder (its models get wrapped in ChoosingLLM)."""
    choose_with(responder)
    policy: AckPolicy = ack_policy(react_to_acks, responder.profile)

    async def choose(case: ChoiceCase) -> Choice:
        decided = precheck(list(case.messages), policy, case_seed(case))
        if decided is not None:
            return as_eval(decided)
        with choosing(policy) as asked:
            try:
                draft = await responder.draft(history_of(case, clock), case.text, contact=CONTACT)
            except (ProviderError, ConfigError) as exc:
                return Choice("nothing", reason=f"model failed: {exc}", source="failed")
        return without_model(draft) if asked.choice is None else as_eval(asked.choice, draft)

    return choose
