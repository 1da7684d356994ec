"""`twin eval --choices`: does the twin reply, react or stay quiet where a person would?

A corpus of short exchanges (tests/data/choice_corpus.toml) says, for each, what most people
would do: reply, react (one emoji on the contact's message) or nothing. A Chooser gives the
model's choice for a case as a Choice value; score_choices() compares them: the exact agreement
(the choice is the expected one), the acceptable agreement (or one of the case's `also`), and a
confusion count expected -> chosen.

The chooser that `twin eval --choices` uses (twin.engine.choice_replay) decides each case the
way the daemon does: the acknowledgement pre-check, then the model's structured answer. Each
Choice says where it came from (SOURCES), and the report counts them.
"""

from __future__ import annotations

import tomllib
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from twin.clock import Clock
from twin.errors import ConfigError
from twin.types import HistoryMessage

ChoiceKind = Literal["react", "reply", "nothing"]
CHOICES: tuple[ChoiceKind, ...] = ("reply", "react", "nothing")
DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "tests" / "data" / "choice_corpus.toml"
# Where a choice came from: precheck (an acknowledgement, decided without the model) | model (a valid
# structured answer) | plain (the provider answered in text: a reply) | malformed (a broken structured
# answer) | guard (the input guard answered, no model asked) | empty (the model said nothing) |
# failed (the model could not be reached).
SOURCES = ("precheck", "model", "plain", "malformed", "guard", "empty", "failed")


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
    """What the twin chose: reply (text), react (emoji) or nothing, why, and where the choice came from."""

    kind: ChoiceKind
    text: str = ""
    emoji: str = ""
    reason: str = ""
    source: str = ""  # one of SOURCES


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
    how: str = ""  # how the choices were obtained

    @property
    def sources(self) -> dict[str, int]:
        """Choices per source, every one of SOURCES present (zeros included), then any other."""
        counted = Counter(r.choice.source for r in self.results)
        return {**{s: counted.get(s, 0) for s in SOURCES}, **counted}

    @property
    def rule(self) -> str:
        """How the choices were obtained, and how many came from where."""
        counts = ", ".join(f"{s or 'unknown'} {n}" for s, n in self.sources.items() if n or s in SOURCES[:4])
        return f"{self.how}; sources: {counts}" if self.how else f"sources: {counts}"

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


Chooser = Callable[[ChoiceCase], Awaitable[Choice]]


def history_of(case: ChoiceCase, clock: Clock) -> list[HistoryMessage]:
    """The case's context as the chat history a prompt is built from."""
    now = clock.now()
    return [HistoryMessage(i, now, owner, text) for i, (owner, text) in enumerate(case.context, 1)]


def score_choices(cases: Sequence[ChoiceCase], choices: Sequence[Choice], *, provider: str = "", model: str = "",
                  how: str = "") -> ChoiceReport:
    """Pair each case with the choice made for it."""
    if len(cases) != len(choices):
        raise ValueError(f"{len(cases)} cases but {len(choices)} choices")
    return ChoiceReport(tuple(ChoiceResult(c, k) for c, k in zip(cases, choices, strict=True)), provider, model, how)


async def run_choices(cases: Sequence[ChoiceCase], chooser: Chooser, *, provider: str = "", model: str = "",
                      how: str = "") -> ChoiceReport:
    """Replay every case through the chooser, one after another, and score the choices."""
    choices = [await chooser(case) for case in cases]
    return score_choices(cases, choices, provider=provider, model=model, how=how)
