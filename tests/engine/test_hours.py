"""Working hours: time zones, DST change days, slots past midnight, exceptions, quiet hours. Pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from twin import config
from twin.config import HoursSettings
from twin.engine.hours import Hours, in_quiet, is_open, next_change, next_open, quiet_end
from twin.errors import ConfigError

WORKDAYS = ("mon", "tue", "wed", "thu", "fri")
EVERY_DAY = (*WORKDAYS, "sat", "sun")
MINUTE = timedelta(minutes=1)


def make(tz: str = "UTC", week: dict[str, list[str]] | None = None, dates: dict[str, list[str]] | None = None,
         quiet: list[str] | None = None) -> Hours:
    """Hours without quiet hours unless asked (the default 23:00-08:00 would blur what is tested)."""
    return Hours.from_settings(HoursSettings(timezone=tz, week=week or {}, dates=dates or {}, quiet=quiet or []))


def utc(text: str) -> datetime:
    """An instant written as UTC wall time: the expected values are spelled out, not computed."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def every(days: tuple[str, ...], *slots: str) -> dict[str, list[str]]:
    return {day: list(slots) for day in days}


# --- time zones -----------------------------------------------------------------------------

@pytest.mark.parametrize("tz, opens, closes", [
    ("UTC", "2026-11-02 09:00", "2026-11-02 18:00"),
    ("Europe/Berlin", "2026-11-02 08:00", "2026-11-02 17:00"),  # CET, +01:00
    ("America/New_York", "2026-11-02 14:00", "2026-11-02 23:00"),  # EST, -05:00
    ("Asia/Kolkata", "2026-11-02 03:30", "2026-11-02 12:30"),  # IST, +05:30
    ("Pacific/Auckland", "2026-11-01 20:00", "2026-11-02 05:00"),  # NZDT, +13:00: Monday starts on Sunday in UTC
], ids=["utc", "berlin", "new-york", "kolkata-half-hour", "auckland-previous-utc-day"])
def test_monday_slot_opens_and_closes_at_the_local_instant(tz, opens, closes):
    hours = make(tz, {"mon": ["09:00-18:00"]})
    opens_at, closes_at = utc(opens), utc(closes)
    assert not is_open(hours, opens_at - MINUTE)
    assert is_open(hours, opens_at)
    assert is_open(hours, closes_at - MINUTE)
    assert not is_open(hours, closes_at)  # the end is exclusive
    assert next_open(hours, opens_at - timedelta(hours=6)) == opens_at
    assert next_change(hours, opens_at + timedelta(hours=1)) == (True, closes_at)


# --- DST change days --------------------------------------------------------------------------

@pytest.mark.parametrize("tz, day, opens, closes", [
    ("Europe/Berlin", "2026-03-28", "2026-03-28 08:00", "2026-03-28 17:00"),  # Saturday, still CET
    ("Europe/Berlin", "2026-03-29", "2026-03-29 07:00", "2026-03-29 16:00"),  # spring forward: CEST
    ("Europe/Berlin", "2026-10-24", "2026-10-24 07:00", "2026-10-24 16:00"),  # Saturday, still CEST
    ("Europe/Berlin", "2026-10-25", "2026-10-25 08:00", "2026-10-25 17:00"),  # fall back: CET
    ("America/New_York", "2026-03-07", "2026-03-07 14:00", "2026-03-07 23:00"),  # still EST
    ("America/New_York", "2026-03-08", "2026-03-08 13:00", "2026-03-08 22:00"),  # spring forward: EDT
    ("America/New_York", "2026-10-31", "2026-10-31 13:00", "2026-10-31 22:00"),  # still EDT
    ("America/New_York", "2026-11-01", "2026-11-01 14:00", "2026-11-01 23:00"),  # fall back: EST
], ids=["berlin-eve-of-spring", "berlin-spring-forward", "berlin-eve-of-fall", "berlin-fall-back",
        "ny-eve-of-spring", "ny-spring-forward", "ny-eve-of-fall", "ny-fall-back"])
def test_nine_to_six_on_dst_change_days(tz, day, opens, closes):
    hours = make(tz, every(EVERY_DAY, "09:00-18:00"))
    opens_at, closes_at = utc(opens), utc(closes)
    local_midnight = datetime.fromisoformat(day).replace(tzinfo=hours.tz).astimezone(UTC)
    assert next_change(hours, local_midnight) == (False, opens_at)
    assert next_open(hours, local_midnight) == opens_at
    assert next_change(hours, opens_at) == (True, closes_at)
    assert not is_open(hours, opens_at - MINUTE) and is_open(hours, closes_at - MINUTE)


