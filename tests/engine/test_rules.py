"""Who gets an answer, and when: each rule's edge, as a pure function of (message, settings, state, now)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.fakes import T0, incoming
from twin import config
from twin.engine.hours import Hours
from twin.engine.rules import ChatContext, decide, opening, who
from twin.engine.timing import plan
from twin.types import Decision, Incoming, Media

ME = 1000
SEED = 12345
# Answered from their description, with or without speech-to-text (a round video: its frame and length).
MEDIA_KINDS = ("photo", "sticker", "animation", "video", "video_note", "document", "link", "location", "venue",
               "contact", "poll", "dice")
HOME = Path(__file__).parent / "no-such-home"  # no twin.toml there: defaults plus the overrides
WORKDAYS = ("mon", "tue", "wed", "thu", "fri")
OFFICE = {"hours.timezone": "Europe/Berlin", "hours.week": {d: ["09:00-17:00"] for d in WORKDAYS},
          "hours.quiet": []}


def settings(**overrides: Any) -> config.Settings:
    """Settings from dotted keys ("rules.deny"); double underscores stand for the dot."""
    return config.load(home=HOME, env={}, overrides={k.replace("__", "."): v for k, v in overrides.items()})


def run(message: Incoming | None = None, ctx: ChatContext | None = None, now: datetime = T0, seed: int = SEED,
        **overrides: Any) -> Decision:
    s = settings(**overrides)
    return decide(message or incoming(), s, Hours.from_settings(s.hours), ctx or ChatContext(me_id=ME), now, seed)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def notice(s: config.Settings, message: Incoming, seed: int = SEED) -> timedelta:
    return timedelta(seconds=plan(s.timing, seed, len(message.text)).notice_s)


GROUP = {"chat_id": -100123, "sender_id": 7, "chat_kind": "group"}


# --- who: the rules that refuse a sender or a chat --------------------------------------------

@pytest.mark.parametrize("message, ctx, overrides, reason", [
    ({"kind": "service"}, {}, {}, "service message"),
    ({"outgoing": True}, {}, {}, "written by the owner"),
    ({"sender_is_self": True}, {}, {}, "written by the owner"),
    ({"sender_id": ME}, {}, {}, "written by the owner"),
    ({"sender_id": 777000, "chat_id": 777000}, {}, {}, "Telegram's service account"),
    ({"chat_kind": "channel", "chat_id": -1009, "sender_id": -1009}, {}, {}, "channel post"),
    ({"sender_is_bot": True}, {}, {}, "sender is a bot"),
    ({"sender_id": 42}, {}, {"rules__deny": ["42"]}, "rules.deny"),
    ({"sender_username": "Alice"}, {}, {"rules__deny": ["@ALICE"]}, "rules.deny"),
    ({"sender_username": "ALICE"}, {}, {"rules__deny": [" @alice "]}, "rules.deny"),
    ({"sender_phone": "4915123456789"}, {}, {"rules__deny": ["+49 151 2345 6789"]}, "rules.deny"),
    ({"sender_phone": "+4915123456789"}, {}, {"rules__deny": ["+4915123456789"]}, "rules.deny"),
    ({"sender_username": "alice"}, {}, {"rules__deny": ["@alice"], "rules__allow": ["@alice"]}, "rules.deny"),
    ({"sender_username": "alice"}, {}, {"rules__allow": ["@bob", "99"]}, "not on the allow list (rules.allow)"),
    (GROUP, {}, {}, "group chat not enabled (rules.groups)"),
    ({**GROUP, "mentioned": False}, {}, {"rules__groups": ["-100123"]}, "neither mentions nor replies"),
    ({**GROUP, "mentioned": True}, {}, {"rules__groups": ["-100999"]}, "rules.groups"),
    ({"sender_is_contact": False}, {}, {"rules__contacts_only": True}, "not a contact (rules.contacts_only)"),
    ({}, {"muted": True}, {}, "muted chat (rules.skip_muted)"),
    ({}, {"archived": True}, {}, "archived chat (rules.skip_archived)"),
    ({"kind": "voice", "text": ""}, {}, {}, "voice messages are not answered"),
    ({"kind": "audio", "text": ""}, {}, {}, "audio messages are not answered"),
    ({"kind": "other", "text": "", "media": Media("other", label="story")}, {}, {}, "other messages are not answered"),
    ({"text": ""}, {}, {}, "no text"),
    ({"text": " \n\t "}, {}, {}, "no text"),
], ids=["service", "outgoing", "sender-is-self", "sender-is-me", "telegram-777000", "channel", "bot",
        "deny-id", "deny-username-case", "deny-username-spaces", "deny-phone-spaced", "deny-phone-plus",
        "deny-beats-allow", "not-on-allow-list", "group-not-enabled", "group-not-addressed",
        "other-group-enabled", "contacts-only", "muted", "archived", "voice-without-stt", "audio-without-stt",
        "story", "empty-text", "blank-text"])
def test_refused(message, ctx, overrides, reason):
    s = settings(**overrides)
    msg, context = incoming(**message), ChatContext(me_id=ME, **ctx)
    assert who(msg, s, context, T0) is not None and reason in who(msg, s, context, T0)
    decision = decide(msg, s, Hours.from_settings(s.hours), context, T0, SEED)
    assert (decision.answer, decision.status, decision.due_at) == (False, "skipped", None)
    assert reason in decision.reason


@pytest.mark.parametrize("message, ctx, overrides", [
    ({}, {}, {}),
    ({"sender_id": 42}, {}, {"rules__allow": ["42"]}),
    ({"sender_username": "Alice"}, {}, {"rules__allow": ["@alice"]}),
    ({"sender_phone": "4915123456789"}, {}, {"rules__allow": ["+49 151 23456789"]}),
    ({"sender_is_contact": False}, {}, {"rules__allow": ["42"], "rules__contacts_only": True}),
    ({}, {"muted": True}, {"rules__allow": ["42"]}),
    ({}, {"archived": True}, {"rules__allow": ["42"]}),
    ({}, {"muted": True}, {"rules__skip_muted": False}),
    ({}, {"archived": True}, {"rules__skip_archived": False}),
    ({"sender_is_contact": True}, {}, {"rules__contacts_only": True}),
    ({"sender_username": "alice"}, {}, {"rules__deny": ["@bob", "43", "+10000000000"]}),
    ({**GROUP, "mentioned": True}, {}, {"rules__groups": ["-100123"]}),
    ({**GROUP, "reply_to": 5}, {"replied_to_us": True}, {"rules__groups": ["-100123"]}),
    ({"kind": "voice", "text": ""}, {"voice_enabled": True}, {}),
    ({"kind": "audio", "text": ""}, {"voice_enabled": True}, {}),
    ({"kind": "video_note", "text": ""}, {"voice_enabled": True}, {}),
    *(({"kind": kind, "text": "", "media": Media(kind, label=kind)}, {}, {}) for kind in MEDIA_KINDS),
    ({"kind": "photo", "text": "look", "media": Media("photo", label="photo")}, {}, {}),
    ({"kind": "other", "text": "look at this story", "media": Media("other", label="story")}, {}, {}),
], ids=["plain-private", "allow-id", "allow-username-case", "allow-phone", "allow-beats-contacts-only",
        "allow-beats-muted", "allow-beats-archived", "muted-not-skipped", "archived-not-skipped", "contact",
        "deny-list-of-others", "group-mentioned", "group-replied-to-us", "voice-with-stt", "audio-with-stt",
        "video-note-with-stt", *MEDIA_KINDS, "photo-with-caption", "story-with-caption"])
def test_answered(message, ctx, overrides):
    s = settings(**overrides)
    msg, context = incoming(**message), ChatContext(me_id=ME, **ctx)
    assert who(msg, s, context, T0) is None
    decision = decide(msg, s, Hours.from_settings(s.hours), context, T0, SEED)
    assert decision.answer and decision.status == "skipped"  # the status of an answered turn is unused
    assert decision.due_at == T0 + notice(s, msg)
    assert not (decision.deferred or decision.away or decision.pause_until)


# --- staleness, pauses, loop guard ------------------------------------------------------------

@pytest.mark.parametrize("age, stale_after_h, stale", [
    (timedelta(hours=6), 6.0, False),  # exactly at the boundary: still answered
    (timedelta(hours=6, seconds=1), 6.0, True),
    (timedelta(minutes=30), 0.5, False),
    (timedelta(minutes=30, microseconds=1), 0.5, True),
    (timedelta(0), 6.0, False),
], ids=["at-6h", "past-6h", "at-30min", "past-30min", "fresh"])
def test_stale(age, stale_after_h, stale):
    decision = run(incoming(date=T0 - age), timing__stale_after_h=stale_after_h)
    assert decision.answer is not stale
    if stale:
        assert decision.status == "stale" and decision.reason.startswith("stale: arrived")
        assert f"{age.total_seconds() / 3600:.1f} h" in decision.reason


@pytest.mark.parametrize("field, until, paused", [
    ("account_paused_until", T0 + timedelta(seconds=1), True),
    ("account_paused_until", T0, False),  # the pause ends at its instant
    ("account_paused_until", T0 - timedelta(hours=1), False),
    ("paused_until", T0 + timedelta(hours=12), True),
    ("paused_until", T0, False),
    ("paused_until", T0 - timedelta(seconds=1), False),
], ids=["account-before", "account-at-end", "account-after", "chat-before", "chat-at-end", "chat-after"])
def test_pauses(field, until, paused):
    ctx = ChatContext(me_id=ME, pause_reason="the owner took over", **{field: until})
    decision = run(ctx=ctx)
    assert decision.answer is not paused
    if paused and field == "paused_until":
        assert decision.reason == "chat paused until 2026-11-02T22:00+00:00 (the owner took over)"
    elif paused:
        assert decision.reason == "twin paused until 2026-11-02T10:00+00:00"
    assert decision.pause_until is None  # a pause is not extended by the message that hits it


def test_chat_pause_without_a_reason():
    decision = run(ctx=ChatContext(me_id=ME, paused_until=T0 + timedelta(hours=1)))
    assert decision.reason == "chat paused until 2026-11-02T11:00+00:00"


@pytest.mark.parametrize("ctx, overrides, rule", [
    ({"fast_streak": 4}, {}, "4 replies in a row faster than 3 s"),
    ({"fast_streak": 9}, {}, "9 replies in a row"),
    ({"fast_streak": 2}, {"rules__loop_streak": 2, "rules__loop_fast_s": 1.5}, "faster than 1.5 s"),
    ({"turns_last_hour": 20}, {}, "rules.max_turns_per_hour"),
    ({"turns_last_hour": 5}, {"rules__max_turns_per_hour": 5}, "rules.max_turns_per_hour"),
    ({"turns_last_day": 120}, {}, "rules.max_turns_per_day"),
    ({"turns_last_day": 3}, {"rules__max_turns_per_day": 3}, "rules.max_turns_per_day"),
], ids=["streak-at-limit", "streak-past-limit", "custom-streak", "hour-at-limit", "custom-hour",
        "day-at-limit", "custom-day"])
def test_loop_guard_trips(ctx, overrides, rule):
    decision = run(ctx=ChatContext(me_id=ME, **ctx), rules__loop_pause_h=24.0, **overrides)
    assert (decision.answer, decision.status) == (False, "needs_owner")
    assert decision.reason.startswith("loop guard:") and rule in decision.reason
    assert decision.pause_until == T0 + timedelta(hours=24)


@pytest.mark.parametrize("ctx, overrides", [
    ({"fast_streak": 3}, {}),
    ({"fast_streak": 1}, {"rules__loop_streak": 2}),
    ({"turns_last_hour": 19}, {}),
    ({"turns_last_day": 119, "turns_last_hour": 19}, {}),
    ({"turns_last_day": 2}, {"rules__max_turns_per_day": 3}),
], ids=["streak-one-less", "custom-streak-one-less", "hour-one-less", "day-one-less", "custom-day-one-less"])
def test_loop_guard_one_below_the_limit_answers(ctx, overrides):
    decision = run(ctx=ChatContext(me_id=ME, **ctx), **overrides)
    assert decision.answer and decision.pause_until is None


def test_loop_guard_pause_length_is_a_setting():
    decision = run(ctx=ChatContext(me_id=ME, fast_streak=4), rules__loop_pause_h=2.5)
    assert decision.pause_until == T0 + timedelta(hours=2.5)


@pytest.mark.parametrize("first, ctx, expected", [
    ("who", {"paused_until": T0 + timedelta(hours=1)}, "sender is a bot"),  # who() before pauses
    ("stale", {"fast_streak": 9}, "stale"),  # stale before the loop guard
    ("pause", {"paused_until": T0 + timedelta(hours=1), "fast_streak": 9}, "chat paused"),
], ids=["who-first", "stale-before-loop", "pause-before-loop"])
def test_first_rule_that_says_no_wins(first, ctx, expected):
    message = incoming(sender_is_bot=first == "who", date=T0 - timedelta(hours=7) if first == "stale" else T0)
    decision = run(message, ChatContext(me_id=ME, **ctx))
    assert not decision.answer and decision.reason.startswith(expected)
    assert decision.pause_until is None  # the loop guard did not run


# --- working hours --------------------------------------------------------------------------

MONDAY_11 = utc("2026-11-02 10:00")  # 11:00 in Berlin
SATURDAY_NOON = utc("2026-11-07 11:00")
NEXT_MONDAY_9 = utc("2026-11-09 08:00")


def test_open_answers_after_the_notice_delay():
    s = settings(**OFFICE)
    message = incoming("are you there?", date=MONDAY_11)
    decision = decide(message, s, Hours.from_settings(s.hours), ChatContext(me_id=ME), MONDAY_11, SEED)
    assert decision.answer and not decision.deferred and not decision.away
    assert decision.due_at == MONDAY_11 + notice(s, message)
    low, high = timedelta(seconds=s.timing.notice_min_s), timedelta(seconds=s.timing.notice_max_s)
    assert MONDAY_11 + low <= decision.due_at <= MONDAY_11 + high


@pytest.mark.parametrize("now", [SATURDAY_NOON, utc("2026-11-06 16:00"), utc("2026-11-09 07:59")],
                         ids=["saturday", "friday-at-closing", "monday-a-minute-early"])
def test_closed_ignore(now):
    decision = run(incoming(date=now), now=now, hours__outside="ignore", **OFFICE)
    assert (decision.answer, decision.status, decision.due_at) == (False, "skipped", None)
    assert decision.reason == "outside working hours (hours.outside = ignore)"


def test_closed_away_is_due_now():
    decision = run(incoming(date=SATURDAY_NOON), now=SATURDAY_NOON, hours__outside="away", **OFFICE)
    assert decision.answer and decision.away and not decision.deferred
    assert decision.due_at == SATURDAY_NOON
    assert "outside working hours" in decision.reason


@pytest.mark.parametrize("now, opens", [
    (SATURDAY_NOON, NEXT_MONDAY_9),
    (utc("2026-11-06 16:00"), NEXT_MONDAY_9),  # Friday 17:00: the end is exclusive
    (utc("2026-11-09 07:59"), NEXT_MONDAY_9),
    (utc("2026-11-02 18:30"), utc("2026-11-03 08:00")),  # Monday evening -> Tuesday morning
], ids=["saturday", "friday-at-closing", "monday-a-minute-early", "weeknight"])
@pytest.mark.parametrize("seed", [1, 2, 3, 99, 2**31 - 1])
def test_closed_defer_is_due_after_the_opening(now, opens, seed):
    s = settings(hours__outside="defer", timing__defer_spread_min=30.0, **OFFICE)
    message = incoming("see you monday?", date=now)
    decision = decide(message, s, Hours.from_settings(s.hours), ChatContext(me_id=ME), now, seed)
    assert decision.answer and decision.deferred and not decision.away
    assert decision.reason == f"outside working hours: deferred to {opens.isoformat(timespec='minutes')}"
    spread = decision.due_at - opens - notice(s, message, seed)  # what is left is the catch-up spread
    assert timedelta(0) <= spread <= timedelta(minutes=30)
    assert decision.due_at >= opens


def test_deferred_replies_spread_out():
    s = settings(hours__outside="defer", timing__defer_spread_min=30.0, **OFFICE)
    hours, message = Hours.from_settings(s.hours), incoming(date=SATURDAY_NOON)
    dues = [decide(message, s, hours, ChatContext(me_id=ME), SATURDAY_NOON, seed).due_at for seed in range(1, 41)]
    assert len(set(dues)) == 40
    assert max(dues) - min(dues) > timedelta(minutes=15)  # spread over the window, not bunched


def test_defer_without_any_opening_skips():
    decision = run(incoming(date=SATURDAY_NOON), now=SATURDAY_NOON, hours__week={"mon": []}, hours__outside="defer")
    assert not decision.answer and decision.reason == "outside working hours and no opening in the next three weeks"


QUIET_BERLIN = {"hours.timezone": "Europe/Berlin", "hours.quiet": ["23:00-08:00"]}  # week empty: always open


@pytest.mark.parametrize("outside", ["defer", "away", "ignore"])
def test_quiet_hours_inside_open_hours_defer_to_the_quiet_end(outside):
    # Quiet hours are not closed hours: hours.outside does not apply, the message waits for the morning.
    now = utc("2026-11-03 01:00")  # 02:00 in Berlin
    s = settings(hours__outside=outside, **QUIET_BERLIN)
    message = incoming(date=now)
    decision = decide(message, s, Hours.from_settings(s.hours), ChatContext(me_id=ME), now, SEED)
    morning = utc("2026-11-03 07:00")  # 08:00 in Berlin
    assert decision.answer and decision.deferred and not decision.away
    assert "quiet hours (hours.quiet)" in decision.reason and "2026-11-03T07:00+00:00" in decision.reason
    spread = decision.due_at - morning - notice(s, message)
    assert timedelta(0) <= spread <= timedelta(minutes=s.timing.defer_spread_min)


@pytest.mark.parametrize("now, week, quiet, expected", [
    # opens 07:00, quiet until 08:00: the first moment that is both is 08:00
    (utc("2026-11-03 06:30"), {"tue": ["07:00-12:00"]}, ["23:00-08:00"], utc("2026-11-03 07:00")),
    # closed at 05:00 Berlin, opens 06:00 into quiet hours until 08:00
    (utc("2026-11-03 04:00"), {"tue": ["06:00-20:00"]}, ["23:00-08:00"], utc("2026-11-03 07:00")),
    # open and quiet at 23:30, quiet ends at 08:00 but the slot is over by then: next day's opening
    (utc("2026-11-02 22:30"), {"mon": ["22:00-07:00"], "tue": ["09:00-10:00"]}, ["23:00-08:00"],
     utc("2026-11-03 08:00")),
    (utc("2026-11-03 10:00"), {"tue": ["09:00-17:00"]}, ["23:00-08:00"], utc("2026-11-03 10:00")),  # now
    (utc("2026-11-03 10:00"), {"mon": []}, [], None),
    # chained quiet slots: the first ends at 02:00 into the second, which ends at 08:00
    (utc("2026-11-02 23:30"), {}, ["23:00-02:00", "01:00-08:00"], utc("2026-11-03 07:00")),
], ids=["open-into-quiet", "closed-then-quiet", "quiet-outlasts-slot", "already-open", "never", "chained-quiet"])
def test_opening_is_open_and_not_quiet(now, week, quiet, expected):
    s = settings(hours__timezone="Europe/Berlin", hours__week=week, hours__quiet=quiet)
    assert opening(Hours.from_settings(s.hours), now) == expected


@pytest.mark.parametrize("now, overrides, due", [
    (MONDAY_11, OFFICE, MONDAY_11),  # open: exactly now
    (SATURDAY_NOON, {**OFFICE, "hours.outside": "defer"}, NEXT_MONDAY_9),  # deferred: exactly the opening
    (SATURDAY_NOON, {**OFFICE, "hours.outside": "away"}, SATURDAY_NOON),
    (utc("2026-11-03 01:00"), QUIET_BERLIN, utc("2026-11-03 07:00")),  # quiet: exactly its end
], ids=["open", "defer", "away", "quiet"])
def test_scale_zero_removes_every_delay(now, overrides, due):
    s = replace(settings(**overrides), timing=replace(settings().timing, scale=0.0, defer_spread_min=60.0))
    decision = decide(incoming("x" * 500, date=now), s, Hours.from_settings(s.hours), ChatContext(me_id=ME),
                      now, SEED)
    assert decision.answer and decision.due_at == due
