"""`twin stats`: totals, replies per day as bars, top chats, what was not answered, and the cost."""

from __future__ import annotations

from datetime import tzinfo
from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from twin.cli.render.common import STATUS_STYLE, bar, short, span

if TYPE_CHECKING:
    from twin.db.stats import Stats


def stats_view(stats: Stats, tz: tzinfo) -> RenderableType:
    """`twin stats`: totals, replies per day (or week) as bars, top chats, skips, delay, voice, cost."""
    head = Text.assemble(
        (f"{stats.since.astimezone(tz):%Y-%m-%d %H:%M} → {stats.until.astimezone(tz):%Y-%m-%d %H:%M}\n", "bold"),
        f"{stats.turns} turns, {stats.replies} replies; delay median {span(stats.delay_median_s)}, "
        f"p90 {span(stats.delay_p90_s)}; voice: {stats.voice_in_share:.0%} of messages in, "
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
        chart.add_row(name, str(n), bar(n, most))
    chats = Table(header_style="bold", show_edge=False, title="top chats", title_justify="left")
    for col in ("chat", "replies", ""):
        chats.add_column(col, justify="right" if col == "replies" else "left")
    top = max((n for *_, n in stats.per_chat), default=0)
    for chat_id, title, n in stats.per_chat:
        chats.add_row(short(title or str(chat_id), 24), str(n), bar(n, top, 20))
    skips = Table(header_style="bold", show_edge=False, title="not answered", title_justify="left")
    for col in ("status", "reason", "turns"):
        skips.add_column(col, justify="right" if col == "turns" else "left")
    for status, reason, n in stats.skips[:12]:
        skips.add_row(Text(status, style=STATUS_STYLE.get(status, "")), short(reason, 70), str(n))
    cost = Table(header_style="bold", show_edge=False, title="tokens and estimated cost (list prices, an estimate)",
                 title_justify="left")
    for col in ("provider", "model", "turns", "tokens in", "tokens out", "≈ USD"):
        cost.add_column(col, justify="left" if col in ("provider", "model") else "right")
    for p in stats.providers:
        cost.add_row(p.provider, p.model, str(p.turns), f"{p.tokens_in:,}", f"{p.tokens_out:,}",
                     "?" if p.cost_usd is None else f"{p.cost_usd:,.2f}")
    return Group(head, chart, chats, skips, cost)
