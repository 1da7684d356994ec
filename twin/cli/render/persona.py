"""The persona: `twin persona show` and the `twin eval` reports (replies, runs compared, guard, choices)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import tzinfo
from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from twin.cli.render.common import short

if TYPE_CHECKING:
    from twin.persona.choice_eval import ChoiceReport
    from twin.persona.eval import EvalReport, GuardReport, RunSummary
    from twin.service.persona_ops import PersonaView


def persona_view(view: PersonaView) -> RenderableType:
    """`twin persona show`: who the twin is, how the owner writes, and the chats' notes."""
    lines = [f"[bold]{view.name}[/]  ({view.file})"]
    if view.learned:
        lines += [f"learned profile: {view.profile_file}", *(f"  • {line}" for line in view.summary)]
    else:
        lines.append("no learned profile yet: run `twin persona learn`")
    notes = Table("chat", "persona", "note", header_style="bold", expand=True)
    for note in view.notes:
        notes.add_row(str(note.chat_id), note.persona or "default", note.note)
    return Group(Text.from_markup("\n".join(lines)), notes) if view.notes else Text.from_markup("\n".join(lines))


def eval_view(report: EvalReport, width: int = 60) -> RenderableType:
    """`twin eval`: each held-out exchange, what the twin wrote, its scores, and the overall score."""
    table = Table("contact", "owner wrote", "twin wrote", "chrF", "style", "score", header_style="bold", expand=True)
    for case in report.cases:
        table.add_row(short(case.contact_text, width), short(case.reference, width),
                      short(case.generated, width) if case.generated is not None else Text(case.reason, style="red"),
                      f"{case.chrf:.1f}", f"{case.style:.1f}", f"{case.score:.1f}")
    embedding = "n/a (no local embedding model)" if report.embedding is None else f"{report.embedding:.1f}"
    summary = (f"[bold]score {report.score:.1f}[/] over {len(report.cases)} held-out exchanges — "
               f"chrF {report.chrf:.1f}, style {report.style:.1f}, embedding {embedding} — "
               f"{report.provider} {report.model}, run {report.run_id}")
    return Group(table, Text.from_markup(summary))


def compare_view(runs: Sequence[RunSummary], tz: tzinfo) -> Table:
    """`twin eval --compare`: stored runs, newest first, and whether each change helped."""
    table = Table("run", "when", "label", "model", "cases", "score", "change", header_style="bold", expand=True)
    for run in runs:
        delta = "" if run.delta is None else Text(f"{run.delta:+.1f}", style="green" if run.delta >= 0 else "red")
        table.add_row(str(run.run_id), run.created_at.astimezone(tz).strftime("%m-%d %H:%M"), run.label or "-",
                      f"{run.provider} {run.model}", str(run.cases), f"{run.score:.1f}", delta)
    return table


def guard_view(report: GuardReport) -> RenderableType:
    """`twin eval --guard`: each bait or injection, what the twin did, and what broke a rule."""
    table = Table("case", "kind", "outcome", "sent", "rule broken", header_style="bold", expand=True)
    for r in report.results:
        table.add_row(r.case.id, r.case.kind, r.outcome, short(r.sent, 50),
                      Text(r.why, style="red") if r.broken else Text("—", style="green"))
    verdict = f"[bold]{report.broken} of {len(report.results)} replies broke a rule[/]"
    return Group(table, Text.from_markup(verdict))


def choice_view(report: ChoiceReport) -> RenderableType:
    """`twin eval --choices`: each exchange, what a person would do, what the twin chose; agreement."""
    table = Table("case", "contact wrote", "expected", "twin", "said", header_style="bold", expand=True)
    for r in report.results:
        style = "green" if r.exact else "yellow" if r.acceptable else "red"
        chosen = r.choice.kind + (f" {r.choice.emoji}" if r.choice.emoji else "")
        table.add_row(r.case.id, short(r.case.text, 40), r.case.expect + (f" {r.case.emoji}" if r.case.emoji else ""),
                      Text(chosen, style=style), short(r.choice.text or r.choice.reason, 40))
    matrix = Table("expected → twin", "reply", "react", "nothing", title="confusion", header_style="bold")
    for expected in ("reply", "react", "nothing"):
        matrix.add_row(expected, *(str(report.confusion[(expected, got)]) for got in ("reply", "react", "nothing")))
    languages = ", ".join(f"{lang} {share}%" for lang, share in report.by_language().items())
    summary = (f"[bold]{report.agreement}% exact agreement[/] ({languages}); {report.acceptable}% acceptable; "
               f"{len(report.results)} cases, {report.provider} {report.model}\nchoice: {report.rule}")
    return Group(table, matrix, Text.from_markup(summary))
