"""Working hours: weekly slots in the owner's time zone, dated exceptions, quiet hours. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from twin.config import HoursSettings
from twin.errors import ConfigError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FULL_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_SLOT = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
Slot = tuple[int, int]  # minutes from local midnight; end <= start means it runs past midnight


def _slot(text: str, where: str) -> Slot:
    match = _SLOT.match(text)
    if not match:
        raise ConfigError(f"{where}: '{text}' is not a time slot like 09:00-18:00")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or m1 > 59 or h2 > 24 or m2 > 59 or (h2 == 24 and m2):
        raise ConfigError(f"{where}: '{text}' is not a valid time slot")
    return h1 * 60 + m1, h2 * 60 + m2


@dataclass(frozen=True)
class Hours:
    """Compiled [hours] settings."""

    tz: ZoneInfo
    week: dict[int, tuple[Slot, ...]]  # weekday -> slots; no entries at all means always open
    dates: dict[date, tuple[Slot, ...]]
    quiet: tuple[Slot, ...]

    @classmethod
    def from_settings(cls, settings: HoursSettings) -> Hours:
        try:
            tz = ZoneInfo(settings.timezone)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: "Europe" names a directory
            raise ConfigError(f"hours.timezone '{settings.timezone}' is not a known time zone") from None
        week: dict[int, tuple[Slot, ...]] = {}
        for day, slots in settings.week.items():
            key = day.lower()
            if key not in DAYS and key not in FULL_DAYS:
                raise ConfigError(f"hours.week: '{day}' is not a weekday (mon..sun)")
            index = DAYS.index(key) if key in DAYS else FULL_DAYS.index(key)
            if index in week:
                raise ConfigError(f"hours.week: '{day}' is given twice")
            week[index] = tuple(_slot(s, f"hours.week.{day}") for s in slots)
        dates: dict[date, tuple[Slot, ...]] = {}
        for day_text, slots in settings.dates.items():
            try:
                when = date.fromisoformat(day_text)
            except ValueError:
                raise ConfigError(f"hours.dates: '{day_text}' is not a date like 2026-12-25") from None
            dates[when] = tuple(_slot(s, f"hours.dates.{day_text}") for s in slots)
        quiet = tuple(_slot(s, "hours.quiet") for s in settings.quiet)
        return cls(tz, week, dates, quiet)

    def slots_of(self, day: date) -> tuple[Slot, ...]:
        """The open slots that start on this local date."""
        if day in self.dates:
            return self.dates[day]
        if not self.week:
            return ((0, 24 * 60),)
        return self.week.get(day.weekday(), ())


def _intervals(slots: tuple[Slot, ...], day: date, tz: ZoneInfo) -> list[tuple[datetime, datetime]]:
    """Slots of one local day as UTC intervals (a slot past midnight ends the next day)."""
    out = []
    for start, end in slots:
        begin = _local(day, start, tz)
        finish = _local(day + timedelta(days=1 if end <= start else 0), end, tz)
        out.append((begin, finish))
    return out


def _local(day: date, minutes: int, tz: ZoneInfo) -> datetime:
    """Local wall time -> UTC; a time inside a DST gap moves forward with the clocks."""
    naive = datetime.combine(day, time()) + timedelta(minutes=minutes)
    aware = naive.replace(tzinfo=tz)
    round_trip = aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
    if round_trip != naive:  # nonexistent local time (spring forward): the later reading, 02:30 -> 03:30
        return max(aware.astimezone(UTC), aware.replace(fold=1).astimezone(UTC))
    return aware.astimezone(UTC)


def _around(hours: Hours, now: datetime, days: int) -> list[tuple[datetime, datetime]]:
    today = now.astimezone(hours.tz).date()
    spans: list[tuple[datetime, datetime]] = []
    for offset in range(-1, days):
        day = today + timedelta(days=offset)
        spans += _intervals(hours.slots_of(day), day, hours.tz)
    return sorted(spans)


def is_open(hours: Hours, now: datetime) -> bool:
    """Whether the owner's working hours are open at this instant."""
    return any(a <= now < b for a, b in _around(hours, now, 1))


def next_change(hours: Hours, now: datetime, horizon_days: int = 21) -> tuple[bool, datetime | None]:
    """(open now, when that changes) — None when it never changes within the horizon."""
    spans = _around(hours, now, horizon_days)
    state = is_open(hours, now)
    edges = sorted({t for span in spans for t in span if t > now})
    for edge in edges:
        if is_open(hours, edge) != state:
            return state, edge
    return state, None


def next_open(hours: Hours, now: datetime) -> datetime | None:
    """Now if open, else the next opening (None: closed for the whole horizon)."""
    state, change = next_change(hours, now)
    return now if state else change


def in_quiet(hours: Hours, now: datetime) -> bool:
    """Quiet hours: no read receipts and no typing."""
    today = now.astimezone(hours.tz).date()
    return any(a <= now < b for offset in (-1, 0) for a, b in
               _intervals(hours.quiet, today + timedelta(days=offset), hours.tz))


def quiet_end(hours: Hours, now: datetime) -> datetime:
    """When the current quiet period ends (now when not quiet)."""
    today = now.astimezone(hours.tz).date()
    ends = [b for offset in (-1, 0) for a, b in _intervals(hours.quiet, today + timedelta(days=offset), hours.tz)
            if a <= now < b]
    return max(ends) if ends else now
