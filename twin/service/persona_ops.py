"""What `twin persona learn|show|note` and `twin eval` do; the CLI only parses and renders."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from twin.clock import SystemClock
from twin.config import Settings
from twin.errors import TwinError
from twin.persona.choice_eval import ChoiceReport
from twin.persona.eval import EvalReport, GuardReport, RunSummary
from twin.persona.learn import LearnProgress, LearnReport
from twin.persona.notes import ChatNote

if TYPE_CHECKING:
    from twin.db.store import Store
    from twin.persona.profile import Persona


@dataclass(frozen=True)
class PersonaView:
    """The persona as `twin persona show` prints it."""

    name: str
    file: Path
    profile_file: Path
    summary: list[str]
    notes: list[ChatNote]
    learned: bool


def _store_and_persona(settings: Settings) -> tuple[Store, Persona]:
    from twin.service.app import open_store, persona

    return open_store(settings), persona(settings)


async def learn_style(settings: Settings, *, max_dialogs: int, max_messages: int, pace_s: float,
                      on_progress: Callable[[LearnProgress], None] | None = None,
                      summarize: bool = False) -> tuple[LearnReport, Path]:
    """Read the owner's private chats (paced, resumable), store exchanges, write the style profile.

    Everything stays on this machine: no model is called while learning, unless `summarize` asks
    the configured model (perhaps a cloud one) to describe the style from a sample of your messages.
    """
    from twin.persona.learn import learn, learned_profile
    from twin.persona.style import profile_path, write_profile
    from twin.service.app import make_telegram

    store, _ = _store_and_persona(settings)
    telegram = make_telegram(settings)
    clock = SystemClock()
    me = await telegram.start()
    try:
        report = await learn(telegram, store, settings.account, clock=clock, max_dialogs=max_dialogs,
                             max_messages=max_messages, pace_s=pace_s, self_id=me.id, on_progress=on_progress)
    finally:
        await telegram.stop()
    path = profile_path(settings.persona_path, settings.persona.profile_file)
    write_profile(path, learned_profile(store, settings.account), learned_at=clock.now().isoformat(timespec="seconds"))
    if summarize:
        await _summarize(settings, store, path)
    return report, path


SUMMARY_SAMPLE = 40


async def _summarize(settings: Settings, store: Store, profile: Path) -> None:
    """Ask the configured model for a short description of the owner's texting style (opt-in)."""
    from twin.engine.responder import clean_reply
    from twin.llm.base import complete_with_retries
    from twin.persona.learn import load_samples
    from twin.persona.style import summary_path
    from twin.service.app import make_llm
    from twin.types import Prompt, PromptMessage

    owner, _, _ = load_samples(store, settings.account)
    sample = "\n".join(f"- {s.text}" for s in owner[-SUMMARY_SAMPLE:])
    if not sample:
        raise TwinError("no messages of yours were learned yet, so there is nothing to summarize")
    prompt = Prompt(
        system="You describe how a person writes chat messages, for someone who will imitate them. Three or four "
               "short sentences: length, tone, capitalisation, punctuation, emoji, languages, typical phrases. "
               "Never repeat names, places, numbers or other private details from the messages.",
        messages=(PromptMessage("user", f"Messages this person wrote:\n{sample}"),),
    )
    completion = await complete_with_retries(make_llm(settings), prompt, SystemClock(), retries=settings.llm.retries)
    text = clean_reply(completion.text or "")
    if not text:
        raise TwinError(f"the model wrote no summary ({completion.reason or 'empty response'})")
    summary_path(profile).write_text(text + "\n", encoding="utf-8")


def show(settings: Settings, chat_id: int | None = None) -> PersonaView:
    """The persona, its learned profile in short sentences, and the chats' notes."""
    from twin.persona.notes import all_notes
    from twin.persona.style import profile_for, profile_path, summary_lines

    store, persona = _store_and_persona(settings)
    path = profile_path(settings.persona_path, settings.persona.profile_file)
    profile = profile_for(settings.persona_path, persona.profile, settings.persona.profile_file)
    return PersonaView(persona.name, settings.persona_path, path, summary_lines(profile, chat_id),
                       all_notes(store, settings.account), path.exists())


def note(settings: Settings, chat: str, text: str | None, persona_name: str | None) -> int:
    """Set a chat's note and/or the persona that answers it; returns the chat id."""
    from twin.persona.notes import assign_persona, set_note
    from twin.persona.profile import load_persona, named_persona_path

    store, _ = _store_and_persona(settings)
    chat_id = store.resolve_chat(settings.account, chat)
    if chat_id is None:
        raise TwinError(f"no chat matches '{chat}' (use its id)")
    now = SystemClock().now()
    if text is not None:
        set_note(store, settings.account, chat_id, text, now=now)
    if persona_name is not None:
        if persona_name not in ("", "default"):
            load_persona(named_persona_path(settings.persona_path, persona_name), create=False)
        assign_persona(store, settings.account, chat_id, None if persona_name == "default" else persona_name, now=now)
    return chat_id


async def evaluate(settings: Settings, *, held_out: int | None = None, label: str = "") -> EvalReport:
    """Replay held-out real exchanges through the current persona and model; score and store the run."""
    from twin.persona.eval import EvalOptions, run_eval
    from twin.persona.style import profile_for
    from twin.service.app import make_llm

    store, persona = _store_and_persona(settings)
    options = EvalOptions(held_out=held_out or settings.persona.held_out, examples=settings.persona.examples,
                          budget=settings.persona.prompt_tokens, label=label, retries=settings.llm.retries,
                          profile=profile_for(settings.persona_path, persona.profile, settings.persona.profile_file))
    return await run_eval(store, settings.account, make_llm(settings), persona, clock=SystemClock(), options=options)


def compare(settings: Settings, limit: int = 10) -> list[RunSummary]:
    """The stored eval runs, newest first, each with its change from the one before."""
    from twin.persona.eval import compare_runs

    store, _ = _store_and_persona(settings)
    return compare_runs(store, settings.account, limit)


async def guard(settings: Settings, corpus: Path | None = None) -> GuardReport:
    """Run the guard corpus through the input guard, the model and the output check."""
    from twin.logs import secrets_of
    from twin.persona.eval import load_guard_corpus, run_guard
    from twin.persona.guard import policy_for
    from twin.persona.style import profile_for
    from twin.service.app import make_llm

    _, persona = _store_and_persona(settings)
    profile = profile_for(settings.persona_path, persona.profile, settings.persona.profile_file)
    policy = policy_for(persona, settings.persona, profile, secrets=secrets_of(settings))
    return await run_guard(make_llm(settings), persona, load_guard_corpus(corpus), clock=SystemClock(),
                           policy=policy, retries=settings.llm.retries)


async def choices(settings: Settings, corpus: Path | None = None) -> ChoiceReport:
    """Replay the choice corpus (reply, react or nothing?) as the daemon decides a turn, and score it.

    The configured persona, guard and models (fallbacks too) answer; no chat of yours is read.
    """
    from twin.engine.choice_replay import HOW, replay_chooser
    from twin.persona.choice_eval import load_choice_corpus, run_choices
    from twin.service.app import make_responder

    cases = load_choice_corpus(corpus)
    clock = SystemClock()
    responder = make_responder(settings, clock)
    chooser = replay_chooser(responder, settings.persona.react_to_acks, clock)
    return await run_choices(cases, chooser, provider=responder.llm.provider, model=responder.llm.model, how=HOW)
