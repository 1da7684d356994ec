"""The twin's own messages are always known as its own, and only the owner's writing is a takeover.

Each test opens one window the issue names: a process that dies after Telegram took a part, a
FloodWait or a dropped connection between parts, a voice note (its echo has no text), a resend
answered RANDOM_ID_DUPLICATE, and the opposite mistake (the owner typing the same short text).
"""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta

import pytest

from tests import voice_samples
from tests.fakes import Crash, FakeTelegram, FakeTTS, incoming
from tests.helpers import Rig, make_rig
from twin.db.sent import SentParts
from twin.errors import Disconnected, FloodWait
from twin.persona.learn import sent_by_twin
from twin.session.base import history_message
from twin.types import Incoming, Media

CHAT = 42


def paused(rig: Rig, chat: int = CHAT) -> bool:
    state = rig.store.chat("default", chat)
    return state is not None and state.paused_until is not None


def owner_types(text: str, message_id: int, rig: Rig) -> Incoming:
    """The owner writing in the chat from the phone."""
    return incoming(text, message_id=message_id, outgoing=True, sender_id=rig.telegram.me.id,
                    sender_is_self=True, date=rig.clock.now())


def queued(tg: FakeTelegram) -> list[Incoming]:
    """What the server would deliver next (the echoes of the twin's sends, in order)."""
    items = []
    while not tg._queue.empty():
        item = tg._queue.get_nowait()
        assert isinstance(item, Incoming)
        items.append(item)
    return items


async def died_after_send(home, reply: str = "all good, you?", **settings) -> tuple[Rig, int]:
    """Process 1: a message comes, the reply goes out, and the process dies before Telegram's answer is stored."""
    tg = FakeTelegram(echo=True, lost_answers=[Crash()])
    rig = make_rig(home, reply, telegram=tg, **settings)
    tg.clock = rig.clock
    turn_id = await rig.daemon.handle(incoming("how are you?", message_id=5))
    with pytest.raises(Crash):
        await rig.pipeline.process(turn_id)
    assert rig.store.turn(turn_id).status == "sending" and len(tg.sent) == 1
    return rig, turn_id


def next_process(rig: Rig, *replies: str, **kw: object) -> Rig:
    """Process 2 on the same database and the same Telegram server; time goes on."""
    rig = make_rig(rig.settings.home, *replies, telegram=rig.telegram, clock=rig.clock, **kw)
    rig.pipeline.rng = random.Random(8)  # its own random_ids (a fixed seed would repeat process 1's)
    return rig


async def test_echo_in_the_next_process_catch_up_before_the_resend(twin_home):
    first, turn_id = await died_after_send(twin_home)
    rig = next_process(first)
    (echo,) = queued(rig.telegram)
    await rig.daemon.handle(echo)  # the catch-up of process 2 brings the echo first
    await rig.pipeline.process(turn_id)  # then the resend: RANDOM_ID_DUPLICATE

    turn = rig.store.turn(turn_id)
    assert turn.status == "answered" and turn.reply_ids == (echo.message_id,)
    assert not paused(rig) and len(rig.telegram.sent) == 1


async def test_resend_first_finds_the_real_id_then_the_echo_is_known(twin_home):
    first, turn_id = await died_after_send(twin_home)
    rig = next_process(first)
    await rig.pipeline.process(turn_id)  # RANDOM_ID_DUPLICATE: the id is looked up in the chat
    (echo,) = queued(rig.telegram)
    turn = rig.store.turn(turn_id)
    assert turn.status == "answered" and turn.reply_ids == (echo.message_id,)  # not 0
    assert [p.source for p in SentParts(rig.store, "default").parts(turn_id)] == ["history"]

    await rig.daemon.handle(echo)
    assert not paused(rig)
    assert echo.message_id in sent_by_twin(rig.store, "default", CHAT)  # persona learn skips it


async def test_echo_after_the_turn_finished_without_its_id(twin_home):
    first, turn_id = await died_after_send(twin_home)
    rig = next_process(first)
    rig.telegram.histories.clear()  # the lookup cannot find it (history unreadable or too far back)
    await rig.pipeline.process(turn_id)
    assert rig.store.turn(turn_id).reply_ids == (0,)

    (echo,) = queued(rig.telegram)
    await rig.daemon.handle(echo)  # matched to the part still waiting for its id
    assert not paused(rig)
    assert rig.store.turn(turn_id).reply_ids == (echo.message_id,)
    assert echo.message_id in sent_by_twin(rig.store, "default", CHAT)


