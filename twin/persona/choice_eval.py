"""`twin eval --choices`: does the twin reply, react or stay quiet where a person would?

A corpus of short exchanges (tests/data/choice_corpus.toml) says, for each, what most people
would do: reply, react (one emoji on the contact's message) or nothing. A Chooser gives the
model's choice for a case as a Choice value; score_choices() compares them: the exact agreement
(the choice is the expected one), the acceptable agreement (or one of the case's `also`), and a
confusion count expected -> chosen.

Until models answer with a structured choice, text_chooser() derives it from the plain reply by
one documented rule (choice_from_text): no text -> nothing; only emoji -> react with the first;
anything else -> reply. A structured answer drops in as another Chooser returning Choice values.
"""

from __future__ import annotations

import tomllib
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from twin.clock import Clock
from twin.errors import ConfigError, ProviderError
from twin.llm.base import LLM, complete_with_retries
from twin.persona import lexicon as lx
from twin.persona.profile import Persona
from twin.persona.prompt import assemble_prompt
from twin.types import HistoryMessage

ChoiceKind = Literal["react", "reply", "nothing"]
CHOICES: tuple[ChoiceKind, ...] = ("reply", "react", "nothing")
DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "tests" / "data" / "choice_corpus.toml"
DERIVED_RULE = "derived from the plain reply: no text -> nothing, only emoji -> react, else reply"


@dataclass(frozen=True, slots=True)
class ChoiceCase:
    """One exchange: the chat so far (from_owner, text), what the contact sent, and what a person would do."""

    id: str
    lang: str
    messages: tuple[str, ...]
    expect: ChoiceKind
    context: tuple[tuple[bool, str], ...] = ()
    emoji: str = ""
    also: tuple[ChoiceKind, ...] = ()
    note: str = ""

    @property
    def text(self) -> str:
        """The contact's messages folded into one turn, as the twin folds a burst."""
        return "\n".join(self.messages)


@dataclass(frozen=True, slots=True)
class Choice:
    """What the twin chose: reply (text), react (emoji) or nothing, and why (a failure, the rule used)."""

    kind: ChoiceKind
    text: str = ""
    emoji: str = ""
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ChoiceResult:
    case: ChoiceCase
    choice: Choice

    @property
    def exact(self) -> bool:
        return self.choice.kind == self.case.expect

    @property
    def acceptable(self) -> bool:
        return self.exact or self.choice.kind in self.case.also


@dataclass(frozen=True)
class ChoiceReport:
    """Agreement of the twin's choices with the corpus, overall, per language and as a confusion count."""

    results: tuple[ChoiceResult, ...]
    provider: str = ""
    model: str = ""
    rule: str = ""  # how the choices were obtained

    @property
    def agreement(self) -> float:
        """Percent of cases where the choice is exactly the expected one."""
        return _percent(sum(r.exact for r in self.results), len(self.results))

    @property
    def acceptable(self) -> float:
        """Percent of cases where the choice is the expected one or one of its `also`."""
        return _percent(sum(r.acceptable for r in self.results), len(self.results))

    @property
    def confusion(self) -> dict[tuple[str, str], int]:
        """(expected, chosen) -> cases, every pair of CHOICES present (zeros included)."""
        counted = Counter((r.case.expect, r.choice.kind) for r in self.results)
        return {(e, c): counted.get((e, c), 0) for e in CHOICES for c in CHOICES}

    def by_language(self) -> dict[str, float]:
        """Exact agreement per language of the corpus."""
        languages = sorted({r.case.lang for r in self.results})
        return {lang: _percent(sum(r.exact for r in self.results if r.case.lang == lang),
                               sum(1 for r in self.results if r.case.lang == lang)) for lang in languages}


def _percent(part: int, whole: int) -> float:
    return round(100 * part / whole, 1) if whole else 0.0


def _kind(value: object, where: str) -> ChoiceKind:
    for kind in CHOICES:
        if value == kind:
            return kind
    raise ConfigError(f"{where}: choice must be one of {', '.join(CHOICES)}, not {value!r}")


