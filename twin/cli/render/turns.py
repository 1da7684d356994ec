"""Turns: `twin history` (a page of turns), `twin show` (one turn whole) and `twin review` (a draft)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from twin.cli.render.common import STATUS_STYLE, short, span
from twin.media.describe import media_lines, seen_images
from twin.types import Turn


def _review_note(turn: Turn) -> str:
    if turn.extra.get("approved"):
        return "approved by the owner" + (" (edited)" if turn.extra.get("draft") else "")
    if turn.extra.get("regenerate"):
        return f"regenerated {turn.extra['regenerate']}x"
    return "waiting for you (`twin review`)" if turn.status == "review" else "-"


def _fallback_note(turn: Turn) -> str:
    fallback = turn.extra.get("fallback")
    return f" (fallback: {fallback.get('model')})" if isinstance(fallback, dict) else ""


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
        answer = Text(short(turn.reply_text, 80)) if turn.reply_text else Text(short(turn.reason, 80),
                                                                                 style="dim italic")
        fallback = turn.extra.get("fallback")
        if turn.reply_text and isinstance(fallback, dict):
            answer = Text.assemble(answer, (f" (fallback: {fallback.get('model')})", "dim"))
        incoming = turn.transcript or turn.incoming_text
        label = f"🎤 {incoming}" if turn.kind in ("voice", "audio", "video_note") and turn.transcript else incoming
        label = f"👁 {label}" if seen_images(turn) else label
        table.add_row(str(turn.id), turn.received_at.astimezone(tz).strftime("%m-%d %H:%M"),
                      Text(short(turn.chat_title or str(turn.chat_id), 18)), Text(short(label, 80)), answer,
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
        ("delay", span((turn.sent_at - turn.received_at).total_seconds()) if turn.sent_at else "-"),
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
        lines = [f"{'owner' if c.get('out') else 'contact'}: {short(str(c.get('text')), 100)}"
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
        return f"{head}contact: {short(str(said), 70)}  →  owner: {short(str(answered), 70)}"
    return short(str(example), 150)


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
        table.add_row(name, when.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S"), span((when - received).total_seconds()))
    return table


def review_card(turn: Turn, position: int, total: int, tz: tzinfo) -> RenderableType:
    """One draft waiting for the owner: what came in and what the twin would send."""
    title = f"{position}/{total} · turn {turn.id} · {turn.chat_title or turn.chat_id} · " \
            f"{turn.received_at.astimezone(tz):%a %d %b %H:%M}"
    incoming = turn.transcript or turn.incoming_text
    return Group(Panel(Text(incoming or "-"), title=title, title_align="left"),
                 Panel(Text(turn.reply_text) if turn.reply_text else Text("(no draft yet)", style="dim"),
                       title="draft", title_align="left",
                       border_style="yellow"))
