"""The queue and the daemon under a fake clock that only moves when the test says so."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from tests.fakes import T0, FakeClock, incoming
from tests.helpers import make_rig
from twin.errors import FloodWait, PeerFlood

FIXED = {"timing__notice_min_s": 10.0, "timing__notice_max_s": 10.0, "timing__jitter": 0.0,
         "timing__read_cps": 10.0, "timing__type_cps": 5.0, "hours__quiet": [], "timing__tick_s": 3600.0}


class Running:
    """A daemon running on a manual clock; `advance` moves time and lets everything react."""

    def __init__(self, rig):
        self.rig = rig
        self.stop = asyncio.Event()

    async def __aenter__(self):
        self.task = asyncio.create_task(self.rig.daemon.run(self.stop))
        await asyncio.wait_for(self.rig.daemon.connected.wait(), 5)
        return self

    async def __aexit__(self, *exc):
        self.stop.set()
        await asyncio.wait_for(self.task, 5)

    async def push(self, *messages):
        self.rig.telegram.push(*messages)
        for _ in range(50):
            await asyncio.sleep(0)

    async def advance(self, seconds, step=1.0):
        left = seconds
        while left > 0:
            await self.rig.clock.advance(min(step, left))
            left -= step

    def elapsed(self, iso):
        return (datetime.fromisoformat(iso) - T0).total_seconds()


def rig_at(twin_home, *replies, start=T0, **overrides):
    return make_rig(twin_home, *replies, clock=FakeClock(start, auto=False), **{**FIXED, **overrides})


async def test_burst_waits_for_quiet_then_answers_once(twin_home):
    rig = rig_at(twin_home, "one answer to all")
    async with Running(rig) as run:
        await run.push(incoming("hey", message_id=1))
        await run.advance(6)
        await run.push(incoming("quick question", message_id=2))  # quiet until 6 + 8 = 14 s
        await run.advance(6)
        await run.push(incoming("are you around?", message_id=3))  # quiet until 12 + 8 = 20 s
        await run.advance(7)
        assert rig.telegram.reads == [] and rig.telegram.sent == []  # 19 s: still within the quiet window
        await run.advance(60)
    (turn,) = rig.store.turns("default")
    assert [s.text for s in rig.telegram.sent] == ["one answer to all"]
    assert turn.incoming_ids == (1, 2, 3)
    assert run.elapsed(turn.extra["steps"]["read"]) >= 20  # never before the contact was quiet 8 s
    assert rig.telegram.reads == [(42, 3)]
    # reading then typing time passed before the send, and "typing…" was shown meanwhile
    assert (turn.sent_at - datetime.fromisoformat(turn.extra["steps"]["read"])).total_seconds() >= 3
    assert (42, "typing") in rig.telegram.actions


async def test_chats_run_concurrently_and_each_in_order(twin_home):
    rig = rig_at(twin_home, "a1", "b1", "a2")
    async with Running(rig) as run:
        await run.push(incoming("first from a", chat_id=1, message_id=1))
        await run.push(incoming("first from b", chat_id=2, message_id=2))
        await run.advance(12)  # both noticed (10 s) and reading
        await run.push(incoming("second from a", chat_id=1, message_id=10))  # a's reply already under way
        await run.advance(120)
    turns = {t.incoming_text: t for t in rig.store.turns("default")}
    assert {t.status for t in turns.values()} == {"answered"} and len(turns) == 3
    assert turns["first from a"].sent_at < turns["second from a"].sent_at  # one chat, in order
    order = [s.message_id for s in rig.telegram.sent if s.chat_id == 1]
    assert order == [turns["first from a"].reply_ids[0], turns["second from a"].reply_ids[0]]
    assert turns["first from b"].sent_at < turns["second from a"].sent_at  # b was not held up by a's queue


async def test_owner_takeover_cancels_a_reply_mid_typing(twin_home):
    rig = rig_at(twin_home, "a reply long enough to take a while to type out, surely")
    async with Running(rig) as run:
        await run.push(incoming("so?", message_id=1))
        await run.advance(13)  # noticed at 10 s, read for 1 s, now typing (~11 s)
        assert (42, "typing") in rig.telegram.actions and rig.telegram.sent == []
        await run.push(incoming("on my way, tell you later", message_id=2, outgoing=True, sender_id=1000))
        await run.advance(60)
        await run.push(incoming("ok!", message_id=3))
        await run.advance(60)
    assert rig.telegram.sent == []
    statuses = {t.incoming_ids: (t.status, t.reason) for t in rig.store.turns("default")}
    assert statuses[(1,)][0] == "cancelled"
    assert statuses[(3,)][0] == "skipped" and "chat paused" in statuses[(3,)][1]
    state = rig.store.chat("default", 42)
    assert state.paused_until == T0 + timedelta(seconds=13) + timedelta(hours=12)


async def test_loop_guard_pauses_a_contact_that_answers_too_fast(twin_home):
    rig = rig_at(twin_home, timing__scale=0.0, rules__loop_streak=3)
    async with Running(rig) as run:
        for n in range(1, 6):
            await run.push(incoming(f"bot-like {n}", message_id=n * 10, date=rig.clock.now()))
            await run.advance(1)
    turns = sorted(rig.store.turns("default"), key=lambda t: t.id)
    assert [t.status for t in turns][:4] == ["answered"] * 3 + ["needs_owner"]
    assert "loop guard" in turns[3].reason
    assert turns[4].status == "skipped" and "chat paused" in turns[4].reason
    notices = [s.text for s in rig.telegram.sent if s.chat_id == rig.telegram.me.id]
    assert len(notices) == 1 and "loop guard" in notices[0]


async def test_floodwait_pauses_all_sending_and_retries_with_the_same_random_id(twin_home):
    rig = rig_at(twin_home, "to a", "to b", timing__scale=0.0)
    rig.telegram.send_errors.append(FloodWait(120))
    async with Running(rig) as run:
        await run.push(incoming("hi", chat_id=1, message_id=1))
        await run.advance(1)
        await run.push(incoming("hello", chat_id=2, message_id=2))
        await run.advance(60)
        assert rig.telegram.sent == []  # the whole sender waits, not only the chat that hit it
        turn_a = rig.store.turns("default", chat=1)[0]
        assert turn_a.status == "sending" and "FloodWait" in turn_a.reason
        await run.advance(200, step=5)
    assert sorted(s.text for s in rig.telegram.sent) == ["to a", "to b"]
    (sent_a,) = [s for s in rig.telegram.sent if s.chat_id == 1]
    assert sent_a.random_id == turn_a.random_id
    assert rig.store.turns("default", chat=1)[0].extra["flood"]["wait_s"] >= 120


async def test_peer_flood_stops_sending_and_tells_the_owner(twin_home):
    rig = rig_at(twin_home, "x", timing__scale=0.0)
    rig.telegram.send_errors.append(PeerFlood("PEER_FLOOD"))
    async with Running(rig) as run:
        await run.push(incoming("hi", message_id=1))
        await run.advance(30)
        await run.push(incoming("again", message_id=2, chat_id=5))
        await run.advance(30)
    contact_sends = [s for s in rig.telegram.sent if s.chat_id != rig.telegram.me.id]
    assert contact_sends == []
    assert rig.store.chat("default", 0).paused_until > T0 + timedelta(days=300)
    assert any("PEER_FLOOD" in (s.text or "") for s in rig.telegram.sent if s.chat_id == rig.telegram.me.id)
    turns = {t.chat_id: t for t in rig.store.turns("default")}
    assert turns[42].status == "sending"  # kept, not lost: it goes out after `twin resume`
    assert turns[5].status == "skipped" and "paused" in turns[5].reason


SATURDAY_NOON = datetime(2026, 11, 7, 12, 0, tzinfo=UTC)
OFFICE = {"hours__timezone": "Europe/Berlin", "hours__week": {d: ["09:00-17:00"] for d in
          ("mon", "tue", "wed", "thu", "fri")}, "timing__defer_spread_min": 30.0}


async def test_deferred_to_the_next_opening(twin_home):
    rig = rig_at(twin_home, "morning! sure", start=SATURDAY_NOON, **OFFICE)
    async with Running(rig) as run:
        await run.push(incoming("can we talk?", message_id=1, date=SATURDAY_NOON))
        await run.advance(3600)
        assert rig.telegram.sent == [] and rig.telegram.reads == []  # not even read over the weekend
        turn = rig.store.turns("default")[0]
        monday_open = datetime(2026, 11, 9, 8, 0, tzinfo=UTC)  # 09:00 in Berlin
        assert turn.extra["deferred"] and monday_open <= turn.due_at <= monday_open + timedelta(minutes=31)
        await run.advance((turn.due_at - rig.clock.now()).total_seconds() + 120, step=600)
    (turn,) = rig.store.turns("default")
    assert turn.status == "answered" and turn.sent_at >= monday_open


async def test_away_message_once_per_closed_period(twin_home):
    rig = rig_at(twin_home, start=SATURDAY_NOON, hours__outside="away", hours__away_text="Away till Monday!",
                 timing__scale=0.0, **{k: v for k, v in OFFICE.items() if k != "timing__defer_spread_min"})
    async with Running(rig) as run:
        await run.push(incoming("hi", message_id=1, date=SATURDAY_NOON))
        await run.advance(10)
        await run.push(incoming("hello??", message_id=3, date=SATURDAY_NOON))
        await run.advance(10)
    assert [s.text for s in rig.telegram.sent] == ["Away till Monday!"]
    statuses = [(t.status, t.reason) for t in sorted(rig.store.turns("default"), key=lambda t: t.id)]
    assert statuses[0][0] == "answered"
    assert statuses[1] == ("skipped", "outside working hours: away message already sent")


async def test_backlog_older_than_stale_after_is_not_answered(twin_home):
    rig = rig_at(twin_home, "fresh", timing__scale=0.0)
    old = rig.store.add_turn("default", [incoming("from yesterday", message_id=1)], status="waiting",
                             now=T0 - timedelta(hours=7), due_at=T0 - timedelta(hours=7))
    async with Running(rig) as run:
        await run.push(incoming("old news", message_id=2, date=T0 - timedelta(hours=8)),
                       incoming("new", message_id=3, chat_id=9))
        await run.advance(20)
    assert rig.store.turn(old).status == "stale"
    statuses = {t.incoming_text: t.status for t in rig.store.turns("default")}
    assert statuses == {"from yesterday": "stale", "old news": "stale", "new": "answered"}
    assert [s.text for s in rig.telegram.sent] == ["fresh"]


async def test_global_send_cap_spreads_replies(twin_home):
    rig = rig_at(twin_home, "1", "2", "3", timing__scale=0.0, rules__max_sends_per_hour=2)
    async with Running(rig) as run:
        for chat in (1, 2, 3):
            await run.push(incoming(f"hi {chat}", chat_id=chat, message_id=chat))
            await run.advance(1)
        await run.advance(600, step=60)
        assert len(rig.telegram.sent) == 2
        await run.advance(3600, step=60)
    assert len(rig.telegram.sent) == 3
    third = max(rig.store.turns("default"), key=lambda t: t.sent_at)
    assert third.sent_at >= T0 + timedelta(hours=1)


@pytest.mark.parametrize("mark_read", [True, False])
async def test_mark_read_setting_and_quiet_hours(twin_home, mark_read):
    night = datetime(2026, 11, 3, 1, 0, tzinfo=UTC)
    rig = rig_at(twin_home, "hi", start=night, timing__mark_read=mark_read, hours__quiet=["23:00-08:00"],
                 timing__scale=0.0)
    async with Running(rig) as run:
        await run.push(incoming("late night msg", message_id=1, date=night))
        await run.advance(3600, step=60)
        assert rig.telegram.reads == [] and rig.telegram.actions == [] and rig.telegram.sent == []
        await run.advance(7 * 3600, step=600)
    assert [s.text for s in rig.telegram.sent] == ["hi"]
    assert rig.telegram.reads == ([(42, 1)] if mark_read else [])


async def test_review_mode_holds_drafts_until_the_owner_approves(twin_home):
    from twin.engine import review

    rig = rig_at(twin_home, "draft one", "draft two", timing__scale=0.0, service__mode="review", timing__tick_s=2.0)
    async with Running(rig) as run:
        await run.push(incoming("how's the new job?", message_id=1))
        await run.advance(10)
        (turn,) = rig.store.turns("default")
        assert turn.status == "review" and turn.reply_text == "draft one"
        assert [s.chat_id for s in rig.telegram.sent] == [rig.telegram.me.id]  # only the notice to the owner
        review.regenerate(rig.store, turn.id, rig.clock.now())
        await run.advance(10)
        assert rig.store.turn(turn.id).reply_text == "draft two" and rig.store.turn(turn.id).status == "review"
        review.approve(rig.store, turn.id, "going great, tell you more soon", rig.clock.now())
        await run.advance(10)
    to_contact = [s.text for s in rig.telegram.sent if s.chat_id == 42]
    assert to_contact == ["going great, tell you more soon"]
    assert rig.store.turn(turn.id).status == "answered"


async def test_mode_off_listens_and_records_only(twin_home):
    rig = rig_at(twin_home, "never", timing__scale=0.0, service__mode="off")
    async with Running(rig) as run:
        await run.push(incoming("hello?", message_id=1))
        await run.advance(10)
    (turn,) = rig.store.turns("default")
    assert turn.status == "skipped" and turn.reason.startswith("mode off")
    assert rig.telegram.sent == [] and rig.llm.prompts == []


async def test_a_chat_mode_overrides_the_account_mode(twin_home):
    rig = rig_at(twin_home, "hi there", timing__scale=0.0, service__mode="off")
    rig.store.save_chat("default", 42, mode="auto")
    async with Running(rig) as run:
        await run.push(incoming("hello?", message_id=1), incoming("anyone?", chat_id=7, message_id=2))
        await run.advance(10)
    statuses = {t.chat_id: t.status for t in rig.store.turns("default")}
    assert statuses == {42: "answered", 7: "skipped"}


async def test_reconnects_with_growing_backoff_and_catches_up(twin_home):
    rig = rig_at(twin_home, "first", "second", timing__scale=0.0)
    async with Running(rig) as run:
        await run.push(incoming("before the drop", message_id=1))
        await run.advance(5)
        slept_before = len(rig.clock.slept)
        rig.telegram.drop(failed_reconnects=2)
        await run.push(incoming("while offline", message_id=3, chat_id=7))  # Telegram keeps it for the catch-up
        await run.advance(30, step=0.5)
        assert rig.telegram.starts == 4  # the first start, two failed reconnects, one that worked
        waits = iter(rig.clock.slept[slept_before:])
        for low, high in ((0.9, 1.1), (1.8, 2.2), (3.6, 4.4)):  # 1 s, 2 s, 4 s, each +-10% jitter, in order
            assert any(low <= s <= high for s in waits), (low, rig.clock.slept[slept_before:])
        assert rig.daemon.connected.is_set()
        rig.telegram.drop()  # a second drop starts again from the shortest delay (reset on success)
        await run.advance(3, step=0.5)
        assert rig.telegram.starts == 5
    statuses = {t.incoming_text: t.status for t in rig.store.turns("default")}
    assert statuses == {"before the drop": "answered", "while offline": "answered"}


async def test_a_send_that_loses_the_connection_is_retried_with_the_same_random_id(twin_home):
    from twin.errors import Disconnected

    rig = rig_at(twin_home, "hello back", timing__scale=0.0, timing__tick_s=2.0)
    rig.telegram.send_errors.append(Disconnected("connection reset"))
    async with Running(rig) as run:
        await run.push(incoming("hello", message_id=1))
        await run.advance(5)
        (turn,) = rig.store.turns("default")
        assert turn.status == "sending" and "connection lost" in turn.reason
        await run.advance(30)
    (sent,) = rig.telegram.sent
    assert sent.random_id == turn.random_id and rig.store.turn(turn.id).status == "answered"


async def test_a_forgotten_session_is_caught_up_by_the_safety_net(twin_home):
    rig = rig_at(twin_home, "still here", telegram__catch_up_s=30.0)
    rig.telegram.clock = rig.clock
    async with Running(rig) as run:
        assert rig.telegram.catch_ups == 1  # asked once right after connecting
        rig.telegram.forgotten = True  # the server restarted: nothing is pushed any more
        await run.advance(5)
        await run.push(incoming("are you there?", message_id=7))
        await run.advance(20)  # 25 s since the last catch-up: nothing yet
        assert rig.store.turns("default") == [] and rig.telegram.catch_ups == 1
        await run.advance(6)  # 31 s: the safety net asks, the message comes
        assert rig.telegram.catch_ups == 2
        assert rig.daemon.snapshot()["last_catch_up"] == (T0 + timedelta(seconds=30)).isoformat()
        (turn,) = rig.store.turns("default")
        await run.advance(120)
        assert [s.text for s in rig.telegram.sent] == ["still here"]


async def test_a_reply_cut_off_by_a_lost_connection_goes_out_at_the_reconnect(twin_home):
    from twin.errors import Disconnected

    rig = rig_at(twin_home, "here", telegram__catch_up_s=0.0)
    rig.telegram.send_errors.append(Disconnected("gone"))
    async with Running(rig) as run:
        await run.push(incoming("hello?", message_id=3))
        for _ in range(30):  # notice, reading, typing, then the send meets the dropped connection
            await run.advance(1)
            (turn,) = rig.store.turns("default")
            if turn.reason.startswith("connection lost"):
                break
        assert turn.status == "sending" and turn.reason.startswith("connection lost while sending")
        waiting_until = turn.due_at
        rig.telegram.drop()  # the daemon sees the connection go and comes back after a short backoff
        await run.advance(5)
        assert [s.text for s in rig.telegram.sent] == ["here"]
        assert rig.store.turn(turn.id).sent_at < waiting_until  # not left waiting out the retry delay
