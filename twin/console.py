"""Rich renderables for the terminal: data in, renderable out."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import tzinfo

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from twin.doctor import Check
from twin.types import Turn, turn_json

STATUS_STYLE = {
    "answered": "green", "skipped": "dim", "failed": "red", "blocked": "magenta", "needs_owner": "yellow",
    "cancelled": "dim", "stale": "dim", "waiting": "cyan", "composing": "cyan", "sending": "cyan",
}


def _short(text: str | None, width: int) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def history_table(turns: Sequence[Turn], tz: tzinfo) -> Table:
    """The latest turns, one row each, oldest at the top."""
    table = Table(show_lines=False, header_style="bold", expand=True)
    table.add_column("id", justify="right", no_wrap=True)
    table.add_column("time", no_wrap=True)
    table.add_column("chat", no_wrap=True, max_width=18)
    table.add_column("came in", ratio=3)
    table.add_column("twin answered", ratio=3)
    table.add_column("status", no_wrap=True)
    for turn in reversed(turns):
        style = STATUS_STYLE.get(turn.status, "")
        answer = _short(turn.reply_text, 80) if turn.reply_text else Text(_short(turn.reason, 80), style="dim italic")
        incoming = turn.transcript or turn.incoming_text
        label = f"🎤 {incoming}" if turn.kind in ("voice", "audio", "video_note") else incoming
        table.add_row(str(turn.id), turn.received_at.astimezone(tz).strftime("%m-%d %H:%M"),
                      _short(turn.chat_title or str(turn.chat_id), 18), _short(label, 80), answer,
                      Text(turn.status, style=style))
    if not turns:
        table.caption = "no turns yet"
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
        ("model", f"{turn.provider} {turn.model}".strip() or "-"),
        ("tokens", f"{turn.tokens_in} in / {turn.tokens_out} out"),
        ("message ids", f"in {list(turn.incoming_ids)} out {list(turn.reply_ids)}"),
    ]
    for key, value in rows:
        meta.add_row(key, value)
    parts: list[RenderableType] = [meta, Panel(turn.incoming_text or "-", title="came in", title_align="left")]
    if turn.transcript:
        parts.append(Panel(turn.transcript, title="transcript", title_align="left"))
    parts.append(Panel(turn.reply_text or Text(turn.reason or "-", style="dim"), title="twin answered",
                       title_align="left", border_style=STATUS_STYLE.get(turn.status, "")))
    context = turn.extra.get("context")
    if isinstance(context, list) and context:
        lines = [f"{'owner' if c.get('out') else 'contact'}: {_short(str(c.get('text')), 100)}"
                 for c in context if isinstance(c, dict)]
        parts.append(Panel("\n".join(lines), title=f"context ({len(lines)} messages)", title_align="left"))
    return Group(*parts)


def turn_line(turn: Turn) -> str:
    """One turn as a JSON line with stable keys."""
    return json.dumps(turn_json(turn), ensure_ascii=False)


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