# What "sensibly" means for a slot edge inside the skipped or the repeated hour:
# - Skipped (spring forward, 02:00 -> 03:00): a time that does not exist is read the way the clocks move,
#   forward by the size of the gap: "02:30" means 03:30 summer time. Never earlier than the jump: the slot
#   must not open (or close) while the clock still shows winter time before 02:00.
# - Repeated (fall back): a time that happens twice means its first occurrence.
@pytest.mark.parametrize("tz, week, edge, opens", [
    ("Europe/Berlin", {"sun": ["02:30-06:00"]}, "2026-03-29 01:30", True),  # 02:30 -> 03:30 CEST
    ("Europe/Berlin", {"sun": ["02:00-06:00"]}, "2026-03-29 01:00", True),  # 02:00 -> 03:00 CEST, the jump
    ("Europe/Berlin", {"sat": ["22:00-02:30"]}, "2026-03-29 01:30", False),  # spill ends at 03:30 CEST
    ("America/New_York", {"sun": ["02:30-06:00"]}, "2026-03-08 07:30", True),  # 02:30 -> 03:30 EDT
    ("America/New_York", {"sat": ["22:00-02:30"]}, "2026-03-08 07:30", False),
    ("Europe/Berlin", {"sun": ["02:30-06:00"]}, "2026-10-25 00:30", True),  # first 02:30, still CEST
    ("Europe/Berlin", {"sat": ["22:00-02:30"]}, "2026-10-25 00:30", False),  # not through the repeat
    ("America/New_York", {"sun": ["01:30-06:00"]}, "2026-11-01 05:30", True),  # first 01:30, still EDT
    ("America/New_York", {"sat": ["22:00-01:30"]}, "2026-11-01 05:30", False),
], ids=["berlin-skipped-start", "berlin-start-at-the-jump", "berlin-skipped-end", "ny-skipped-start",
        "ny-skipped-end", "berlin-repeated-start", "berlin-repeated-end", "ny-repeated-start", "ny-repeated-end"])
def test_slot_edge_in_the_skipped_or_repeated_hour(tz, week, edge, opens):
    hours = make(tz, week)
    at = utc(edge)
    assert is_open(hours, at - MINUTE) is not opens
    assert is_open(hours, at) is opens
    state, change = next_change(hours, at - timedelta(minutes=30))
    assert (state, change) == (not opens, at)


def test_a_slot_across_the_spring_forward_night_is_an_hour_shorter():
    hours = make("Europe/Berlin", {"sat": ["22:00-06:00"]})
    opens_at = utc("2026-03-28 21:00")  # 22:00 CET
    assert next_change(hours, opens_at) == (True, utc("2026-03-29 04:00"))  # 06:00 CEST: 7 hours later


# --- slots past midnight ----------------------------------------------------------------------

NIGHTS = {"fri": ["22:00-02:00"], "sun": ["22:00-02:00"]}


@pytest.mark.parametrize("local, expected", [
    ("2026-11-06 21:59", False),  # Friday
    ("2026-11-06 22:00", True),
    ("2026-11-07 00:00", True),  # Saturday: Friday's slot continues
    ("2026-11-07 01:00", True),
    ("2026-11-07 01:59", True),
    ("2026-11-07 02:00", False),
    ("2026-11-07 23:00", False),  # Saturday has no slot of its own
    ("2026-11-08 01:00", False),  # so nothing spills into Sunday
    ("2026-11-08 23:00", True),
    ("2026-11-09 01:00", True),  # Sunday -> Monday across the week boundary
    ("2026-11-09 02:00", False),
], ids=lambda v: str(v))
def test_slot_past_midnight_spills_into_the_next_morning(local, expected):
    hours = make("Europe/Berlin", NIGHTS)
    at = datetime.fromisoformat(local).replace(tzinfo=hours.tz).astimezone(UTC)
    assert is_open(hours, at) is expected


def test_sunday_night_slot_closes_on_monday_morning():
    hours = make("Europe/Berlin", NIGHTS)
    assert next_change(hours, utc("2026-11-08 22:00")) == (True, utc("2026-11-09 01:00"))  # 02:00 CET Monday


