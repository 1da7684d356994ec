"""A resend answered RANDOM_ID_DUPLICATE, through the real Telethon adapter: the part's real id is
found in the chat's history, so the twin knows its message when a catch-up replays it."""

from __future__ import annotations

import random
from datetime import timedelta

from telethon.tl import functions, types

from tests.fakes import FakeClock, incoming
from tests.session.test_telethon import ALICE, T0, RpcFailure, Wired, wired  # noqa: F401  (the fixture)
from twin.db.sent import SentParts
from twin.engine.delivery import Delivery
from twin.engine.queue import ReplyQueue
from twin.engine.sender import SendGate

TEXT = "all good, you?"


def out(message_id: int, text: str, seconds: float) -> types.Message:
    return types.Message(id=message_id, peer_id=types.PeerUser(42), date=T0 + timedelta(seconds=seconds),
                         message=text, out=True)


async def test_random_id_duplicate_finds_the_parts_real_id(wired: Wired, store) -> None:  # noqa: F811
    tg, sender = wired
    ledger = SentParts(store, "default")
    turn_id = store.add_turn("default", [incoming("how are you?", chat_id=42, message_id=30)], status="sending",
                             now=T0)
    (part,) = ledger.plan(turn_id, 42, [("text", TEXT)], 555, T0)
    ledger.attempt(part, T0)  # the first attempt went out; the process died before Telegram's answer came
    sender.on(functions.messages.SendMessageRequest, RpcFailure(500, "RANDOM_ID_DUPLICATE"))
    sender.on(functions.messages.GetHistoryRequest, types.messages.Messages(messages=[
        out(45, TEXT, 90),  # the owner typed the same words later: not the twin's
        types.Message(id=44, peer_id=types.PeerUser(42), date=T0 + timedelta(seconds=20), message="great"),
        out(41, TEXT, 2),  # the twin's part, delivered by the first attempt
        out(12, TEXT, -3600),  # the same words an hour before the reply was even tried
    ], topics=[], chats=[], users=[ALICE]))
    clock = FakeClock(T0 + timedelta(minutes=3))
    delivery = Delivery(ledger=ledger, queue=ReplyQueue(store, "default"), telegram=tg, gate=SendGate(),
                        clock=clock, rng=random.Random(1), notices=[])

    done = await delivery.deliver(store.turn(turn_id), ledger.parts(turn_id), None)

    assert done is not None and [(p.message_id, p.source) for p in done.parts] == [(41, "history")]
    (request,) = sender.sent(functions.messages.SendMessageRequest)
    assert request.random_id == 555  # the same random_id as the first attempt
    assert ledger.owns(42, 41) and not ledger.owns(42, 45)
