"""Owner commands written in Saved Messages: `/twin status`, `/twin pause [2h]`, `/twin resume`, `/twin mode M`."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from twin.config import Settings
from twin.engine.steer import INHERIT, MODES, describe_until, pause, resume, set_mode
from twin.errors import TwinError
from twin.timeparse import parse_duration

if TYPE_CHECKING:
    from twin.db.store import Store

PREFIX = "/twin"
HELP = ("twin commands: /twin status · /twin pause [2h] · /twin resume · /twin mode auto|review|off|inherit")


def owner_command(text: str, *, store: Store, settings: Settings, account: str, now: datetime) -> str | None:
    """The answer to post back in Saved Messages, or None when the text is not a /twin command."""
    words = text.strip().split()
    if not words or words[0].lower() != PREFIX:
        return None
    verb, args = (words[1].lower(), words[2:]) if len(words) > 1 else ("help", [])
    try:
        if verb == "status":
            return status_text(settings, now)
        if verb == "pause":
            until = now + parse_duration(args[0]) if args else None
            end = pause(store, account, None, until)
            return f"twin is paused {describe_until(end, now)}: no replies go out. /twin resume ends it."
        if verb == "resume":
            was = resume(store, account, None, now)
            return "twin resumed: replies go out again." if was else "twin was not paused."
        if verb == "mode" and args and args[0].lower() in (*MODES, INHERIT):
            set_mode(store, account, None, args[0].lower())
            return f"twin mode: {args[0].lower() if args[0].lower() != INHERIT else settings.service.mode}."
    except TwinError as exc:
        return f"twin: {exc}"
    return HELP


def status_text(settings: Settings, now: datetime) -> str:
    """`twin status` in a few plain lines, for a Telegram message."""
    from twin.service.status import status_report

    r = status_report(settings, now)
    tz = _zone(settings)
    lines = [f"twin ({r['account']}): " + ("connected" if r["connected"] else str(r["state"]))
             + (f", up {_age(r['uptime_s'])}" if r["uptime_s"] is not None else ""),
             f"mode: {r['mode']}"]
    queue = {k: v for k, v in r["queue"].items() if v}
    lines.append("queue: " + (", ".join(f"{n} {state}" for state, n in queue.items()) if queue else "empty"))
    for p in r["pauses"]:
        until = "until resumed" if p["until"] is None else f"until {_local(p['until'], tz)}"
        lines.append(f"paused: {p['chat']} {until}")
    if r["last_reply"]:
        lines.append(f"last reply: {r['last_reply']['chat']} at {_local(r['last_reply']['sent_at'], tz)}")
    if r["needs_owner_24h"]:
        lines.append(f"needs you: {r['needs_owner_24h']} in the last 24 h (`twin history --status needs_owner`)")
    if r["last_error"]:
        lines.append(f"last error: {r['last_error']}")
    return "\n".join(lines)


def _zone(settings: Settings) -> tzinfo:
    try:
        return ZoneInfo(settings.hours.timezone)
    except (KeyError, ValueError):
        return UTC


def _local(iso: str, tz: tzinfo) -> str:
    return datetime.fromisoformat(iso).astimezone(tz).strftime("%a %d %b %H:%M")


def _age(seconds: Any) -> str:
    minutes = int(seconds) // 60
    if minutes >= 1440:
        return f"{minutes // 1440} d {minutes % 1440 // 60} h"
    return f"{minutes // 60} h {minutes % 60} min"