async def test_the_next_process_answers_everything_and_pauses_nothing(twin_home):
    first, turn_id = await died_after_send(twin_home)
    rig = next_process(first, "great")
    stop = asyncio.Event()
    task = asyncio.create_task(rig.daemon.run(stop))
    await rig.daemon.connected.wait()
    await rig.daemon.idle()
    rig.telegram.push(incoming("nice to hear", message_id=50, date=rig.clock.now()))
    for _ in range(50):
        await asyncio.sleep(0)
    await rig.daemon.idle()
    stop.set()
    await task

    assert [t.status for t in rig.store.turns("default", newest_first=False)] == ["answered", "answered"]
    assert [s.text for s in rig.telegram.sent] == ["all good, you?", "great"]
    assert not paused(rig)


async def test_flood_wait_between_parts_keeps_the_first_parts_id(twin_home):
    tg = FakeTelegram(echo=True, send_errors=[None, FloodWait(30)])
    rig = make_rig(twin_home, "one\n\ntwo", telegram=tg, timing__split_long=True)
    tg.clock = rig.clock
    turn_id = await rig.daemon.handle(incoming("hi", message_id=5))
    await rig.pipeline.process(turn_id)
    first = tg.sent[0]
    assert rig.store.turn(turn_id).status == "sending"
    assert SentParts(rig.store, "default").parts(turn_id)[0].message_id == first.message_id  # stored at once

    for echo in queued(tg):  # the first part comes back while the second waits out the flood
        await rig.daemon.handle(echo)
    assert not paused(rig)
    rig.clock.set(rig.pipeline.gate.paused_until + timedelta(seconds=1))
    await rig.pipeline.process(turn_id)
    assert [s.text for s in tg.sent] == ["one", "two"]  # the first part was not sent again
    turn = rig.store.turn(turn_id)
    assert turn.status == "answered" and turn.reply_ids == tuple(s.message_id for s in tg.sent)


async def test_connection_lost_after_a_part_went_out(twin_home):
    tg = FakeTelegram(echo=True, lost_answers=[Disconnected("gone")])
    rig = make_rig(twin_home, "one\n\ntwo", telegram=tg, timing__split_long=True)
    tg.clock = rig.clock
    turn_id = await rig.daemon.handle(incoming("hi", message_id=5))
    await rig.pipeline.process(turn_id)  # part 1 delivered, its answer lost: retried later
    assert rig.store.turn(turn_id).status == "sending" and len(tg.sent) == 1
    await rig.pipeline.process(turn_id)
    assert [s.text for s in tg.sent] == ["one", "two"]
    for echo in queued(tg):  # both echoes arrive after the turn is done (a catch-up)
        await rig.daemon.handle(echo)
    assert not paused(rig)
    assert rig.store.turn(turn_id).reply_ids == tuple(s.message_id for s in tg.sent)


async def test_voice_note_echo_has_no_text_and_is_still_the_twins(twin_home):
    tg = FakeTelegram(echo=True, lost_answers=[Crash()])
    rig = make_rig(twin_home, "sure, call me", telegram=tg, tts=FakeTTS(voice_samples.speech_ogg()),
                   tts__when="always", tts__provider="local")
    tg.clock = rig.clock
    turn_id = await rig.daemon.handle(incoming("call?", message_id=5))
    with pytest.raises(Crash):
        await rig.pipeline.process(turn_id)
    assert tg.sent[0].voice is not None
    rig2 = next_process(rig, tts=FakeTTS(voice_samples.speech_ogg()), tts__when="always", tts__provider="local")
    (echo,) = queued(tg)
    assert echo.kind == "voice" and echo.text == ""
    await rig2.daemon.handle(echo)
    assert not paused(rig2)
    await rig2.pipeline.process(turn_id)  # RANDOM_ID_DUPLICATE; the echo gave the id already
    turn = rig2.store.turn(turn_id)
    assert turn.status == "answered" and turn.voice and turn.reply_ids == (echo.message_id,)


async def test_owner_typing_the_same_short_text_is_a_takeover(twin_home):
    tg = FakeTelegram(echo=True)
    rig = make_rig(twin_home, "ok", "fine", telegram=tg)
    tg.clock = rig.clock
    turn_id = await rig.daemon.handle(incoming("shall we?", message_id=5))
    await rig.pipeline.process(turn_id)
    (echo,) = queued(tg)
    await rig.daemon.handle(echo)
    assert not paused(rig)

    await rig.daemon.handle(owner_types("ok", 90, rig))  # the same text, another message: the owner's
    assert paused(rig)


async def test_owner_text_matched_to_a_part_in_flight_turns_out_to_be_the_owners(twin_home):
    class SlowTelegram(FakeTelegram):
        """Telegram's answer to the send comes only after the test says so."""

        answer = asyncio.Event()

        async def send_text(self, chat_id, text, *, random_id, reply_to=None):
            await self.answer.wait()
            return await super().send_text(chat_id, text, random_id=random_id, reply_to=reply_to)

    tg = SlowTelegram(echo=False)
    rig = make_rig(twin_home, "ok", telegram=tg)
    tg.clock = rig.clock
    turn_id = await rig.daemon.handle(incoming("shall we?", message_id=5))
    sending = asyncio.create_task(rig.pipeline.process(turn_id))
    for _ in range(200):
        await asyncio.sleep(0)
    assert rig.store.turn(turn_id).status == "sending"

    await rig.daemon.handle(owner_types("ok", 90, rig))  # looks like the part under way ...
    assert not paused(rig)
    tg.answer.set()
    await sending  # ... until Telegram's answer gives the part another id: 90 was the owner's
    assert paused(rig)
    assert rig.store.turn(turn_id).reply_ids == (tg.sent[0].message_id,)
    assert 90 not in sent_by_twin(rig.store, "default", CHAT)


