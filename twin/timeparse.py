"""Human time filters: "2h", "3d", "yesterday", "today", ISO dates."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from twin.errors import TwinError

_SPAN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w)\s*$")
_UNITS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> timedelta:
    """'90s', '15m', '2h', '3d', '1w' -> timedelta."""
    match = _SPAN.match(text.lower())
    if not match:
        raise TwinError(f"'{text}' is not a duration (try 30m, 2h, 3d)")
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


def parse_when(text: str, now: datetime, tz: tzinfo = UTC) -> datetime:
    """A point in time: a duration ago, today/yesterday (local midnight), or an ISO date/time."""
    lowered = text.strip().lower()
    local_today = now.astimezone(tz).date()
    if lowered in ("today", "yesterday"):
        day = local_today - timedelta(days=1 if lowered == "yesterday" else 0)
        return datetime.combine(day, time(), tz).astimezone(UTC)
    if _SPAN.match(lowered):
        return now - parse_duration(lowered)
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        try:
            parsed = datetime.combine(date.fromisoformat(text.strip()), time())
        except ValueError:
            raise TwinError(f"'{text}' is not a time (try 2h, yesterday, 2026-11-20 or 2026-11-20T18:00)") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(UTC)
