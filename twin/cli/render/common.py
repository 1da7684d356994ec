"""What every view shares: status colours, shortened text, spans and times."""

from __future__ import annotations

from datetime import datetime, tzinfo

from rich.text import Text

STATUS_STYLE = {
    "answered": "green", "skipped": "dim", "failed": "red", "blocked": "magenta", "needs_owner": "yellow",
    "cancelled": "dim", "stale": "dim", "waiting": "cyan", "composing": "cyan", "sending": "cyan",
    "review": "bold yellow", "reacted": "green", "no_reply": "dim",
}


def short(text: str | None, width: int) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def span(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 90:
        return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def day_time(iso: object, tz: tzinfo) -> str:
    return datetime.fromisoformat(str(iso)).astimezone(tz).strftime("%a %d %b %H:%M") if iso else "-"


def bar(n: int, most: int, width: int = 30) -> Text:
    cells = 0 if most <= 0 else max(1 if n else 0, round(width * n / most))
    return Text("█" * cells, style="cyan")
