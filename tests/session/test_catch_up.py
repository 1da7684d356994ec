"""Catch-up through Telethon's real update loop: getDifference answers with messages the session missed.

The client is never connected: its MTProto sender is a fake that says "just connected", so
TelegramClient.connect() runs its real start-up (update state, GetState, the update loop). A
difference with a real types.Message then goes through Telethon's MessageBox and dispatch to the
adapter's handlers, as after a reconnect to a server that forgot the session.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from telethon.crypto import AuthKey
from telethon.sessions import StringSession
from telethon.tl import functions, types

from tests.session.test_telethon import ALICE, OWNER, T0, FakeSender
from twin.session.reconnect import CatchingUpClient
from twin.session.telethon import TelethonTelegram


class LiveSender(FakeSender):
    """Says it has just connected: connect() goes on to load the update state and start the update loop."""

    def __init__(self) -> None:
        super().__init__()
        self.auth_key = AuthKey(b"\x01" * 256)
        self.on(functions.InvokeWithLayerRequest, types.Config)  # the answer is not read; any value will do
        self.on(functions.updates.GetStateRequest, types.updates.State(pts=10, qts=0, date=T0, seq=1,
                                                                       unread_count=0))

    async def connect(self, connection: Any) -> bool:
        return True

    def _transport_connected(self) -> bool:
        return True


class Server:
    """Answers getDifference with the messages the session missed since the pts it asks from."""

    def __init__(self, sender: LiveSender) -> None:
        self.missed: list[types.Message] = []
        sender.on(functions.updates.GetDifferenceRequest, self.difference)

    def difference(self, request: Any) -> Any:
        if not self.missed:
            return types.updates.DifferenceEmpty(date=T0, seq=1)
        found, self.missed = self.missed, []
        state = types.updates.State(pts=request.pts + len(found), qts=0, date=T0 + timedelta(minutes=1), seq=2,
                                    unread_count=len(found))
        return types.updates.Difference(new_messages=found, new_encrypted_messages=[], other_updates=[],
                                        chats=[], users=[ALICE, OWNER], state=state)


def message(message_id: int, text: str, *, out: bool = False) -> types.Message:
    return types.Message(id=message_id, peer_id=types.PeerUser(42), date=T0, message=text, out=out,
                         from_id=types.PeerUser(OWNER.id) if out else None)


async def connected(sender: LiveSender) -> tuple[TelethonTelegram, CatchingUpClient, Any]:
    client = CatchingUpClient(StringSession(), 1, "0" * 32, flood_sleep_threshold=0, catch_up=True,
                              sequential_updates=True)
    reconnected = client._sender._auto_reconnect_callback  # what the real MTProtoSender calls after a reconnect
    client._sender = sender
    client.session.auth_key = sender.auth_key
    tg = TelethonTelegram(client, account="me")
    await tg.start()
    return tg, client, reconnected


async def settle() -> None:
    for _ in range(200):
        await asyncio.sleep(0)


async def test_catch_up_delivers_what_the_difference_holds() -> None:
    sender = LiveSender()
    server = Server(sender)
    tg, client, _ = await connected(sender)
    stream = tg.incoming()
    await settle()
    asked = len(sender.sent(functions.updates.GetDifferenceRequest))
    assert asked >= 1  # catch_up=True: Telethon asks once by itself on start

    server.missed = [message(11, "are you there?"), message(12, "all good, you?", out=True)]
    await settle()
    assert len(sender.sent(functions.updates.GetDifferenceRequest)) == asked  # nothing asks by itself ...
    await tg.catch_up()  # ... until the twin does
    first = await asyncio.wait_for(anext(stream), 5)
    second = await asyncio.wait_for(anext(stream), 5)
    assert (first.message_id, first.text, first.outgoing, first.sender_name) == (11, "are you there?", False, "Alice")
    # The twin's own message in a catch-up is an ordinary outgoing message: only the ledger knows it.
    assert (second.message_id, second.outgoing, second.sender_is_self) == (12, True, True)
    assert sender.sent(functions.updates.GetDifferenceRequest)[asked].pts == 10  # from the state Telethon kept
    assert tg.last_catch_up is not None
    await tg.stop()


async def test_a_reconnect_telethon_makes_by_itself_asks_for_the_difference() -> None:
    sender = LiveSender()
    server = Server(sender)
    tg, client, reconnected = await connected(sender)
    stream = tg.incoming()
    await settle()
    asked = len(sender.sent(functions.updates.GetDifferenceRequest))
    assert tg.last_catch_up is None

    server.missed = [message(13, "back online?")]  # sent while the server had forgotten the session
    await reconnected()  # the sender reconnected on its own (server restart): Telethon's callback runs
    got = await asyncio.wait_for(anext(stream), 5)
    assert (got.message_id, got.text) == (13, "back online?")
    assert len(sender.sent(functions.updates.GetDifferenceRequest)) == asked + 1
    assert len(sender.sent(functions.users.GetUsersRequest)) >= 2  # Telethon's own get_me() still ran first
    assert tg.last_catch_up is not None
    await tg.stop()


async def test_without_the_hook_a_reconnect_asks_nothing() -> None:
    """The control: Telethon's own reconnect handling does not fetch the difference (its "TODO Catch-up")."""
    from telethon import TelegramClient

    sender = LiveSender()
    server = Server(sender)
    client = TelegramClient(StringSession(), 1, "0" * 32, flood_sleep_threshold=0, catch_up=True)
    reconnected = client._sender._auto_reconnect_callback
    client._sender = sender
    client.session.auth_key = sender.auth_key
    tg = TelethonTelegram(client, account="me")
    await tg.start()
    await settle()
    asked = len(sender.sent(functions.updates.GetDifferenceRequest))
    server.missed = [message(14, "lost until the next gap")]
    await reconnected()
    await settle()
    assert len(sender.sent(functions.updates.GetDifferenceRequest)) == asked
    await tg.stop()
