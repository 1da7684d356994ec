"""Rich renderables for the terminal: data in, renderable out."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from twin.media.describe import media_lines, seen_images
from twin.types import Turn

if TYPE_CHECKING:
    from twin.db.stats import Stats
    from twin.persona.choice_eval import ChoiceReport
    from twin.persona.eval import EvalReport, GuardReport, RunSummary
    from twin.service.doctor import Check
    from twin.service.persona_ops import PersonaView

STATUS_STYLE = {
    "answered": "green", "skipped": "dim", "failed": "red", "blocked": "magenta", "needs_owner": "yellow",
    "cancelled": "dim", "stale": "dim", "waiting": "cyan", "composing": "cyan", "sending": "cyan",
    "review": "bold yellow", "reacted": "green", "no_reply": "dim",
}


def _review_note(turn: Turn) -> str:
    if turn.extra.get("approved"):
        return "approved by the owner" + (" (edited)" if turn.extra.get("draft") else "")
    if turn.extra.get("regenerate"):
        return f"regenerated {turn.extra['regenerate']}x"
    return "waiting for you (`twin review`)" if turn.status == "review" else "-"


def _fallback_note(turn: Turn) -> str:
    fallback = turn.extra.get("fallback")
    return f" (fallback: {fallback.get('model')})" if isinstance(fallback, dict) else ""


def _short(text: str | None, width: int) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def history_table(turns: Sequence[Turn], tz: tzinfo, *, page: int = 1, more: bool = False) -> Table:
    """A page of turns, one row each, oldest at the top; the caption says where the next page is."""
    table = Table(show_lines=False, header_style="bold", expand=True)
    table.add_column("id", justify="right", no_wrap=True)
    table.add_column("time", no_wrap=True)
    table.add_column("chat", no_wrap=True, max_width=18)
    table.add_column("came in", ratio=3)
    table.add_column("twin answered", ratio=3)
    table.add_column("status", no_wrap=True)
    for turn in reversed(turns):
        style = STATUS_STYLE.get(turn.status, "")
        # Text(...), not str: what people write (and "[photo]" lines) must not be read as rich markup.
        answer = Text(_short(turn.reply_text, 80)) if turn.reply_text else Text(_short(turn.reason, 80),
                                                                                 style="dim italic")
        fallback = turn.extra.get("fallback")
        if turn.reply_text and isinstance(fallback, dict):
            answer = Text.assemble(answer, (f" (fallback: {fallback.get('model')})", "dim"))
        incoming = turn.transcript or turn.incoming_text
        label = f"🎤 {incoming}" if turn.kind in ("voice", "audio", "video_note") and turn.transcript else incoming
        label = f"👁 {label}" if seen_images(turn) else label
        table.add_row(str(turn.id), turn.received_at.astimezone(tz).strftime("%m-%d %H:%M"),
                      Text(_short(turn.chat_title or str(turn.chat_id), 18)), Text(_short(label, 80)), answer,
                      Text(turn.status, style=style))
    if not turns:
        table.caption = "no turns" + (" on this page" if page > 1 else " match")
    elif page > 1 or more:
        table.caption = f"page {page}" + (f" · older: --page {page + 1}" if more else " · the oldest")
    return table


def turn_detail(turn: Turn, tz: tzinfo) -> RenderableType:
    """One turn whole: what came in, what went out, why, and what the model saw."""
    meta = Table.grid(padding=(0, 2))
    meta.add_column(style="bold")
    meta.add_column()
    rows: list[tuple[str, str | Text]] = [
        ("turn", str(turn.id)), ("chat", f"{turn.chat_title} ({turn.chat_id})"),
        ("from", f"{turn.sender_name} ({turn.sender_id})"),
        ("status", Text(turn.status, style=STATUS_STYLE.get(turn.status, ""))),
        ("reason", turn.reason or "-"),
        ("received", turn.received_at.astimezone(tz).isoformat(timespec="seconds")),
        ("sent", turn.sent_at.astimezone(tz).isoformat(timespec="seconds") if turn.sent_at else "-"),
        ("model", f"{turn.provider} {turn.model}".strip() + _fallback_note(turn) or "-"),
        ("tokens", f"{turn.tokens_in} in / {turn.tokens_out} out"),
        ("delay", _span((turn.sent_at - turn.received_at).total_seconds()) if turn.sent_at else "-"),
        ("review", _review_note(turn)),
        ("message ids", f"in {list(turn.incoming_ids)} out {list(turn.reply_ids)}"),
    ]
    for key, value in rows:
        meta.add_row(key, value)
    parts: list[RenderableType] = [meta, Panel(Text(turn.incoming_text or "-"), title="came in", title_align="left")]
    if turn.transcript:
        parts.append(Panel(Text(turn.transcript), title="transcript", title_align="left"))
    media = media_lines(turn)
    if media:
        parts.append(Panel(Text("\n".join(media)), title="media: what the model was given", title_align="left"))
    parts.append(Panel(Text(turn.reply_text) if turn.reply_text else Text(turn.reason or "-", style="dim"),
                       title="twin answered",
                       title_align="left", border_style=STATUS_STYLE.get(turn.status, "")))
    for key, title in (("draft", "the twin's draft (edited in review)"), ("drafts", "earlier drafts")):
        kept = turn.extra.get(key)
        if kept:
            shown = "\n".join(f"- {d}" for d in kept) if isinstance(kept, list) else str(kept)
            parts.append(Panel(Text(shown), title=title, title_align="left", border_style="dim"))
    steps = turn.extra.get("steps")
    if isinstance(steps, dict) and steps:
        parts.append(steps_table(steps, turn.received_at, tz))
    context = turn.extra.get("context")
    if isinstance(context, list) and context:
        lines = [f"{'owner' if c.get('out') else 'contact'}: {_short(str(c.get('text')), 100)}"
                 for c in context if isinstance(c, dict)]
        parts.append(Panel(Text("\n".join(lines)), title=f"context ({len(lines)} messages)", title_align="left"))
    examples = turn.extra.get("examples")
    if isinstance(examples, list) and examples:
        parts.append(Panel(Text("\n".join(_example(e) for e in examples)), title=f"examples ({len(examples)})",
                           title_align="left"))
    return Group(*parts)


def _example(example: object) -> str:
    if isinstance(example, dict):
        said = example.get("contact") or example.get("contact_text") or ""
        answered = example.get("owner") or example.get("owner_text") or ""
        score = example.get("score")
        head = f"[{score:.2f}] " if isinstance(score, int | float) else ""
        return f"{head}contact: {_short(str(said), 70)}  →  owner: {_short(str(answered), 70)}"
    return _short(str(example), 150)


def steps_table(steps: dict[str, object], received: datetime, tz: tzinfo) -> Table:
    """When each step of a turn happened, and how long after the message came in."""
    table = Table(title="steps", title_justify="left", header_style="bold", show_edge=False)
    table.add_column("step")
    table.add_column("at", no_wrap=True)
    table.add_column("after", justify="right", no_wrap=True)
    timed = []
    for name, value in steps.items():
        try:
            timed.append((datetime.fromisoformat(str(value)), name))
        except ValueError:
            continue
    for when, name in sorted(timed):
        table.add_row(name, when.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S"), _span((when - received).total_seconds()))
    return table


def _span(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 90:
        return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def doctor_table(checks: Sequence[Check]) -> Table:
    """Each check, whether it passed, and how to fix it."""
    table = Table(header_style="bold", expand=True)
    table.add_column("", no_wrap=True)
    table.add_column("check", no_wrap=True)
    table.add_column("state")
    table.add_column("how to fix")
    marks = {"ok": Text("✓", style="green"), "warn": Text("!", style="yellow"), "fail": Text("✗", style="red")}
    for check in checks:
        table.add_row(marks[check.state], check.name, check.detail, check.fix)
    return table


def _bar(n: int, most: int, width: int = 30) -> Text:
    cells = 0 if most <= 0 else max(1 if n else 0, round(width * n / most))
    return Text("█" * cells, style="cyan")


def _when(iso: object, tz: tzinfo) -> str:
    return datetime.fromisoformat(str(iso)).astimezone(tz).strftime("%a %d %b %H:%M") if iso else "-"


def status_view(report: dict[str, Any], tz: tzinfo) -> Table:
    """`twin status`: the daemon, the queue, pauses, modes and the last reply."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    style = "green" if report["connected"] else "yellow" if report["running"] else "dim"
    state = Text(str(report["state"]), style=style)
    if not report["running"] and report.get("last_state"):
        state.append(f" (last run: {report['last_state']})", style="dim")
    grid.add_row("twin", state)
    grid.add_row("account", str(report["account"]) + (f"  pid {report['pid']}" if report["pid"] else ""))
    me = report.get("me")
    if report["running"]:
        grid.add_row("up", f"{_span(report['uptime_s'])} since {_when(report['started_at'], tz)}"
                     if report["uptime_s"] is not None else "-")
        grid.add_row("logged in as", f"{me['name']} ({me['id']})" if isinstance(me, dict) else "-")
        caught = report.get("last_catch_up")
        grid.add_row("caught up", datetime.fromisoformat(str(caught)).astimezone(tz).strftime("%H:%M:%S")
                     if caught else "not yet")
        if report.get("rss_mb") is not None:
            grid.add_row("memory", f"{report['rss_mb']:.0f} MB (peak {report['peak_rss_mb']:.0f} MB); loaded: "
                                   + (", ".join(report.get("modules") or []) or "no heavy SDK"))
    grid.add_row("mode", f"{report['mode']}" + (" (twin mode)" if report["mode_source"] == "override" else ""))
    for chat in report["chat_modes"]:
        grid.add_row("", f"{chat['chat'] or chat['chat_id']}: {chat['mode']}")
    hours = report.get("hours") or {}
    if hours.get("error"):
        grid.add_row("hours", Text(str(hours["error"]), style="red"))
    elif hours.get("open") is not None:
        change = f", {'closes' if hours['open'] else 'opens'} {_when(hours['next_change'], tz)}" \
            if hours.get("next_change") else ""
        grid.add_row("hours", ("open" if hours["open"] else "closed") + change)
    queue = {k: v for k, v in report["queue"].items() if v}
    grid.add_row("queue", ", ".join(f"{n} {k}" for k, n in queue.items()) if queue else "empty")
    for pause in report["pauses"]:
        until = "until resumed" if pause["until"] is None else f"until {_when(pause['until'], tz)}"
        grid.add_row("paused", Text(f"{pause['chat'] or pause['chat_id']} {until}", style="yellow"))
    last = report.get("last_reply")
    if last:
        grid.add_row("last reply", f"{_when(last['sent_at'], tz)} to {last['chat'] or last['chat_id']}: "
                                   f"{_short(last['text'], 60)}")
    from twin.service.status import model_lines

    for line in model_lines(report, tz):
        grid.add_row("model", Text(line, style="yellow"))
    if report["needs_owner_24h"]:
        grid.add_row("needs you", Text(f"{report['needs_owner_24h']} in the last 24 h", style="yellow"))
    if report["last_error"]:
        grid.add_row("last error", Text(str(report["last_error"]), style="red"))
    return grid