async def test_owner_text_while_the_part_waits_out_a_flood_is_a_takeover_and_stops_it(twin_home):
    tg = FakeTelegram(echo=True, send_errors=[FloodWait(30)])
    rig = make_rig(twin_home, "ok", telegram=tg)
    tg.clock = rig.clock
    turn_id = await rig.daemon.handle(incoming("shall we?", message_id=5))
    await rig.pipeline.process(turn_id)  # Telegram refused the send (FloodWait): nothing went out
    assert [p.message_id for p in SentParts(rig.store, "default").parts(turn_id)] == [None] and not tg.sent

    await rig.daemon.handle(owner_types("ok", 91, rig))  # no echo can exist yet: this is the owner
    assert paused(rig)
    rig.clock.set(rig.pipeline.gate.paused_until + timedelta(seconds=1))
    await rig.pipeline.process(turn_id)
    assert not tg.sent and rig.store.turn(turn_id).status == "cancelled"


async def test_a_dropped_connection_while_typing_puts_the_turn_back(twin_home):
    class DropWhileTyping(FakeTelegram):
        async def action(self, chat_id, action):
            if not self.actions:
                self.actions.append((chat_id, action))
                raise Disconnected("gone while typing")
            await super().action(chat_id, action)

    tg = DropWhileTyping()
    rig = make_rig(twin_home, "here", "here", telegram=tg)
    stop = asyncio.Event()
    task = asyncio.create_task(rig.daemon.run(stop))
    await rig.daemon.connected.wait()
    tg.push(incoming("hello?", message_id=5))
    for _ in range(50):
        await asyncio.sleep(0)
    await rig.daemon.idle()
    stop.set()
    await task
    (turn,) = rig.store.turns("default")
    assert turn.status == "answered" and [s.text for s in tg.sent] == ["here"]


async def test_voice_note_resent_first_is_found_in_the_chat(twin_home):
    """RANDOM_ID_DUPLICATE for a voice note before its echo came: its id is looked up in the history."""
    tg = FakeTelegram(echo=True, lost_answers=[Crash()])
    rig = make_rig(twin_home, "sure, call me", telegram=tg, tts=FakeTTS(voice_samples.speech_ogg()),
                   tts__when="always", tts__provider="local")
    tg.clock = rig.clock
    owner_note = history_message(3, rig.clock.now() - timedelta(minutes=5), True, "", tg.me.id, "voice",
                                 Media("voice", duration_s=4.0))
    assert owner_note is not None
    tg.histories[CHAT] = [owner_note]  # the owner's own earlier voice note: before the part, never it
    turn_id = await rig.daemon.handle(incoming("call?", message_id=5))
    with pytest.raises(Crash):
        await rig.pipeline.process(turn_id)
    rig2 = next_process(rig, tts=FakeTTS(voice_samples.speech_ogg()), tts__when="always", tts__provider="local")
    await rig2.pipeline.process(turn_id)  # the resend comes before the echo: RANDOM_ID_DUPLICATE
    (echo,) = queued(tg)
    turn = rig2.store.turn(turn_id)
    assert turn.status == "answered" and turn.voice and turn.reply_ids == (echo.message_id,)
    assert [p.source for p in SentParts(rig2.store, "default").parts(turn_id)] == ["history"]
    await rig2.daemon.handle(echo)
    assert not paused(rig2) and len(tg.sent) == 1


async def test_a_text_part_is_found_behind_a_link_preview_and_never_in_a_voice_note(twin_home):
    """The lookup for a text part skips voice notes and finds the text even behind a link preview line."""
    first, turn_id = await died_after_send(twin_home, reply="see https://example.org")
    rig = next_process(first)
    (sent,) = rig.telegram.histories[CHAT]
    voice = history_message(sent.message_id - 1, sent.date, True, "", rig.telegram.me.id, "voice",
                            Media("voice", duration_s=2.0))
    linked = history_message(sent.message_id, sent.date, True, sent.text, sent.sender_id, "link",
                             Media("link", label="link preview: “Example”"))
    assert voice is not None and linked is not None and linked.words == "see https://example.org"
    rig.telegram.histories[CHAT] = [voice, linked]
    await rig.pipeline.process(turn_id)
    assert rig.store.turn(turn_id).reply_ids == (sent.message_id,)