@pytest.mark.parametrize("week, local, expected", [
    ({"mon": ["18:00-24:00"]}, "2026-11-02 23:59", True),
    ({"mon": ["18:00-24:00"]}, "2026-11-03 00:00", False),
    ({"mon": ["00:00-24:00"]}, "2026-11-02 00:00", True),
    ({"mon": ["00:00-24:00"]}, "2026-11-02 23:59", True),
    ({"mon": ["00:00-24:00"]}, "2026-11-03 00:00", False),
    ({"mon": ["08:00-08:00"]}, "2026-11-03 07:59", True),  # end == start: a full 24 hours
    ({"mon": ["08:00-08:00"]}, "2026-11-03 08:00", False),
], ids=["18-24-last-minute", "18-24-midnight", "whole-day-start", "whole-day-end", "whole-day-after",
        "equal-ends-24h", "equal-ends-after"])
def test_24_00_ends_and_full_days(week, local, expected):
    hours = make("Asia/Kolkata", week)
    at = datetime.fromisoformat(local).replace(tzinfo=hours.tz).astimezone(UTC)
    assert is_open(hours, at) is expected


def test_24_00_end_joins_the_next_days_early_slot():
    hours = make("UTC", {"mon": ["18:00-24:00"], "tue": ["00:00-08:00"]})
    assert next_change(hours, utc("2026-11-02 19:00")) == (True, utc("2026-11-03 08:00"))


# --- dated exceptions ---------------------------------------------------------------------------

OFFICE = every(WORKDAYS, "09:00-18:00")


@pytest.mark.parametrize("week, dates, local, expected", [
    (OFFICE, {}, "2026-11-04 12:00", True),  # control: a normal Wednesday
    (OFFICE, {"2026-11-04": []}, "2026-11-04 12:00", False),  # a holiday closes the day
    (OFFICE, {"2026-11-04": []}, "2026-11-05 12:00", True),  # and only that day
    (OFFICE, {"2026-11-04": ["13:00-15:00"]}, "2026-11-04 10:00", False),  # special slots replace the week's
    (OFFICE, {"2026-11-04": ["13:00-15:00"]}, "2026-11-04 14:00", True),
    (OFFICE, {"2026-11-04": ["13:00-15:00"]}, "2026-11-04 16:00", False),
    (OFFICE, {"2026-11-07": ["10:00-12:00"]}, "2026-11-07 11:00", True),  # a working Saturday
    ({}, {"2026-11-04": []}, "2026-11-04 12:00", False),  # always open, except the holiday
    ({}, {"2026-11-04": []}, "2026-11-03 23:59", True),
    # A slot belongs to the day it starts on: a holiday closes the slots that start on it, not the
    # previous evening's spill (the owner planned Tuesday night, the holiday begins with Wednesday's own hours).
    ({"tue": ["22:00-02:00"]}, {"2026-11-04": []}, "2026-11-04 01:00", True),
    ({"tue": ["22:00-02:00"]}, {"2026-11-04": []}, "2026-11-04 02:00", False),
    ({"thu": []}, {"2026-11-04": ["22:00-02:00"]}, "2026-11-05 01:00", True),  # an exception's own spill
    ({"thu": []}, {"2026-11-04": ["22:00-02:00"]}, "2026-11-05 02:00", False),
], ids=["normal-day", "holiday", "day-after-holiday", "special-before", "special-inside", "special-after",
        "working-saturday", "always-open-holiday", "always-open-eve", "spill-into-holiday",
        "spill-into-holiday-ends", "exception-spill", "exception-spill-ends"])
def test_dated_exceptions(week, dates, local, expected):
    hours = make("Europe/Berlin", week, dates)
    at = datetime.fromisoformat(local).replace(tzinfo=hours.tz).astimezone(UTC)
    assert is_open(hours, at) is expected


def test_holiday_moves_the_next_opening_to_the_day_after():
    hours = make("Europe/Berlin", OFFICE, {"2026-11-04": []})
    assert next_change(hours, utc("2026-11-03 16:00")) == (True, utc("2026-11-03 17:00"))
    assert next_open(hours, utc("2026-11-03 17:00")) == utc("2026-11-05 08:00")


def test_always_open_with_a_holiday_changes_at_local_midnight():
    hours = make("America/New_York", {}, {"2026-11-04": []})
    assert next_change(hours, utc("2026-11-03 12:00")) == (True, utc("2026-11-04 05:00"))  # 00:00 EST
    assert next_change(hours, utc("2026-11-04 12:00")) == (False, utc("2026-11-05 05:00"))


