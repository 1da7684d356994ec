"""The service: `twin status`, `twin doctor`, and the chats' own modes and pauses (`twin chats`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any

from rich.table import Table
from rich.text import Text

from twin.cli.render.common import day_time, short, span

if TYPE_CHECKING:
    from twin.service.doctor import Check


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
        grid.add_row("up", f"{span(report['uptime_s'])} since {day_time(report['started_at'], tz)}"
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
        change = f", {'closes' if hours['open'] else 'opens'} {day_time(hours['next_change'], tz)}" \
            if hours.get("next_change") else ""
        grid.add_row("hours", ("open" if hours["open"] else "closed") + change)
    queue = {k: v for k, v in report["queue"].items() if v}
    grid.add_row("queue", ", ".join(f"{n} {k}" for k, n in queue.items()) if queue else "empty")
    for pause in report["pauses"]:
        until = "until resumed" if pause["until"] is None else f"until {day_time(pause['until'], tz)}"
        grid.add_row("paused", Text(f"{pause['chat'] or pause['chat_id']} {until}", style="yellow"))
    last = report.get("last_reply")
    if last:
        grid.add_row("last reply", f"{day_time(last['sent_at'], tz)} to {last['chat'] or last['chat_id']}: "
                                   f"{short(last['text'], 60)}")
    from twin.service.status import model_lines

    for line in model_lines(report, tz):
        grid.add_row("model", Text(line, style="yellow"))
    if report["needs_owner_24h"]:
        grid.add_row("needs you", Text(f"{report['needs_owner_24h']} in the last 24 h", style="yellow"))
    if report["last_error"]:
        grid.add_row("last error", Text(str(report["last_error"]), style="red"))
    return grid


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


def chat_settings_table(rows: Sequence[tuple[str, str, str]]) -> Table:
    """Chats with their own mode or a pause: (chat, mode, pause)."""
    table = Table(header_style="bold", show_edge=False)
    for col in ("chat", "mode", "pause"):
        table.add_column(col)
    for row in rows:
        table.add_row(*row)
    return table