def stats_view(stats: Stats, tz: tzinfo) -> RenderableType:
    """`twin stats`: totals, replies per day (or week) as bars, top chats, skips, delay, voice, cost."""
    head = Text.assemble(
        (f"{stats.since.astimezone(tz):%Y-%m-%d %H:%M} → {stats.until.astimezone(tz):%Y-%m-%d %H:%M}\n", "bold"),
        f"{stats.turns} turns, {stats.replies} replies; delay median {_span(stats.delay_median_s)}, "
        f"p90 {_span(stats.delay_p90_s)}; voice: {stats.voice_in_share:.0%} of messages in, "
        f"{stats.voice_out_share:.0%} of replies")
    days = stats.per_day
    label, series = "day", [(f"{d:%a %d %b}", n) for d, n in days]
    if len(days) > 45:
        weeks: dict[str, int] = {}
        for d, n in days:
            key = f"{d.fromordinal(d.toordinal() - d.weekday()):%d %b %Y}"
            weeks[key] = weeks.get(key, 0) + n
        label, series = "week of", list(weeks.items())
    chart = Table(header_style="bold", show_edge=False, title="replies", title_justify="left")
    chart.add_column(label, no_wrap=True)
    chart.add_column("n", justify="right")
    chart.add_column("")
    most = max((n for _, n in series), default=0)
    for name, n in series:
        chart.add_row(name, str(n), _bar(n, most))
    chats = Table(header_style="bold", show_edge=False, title="top chats", title_justify="left")
    for col in ("chat", "replies", ""):
        chats.add_column(col, justify="right" if col == "replies" else "left")
    top = max((n for *_, n in stats.per_chat), default=0)
    for chat_id, title, n in stats.per_chat:
        chats.add_row(_short(title or str(chat_id), 24), str(n), _bar(n, top, 20))
    skips = Table(header_style="bold", show_edge=False, title="not answered", title_justify="left")
    for col in ("status", "reason", "turns"):
        skips.add_column(col, justify="right" if col == "turns" else "left")
    for status, reason, n in stats.skips[:12]:
        skips.add_row(Text(status, style=STATUS_STYLE.get(status, "")), _short(reason, 70), str(n))
    cost = Table(header_style="bold", show_edge=False, title="tokens and estimated cost (list prices, an estimate)",
                 title_justify="left")
    for col in ("provider", "model", "turns", "tokens in", "tokens out", "≈ USD"):
        cost.add_column(col, justify="left" if col in ("provider", "model") else "right")
    for p in stats.providers:
        cost.add_row(p.provider, p.model, str(p.turns), f"{p.tokens_in:,}", f"{p.tokens_out:,}",
                     "?" if p.cost_usd is None else f"{p.cost_usd:,.2f}")
    return Group(head, chart, chats, skips, cost)