# --- next_change / next_open ------------------------------------------------------------------

BERLIN_OFFICE = every(WORKDAYS, "09:00-17:00")


@pytest.mark.parametrize("now, expected", [
    ("2026-11-06 15:00", (True, "2026-11-06 16:00")),  # Friday 16:00 CET -> closes at 17:00
    ("2026-11-06 16:00", (False, "2026-11-09 08:00")),  # Friday 17:00 exactly: closed until Monday
    ("2026-11-07 11:00", (False, "2026-11-09 08:00")),  # Saturday
    ("2026-11-08 23:30", (False, "2026-11-09 08:00")),  # Monday 00:30 local, still before opening
    ("2026-11-09 07:59", (False, "2026-11-09 08:00")),
    ("2026-11-09 08:00", (True, "2026-11-09 16:00")),
], ids=["friday-open", "friday-close-edge", "saturday", "monday-small-hours", "a-minute-before", "opening-edge"])
def test_next_change_across_the_weekend(now, expected):
    hours = make("Europe/Berlin", BERLIN_OFFICE)
    state, change = expected
    assert next_change(hours, utc(now)) == (state, utc(change))
    assert next_open(hours, utc(now)) == (utc(now) if state else utc(change))


@pytest.mark.parametrize("week, dates, expected", [
    ({"mon": []}, {}, (False, None)),  # a week with no slot at all: always closed
    (every(EVERY_DAY), {}, (False, None)),
    ({}, {}, (True, None)),  # no week: always open
    ({"mon": []}, {"2026-12-24": ["10:00-12:00"]}, (False, None)),  # 52 days away: past the horizon
    ({"mon": []}, {"2026-11-20": ["10:00-12:00"]}, (False, utc("2026-11-20 10:00"))),  # within it
], ids=["closed-week", "all-days-empty", "always-open", "exception-past-horizon", "exception-in-horizon"])
def test_next_change_within_the_horizon(week, dates, expected):
    hours = make("UTC", week, dates)
    assert next_change(hours, utc("2026-11-02 10:00")) == expected
    state, change = expected
    assert next_open(hours, utc("2026-11-02 10:00")) == (utc("2026-11-02 10:00") if state else change)


def test_horizon_is_a_parameter():
    hours = make("UTC", {"mon": []}, {"2026-11-20": ["10:00-12:00"]})
    assert next_change(hours, utc("2026-11-02 10:00"), horizon_days=7) == (False, None)


# --- quiet hours --------------------------------------------------------------------------------

@pytest.mark.parametrize("tz, now, quiet, ends", [
    ("America/New_York", "2026-11-03 03:59", False, None),  # 22:59 EST Monday
    ("America/New_York", "2026-11-03 04:00", True, "2026-11-03 13:00"),  # 23:00 EST -> 08:00 EST
    ("America/New_York", "2026-11-03 08:00", True, "2026-11-03 13:00"),  # 03:00, the quiet began yesterday
    ("America/New_York", "2026-11-03 12:59", True, "2026-11-03 13:00"),
    ("America/New_York", "2026-11-03 13:00", False, None),  # 08:00: the end is exclusive
    ("America/New_York", "2026-11-01 03:30", True, "2026-11-01 13:00"),  # 23:30 EDT -> 08:00 EST, a 9.5 h night
    ("Asia/Kolkata", "2026-11-02 17:30", True, "2026-11-03 02:30"),  # 23:00 IST -> 08:00 IST
    ("Asia/Kolkata", "2026-11-02 17:29", False, None),
    ("Pacific/Auckland", "2026-11-02 10:00", True, "2026-11-02 19:00"),  # 23:00 NZDT -> 08:00 NZDT
], ids=["ny-before", "ny-start", "ny-after-midnight", "ny-last-minute", "ny-end", "ny-fall-back-night",
        "kolkata-start", "kolkata-before", "auckland"])
def test_quiet_hours_in_the_owners_zone(tz, now, quiet, ends):
    hours = make(tz, quiet=["23:00-08:00"])
    at = utc(now)
    assert in_quiet(hours, at) is quiet
    assert quiet_end(hours, at) == (utc(ends) if ends else at)