def _context(raw: object, where: str) -> tuple[tuple[bool, str], ...]:
    entries: list[tuple[bool, str]] = []
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, dict) or len(item) != 1 or next(iter(item)) not in ("owner", "contact"):
            raise ConfigError(f"{where}: each context entry is {{ owner = \"...\" }} or {{ contact = \"...\" }}")
        who, text = next(iter(item.items()))
        entries.append((who == "owner", str(text)))
    return tuple(entries)


def load_choice_corpus(path: Path | None = None) -> list[ChoiceCase]:
    """The corpus's [[case]] tables; ConfigError naming the case when one is malformed."""
    path = path or DEFAULT_CORPUS
    if not path.is_file():
        raise ConfigError(f"no choice corpus at {path} (pass --corpus FILE)")
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    cases: list[ChoiceCase] = []
    for index, c in enumerate(raw.get("case", []), 1):
        where = f"{path.name} case {c.get('id', index)}"
        messages = tuple(str(m) for m in c.get("messages", []) if str(m).strip())
        if not messages:
            raise ConfigError(f"{where}: messages is empty")
        cases.append(ChoiceCase(
            id=str(c.get("id", index)), lang=str(c.get("lang", "")), messages=messages,
            expect=_kind(c.get("expect"), where), context=_context(c.get("context", []), where),
            emoji=str(c.get("emoji", "")), also=tuple(_kind(a, where) for a in c.get("also", [])),
            note=str(c.get("note", "")),
        ))
    return cases


def choice_from_text(text: str | None, reason: str = "") -> Choice:
    """The DERIVED_RULE: a plain reply read as a choice (until models answer with a structured one)."""
    text = (text or "").strip()
    if not text:
        return Choice("nothing", reason=reason or "no text")
    emoji = lx.EMOJI.findall(text)
    rest = lx.EMOJI.sub("", text).replace("\ufe0f", "").strip()
    if emoji and not rest:
        return Choice("react", emoji=emoji[0], reason="only emoji")
    return Choice("reply", text=text)


Chooser = Callable[[ChoiceCase], Awaitable[Choice]]


def history_of(case: ChoiceCase, clock: Clock) -> list[HistoryMessage]:
    """The case's context as the chat history a prompt is built from."""
    now = clock.now()
    return [HistoryMessage(i, now, owner, text) for i, (owner, text) in enumerate(case.context, 1)]


def text_chooser(llm: LLM, persona: Persona, *, clock: Clock, retries: int = 1,
                 budget: int | None = 3000) -> Chooser:
    """Ask the model for a plain reply with the twin's prompt, and read it as a choice (DERIVED_RULE)."""

    async def choose(case: ChoiceCase) -> Choice:
        parts = assemble_prompt(persona, history_of(case, clock), case.text, budget=budget)
        try:
            completion = await complete_with_retries(llm, parts.prompt, clock, retries=retries)
        except ProviderError as exc:
            return Choice("nothing", reason=f"model failed: {exc}")
        return choice_from_text(completion.text, completion.reason)

    return choose


def score_choices(cases: Sequence[ChoiceCase], choices: Sequence[Choice], *, provider: str = "", model: str = "",
                  rule: str = "") -> ChoiceReport:
    """Pair each case with the choice made for it."""
    if len(cases) != len(choices):
        raise ValueError(f"{len(cases)} cases but {len(choices)} choices")
    return ChoiceReport(tuple(ChoiceResult(c, k) for c, k in zip(cases, choices, strict=True)), provider, model, rule)


async def run_choices(cases: Sequence[ChoiceCase], chooser: Chooser, *, provider: str = "", model: str = "",
                      rule: str = DERIVED_RULE) -> ChoiceReport:
    """Replay every case through the chooser, one after another, and score the choices."""
    choices = [await chooser(case) for case in cases]
    return score_choices(cases, choices, provider=provider, model=model, rule=rule)