def review_card(turn: Turn, position: int, total: int, tz: tzinfo) -> RenderableType:
    """One draft waiting for the owner: what came in and what the twin would send."""
    title = f"{position}/{total} · turn {turn.id} · {turn.chat_title or turn.chat_id} · " \
            f"{turn.received_at.astimezone(tz):%a %d %b %H:%M}"
    incoming = turn.transcript or turn.incoming_text
    return Group(Panel(Text(incoming or "-"), title=title, title_align="left"),
                 Panel(Text(turn.reply_text) if turn.reply_text else Text("(no draft yet)", style="dim"),
                       title="draft", title_align="left",
                       border_style="yellow"))


def chat_settings_table(rows: Sequence[tuple[str, str, str]]) -> Table:
    """Chats with their own mode or a pause: (chat, mode, pause)."""
    table = Table(header_style="bold", show_edge=False)
    for col in ("chat", "mode", "pause"):
        table.add_column(col)
    for row in rows:
        table.add_row(*row)
    return table


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
        table.add_row(_short(case.contact_text, width), _short(case.reference, width),
                      _short(case.generated, width) if case.generated is not None else Text(case.reason, style="red"),
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
        table.add_row(r.case.id, r.case.kind, r.outcome, _short(r.sent, 50),
                      Text(r.why, style="red") if r.broken else Text("—", style="green"))
    verdict = f"[bold]{report.broken} of {len(report.results)} replies broke a rule[/]"
    return Group(table, Text.from_markup(verdict))


def choice_view(report: ChoiceReport) -> RenderableType:
    """`twin eval --choices`: each exchange, what a person would do, what the twin chose; agreement."""
    table = Table("case", "contact wrote", "expected", "twin", "said", header_style="bold", expand=True)
    for r in report.results:
        style = "green" if r.exact else "yellow" if r.acceptable else "red"
        chosen = r.choice.kind + (f" {r.choice.emoji}" if r.choice.emoji else "")
        table.add_row(r.case.id, _short(r.case.text, 40), r.case.expect + (f" {r.case.emoji}" if r.case.emoji else ""),
                      Text(chosen, style=style), _short(r.choice.text or r.choice.reason, 40))
    matrix = Table("expected → twin", "reply", "react", "nothing", title="confusion", header_style="bold")
    for expected in ("reply", "react", "nothing"):
        matrix.add_row(expected, *(str(report.confusion[(expected, got)]) for got in ("reply", "react", "nothing")))
    languages = ", ".join(f"{lang} {share}%" for lang, share in report.by_language().items())
    summary = (f"[bold]{report.agreement}% exact agreement[/] ({languages}); {report.acceptable}% acceptable; "
               f"{len(report.results)} cases, {report.provider} {report.model}\nchoice: {report.rule}")
    return Group(table, matrix, Text.from_markup(summary))