@pytest.mark.parametrize("quiet, now, ends", [
    (["22:00-07:00", "23:00-08:00"], "2026-11-02 23:30", "2026-11-03 08:00"),  # both hold: the later end
    (["23:00-08:00", "06:00-09:00"], "2026-11-03 07:00", "2026-11-03 09:00"),
    (["23:00-02:00", "01:00-08:00"], "2026-11-03 00:30", "2026-11-03 02:00"),  # only the first holds yet
], ids=["nested", "overlapping-morning", "chained"])
def test_quiet_end_with_several_slots(quiet, now, ends):
    hours = make("UTC", quiet=quiet)
    assert in_quiet(hours, utc(now)) and quiet_end(hours, utc(now)) == utc(ends)


def test_quiet_hours_do_not_close_working_hours():
    hours = make("Europe/Berlin", {}, quiet=["23:00-08:00"])
    at = utc("2026-11-03 02:00")
    assert is_open(hours, at) and in_quiet(hours, at)


def test_no_quiet_hours():
    hours = make("Europe/Berlin")
    assert not in_quiet(hours, utc("2026-11-03 02:00"))
    assert quiet_end(hours, utc("2026-11-03 02:00")) == utc("2026-11-03 02:00")


# --- settings -----------------------------------------------------------------------------------

@pytest.mark.parametrize("fields, key", [
    ({"week": {"mon": ["9-18"]}}, "hours.week.mon"),
    ({"week": {"mon": ["09:00-18:00", "nine to five"]}}, "hours.week.mon"),
    ({"week": {"tue": ["25:00-26:00"]}}, "hours.week.tue"),
    ({"week": {"tue": ["09:60-10:00"]}}, "hours.week.tue"),
    ({"week": {"tue": ["09:00-24:30"]}}, "hours.week.tue"),
    ({"week": {"tue": ["24:00-02:00"]}}, "hours.week.tue"),
    ({"week": {"funday": ["09:00-18:00"]}}, "'funday' is not a weekday"),
    ({"week": {"mo": ["09:00-18:00"]}}, "hours.week"),
    ({"dates": {"2026-13-01": []}}, "hours.dates: '2026-13-01'"),
    ({"dates": {"25.12.2026": []}}, "hours.dates: '25.12.2026'"),
    ({"dates": {"2026-12-25": ["all day"]}}, "hours.dates.2026-12-25"),
    ({"quiet": ["23:00"]}, "hours.quiet"),
    ({"timezone": "Mars/Olympus_Mons"}, "hours.timezone 'Mars/Olympus_Mons'"),
    ({"timezone": ""}, "hours.timezone"),
    ({"timezone": "Europe"}, "hours.timezone 'Europe'"),  # a directory of the zone database, not a zone
    ({"timezone": "../../etc/passwd"}, "hours.timezone"),
], ids=["hours-without-minutes", "second-slot-words", "hour-25", "minute-60", "past-24", "start-24",
        "bad-weekday", "short-weekday", "month-13", "german-date", "date-slot", "quiet-no-end",
        "unknown-zone", "empty-zone", "zone-directory", "zone-path"])
def test_invalid_settings_name_the_key(fields, key):
    with pytest.raises(ConfigError) as caught:
        Hours.from_settings(HoursSettings(**fields))
    assert key in str(caught.value)


@pytest.mark.parametrize("week", [
    {"mon": ["9:00-18:00"]},
    {"mon": [" 09:00 - 18:00 "]},
    {"Monday": ["09:00-18:00"]},
    {"MON": ["09:00-18:00"]},
], ids=["one-digit-hour", "spaces", "full-name", "upper-case"])
def test_lenient_spellings_mean_the_same_slot(week):
    assert make("UTC", week).week == {0: ((9 * 60, 18 * 60),)}


def test_hours_from_loaded_settings(tmp_path: Path):
    settings = config.load(home=tmp_path, env={}, overrides={
        "hours.timezone": "Asia/Kolkata", "hours.week": {"mon": ["09:00-18:00"]},
        "hours.dates": {"2026-11-09": []}, "hours.quiet": ["22:00-07:00"]})
    hours = Hours.from_settings(settings.hours)
    assert is_open(hours, utc("2026-11-02 03:30")) and not is_open(hours, utc("2026-11-09 05:00"))
    assert next_open(hours, utc("2026-11-02 13:00")) == utc("2026-11-16 03:30")  # the 9th is a holiday
    assert in_quiet(hours, utc("2026-11-02 16:30"))  # 22:00 IST
