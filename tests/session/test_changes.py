"""Edits, deletions, typing and reactions at the Telegram boundary: real TL objects through Telethon's
own event builders and dispatch, and the sandbox's events without a process."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from telethon import events
from telethon.tl import functions, types
from typer.testing import CliRunner

from tests.session.test_telethon import ALICE, T0, Wired, wired  # noqa: F401  (the fixture)
from twin.session.changes import to_change
from twin.session.sandbox import SandboxTelegram, SandboxWorld, contact_id
from twin.types import ContactTyping, Incoming, MessageEdited, MessagesDeleted


def test_edit_deletion_and_typing_from_real_updates() -> None:
    message = types.Message(id=5, peer_id=types.PeerUser(42), date=T0, message="are you free at 6?",
                            edit_date=T0 + timedelta(minutes=1))
    edit = events.MessageEdited.build(types.UpdateEditMessage(message=message, pts=3, pts_count=1), None, 1000)
    assert to_change(edit) == MessageEdited(42, 5, "are you free at 6?", T0 + timedelta(minutes=1), False)

    private = events.MessageDeleted.build(types.UpdateDeleteMessages(messages=[5, 6], pts=4, pts_count=2), None, 1000)
    assert to_change(private) == MessagesDeleted(None, (5, 6))  # private chats: ids only
    channel = events.MessageDeleted.build(
        types.UpdateDeleteChannelMessages(channel_id=77, messages=[3], pts=5, pts_count=1), None, 1000)
    assert to_change(channel) == MessagesDeleted(-1000000000077, (3,))

    typing = events.UserUpdate.build(types.UpdateUserTyping(user_id=42, action=types.SendMessageTypingAction()),
                                     None, 1000)
    assert to_change(typing) == ContactTyping(42, 42, True)
    recording = events.UserUpdate.build(
        types.UpdateUserTyping(user_id=42, action=types.SendMessageRecordAudioAction()), None, 1000)
    assert to_change(recording) == ContactTyping(42, 42, True)
    stopped = events.UserUpdate.build(types.UpdateUserTyping(user_id=42, action=types.SendMessageCancelAction()),
                                      None, 1000)
    assert to_change(stopped) == ContactTyping(42, 42, False)
    online = events.UserUpdate.build(types.UpdateUserStatus(user_id=42, status=types.UserStatusOnline(expires=0)),
                                     None, 1000)
    assert to_change(online) is None


async def test_changes_come_through_the_adapters_stream_in_order(wired: Wired) -> None:  # noqa: F811
    tg, _ = wired
    await tg.start()
    stream = tg.incoming()
    new = types.UpdateNewMessage(message=types.Message(id=10, peer_id=types.PeerUser(42), date=T0, message="hi"),
                                 pts=2, pts_count=1)
    new._entities = {42: ALICE}
    edited = types.UpdateEditMessage(
        message=types.Message(id=10, peer_id=types.PeerUser(42), date=T0, message="hi there", edit_date=T0),
        pts=3, pts_count=1)
    for update in (new, edited, types.UpdateUserTyping(user_id=42, action=types.SendMessageTypingAction()),
                   types.UpdateDeleteMessages(messages=[10], pts=4, pts_count=1)):
        update._entities = {42: ALICE}  # what Telethon's update loop attaches
        await tg.client._dispatch_update(update)
        await asyncio.sleep(0)
    got = [await asyncio.wait_for(anext(stream), 5) for _ in range(4)]
    assert isinstance(got[0], Incoming) and got[0].text == "hi"
    assert set(map(type, got[1:])) == {MessageEdited, ContactTyping, MessagesDeleted}
    assert MessageEdited(42, 10, "hi there", T0, False) in got
    await tg.stop()


async def test_react_sends_a_send_reaction_request(wired: Wired) -> None:  # noqa: F811
    tg, sender = wired
    sender.on(functions.messages.SendReactionRequest,
              types.Updates(updates=[], users=[], chats=[], date=T0, seq=0))
    await tg.react(42, 12, "👍")
    await tg.react(42, 12, "")
    first, second = sender.sent(functions.messages.SendReactionRequest)
    assert first.peer == types.InputPeerUser(42, 7) and first.msg_id == 12
    assert first.reaction == [types.ReactionEmoji(emoticon="👍")]
    assert second.reaction == []  # removes the reaction


# --- the sandbox -----------------------------------------------------------------------------------
async def test_sandbox_edit_delete_typing_and_react_events(tmp_path) -> None:
    world = SandboxWorld(tmp_path / "sandbox")
    said = world.say("Alice", "are you free at 5?")
    world.edit(said["id"], "are you free at 6?")
    world.typing("Alice")
    world.delete(said["id"])
    tg = SandboxTelegram(world, tmp_path / "session.json", poll_s=0.01)
    stream = tg.incoming()
    got = [await asyncio.wait_for(anext(stream), 5) for _ in range(4)]
    alice = contact_id("Alice")
    assert isinstance(got[0], Incoming) and got[0].message_id == said["id"]
    assert got[1] == MessageEdited(alice, said["id"], "are you free at 6?", got[1].date)
    assert got[2] == ContactTyping(alice, alice)
    assert got[3] == MessagesDeleted(None, (said["id"],))
    await tg.react(alice, said["id"], "👍")
    assert world.events()[-1] | {"date": ""} == {"dir": "react", "chat": alice, "to": said["id"], "emoji": "👍",
                                                 "date": "", "id": 5}
    assert await tg.history(alice, 10) == []  # the deleted message is gone from the chat
    sent = await tg.send_text(alice, "6 works", random_id=9, reply_to=said["id"])
    assert world.events()[-1]["id"] == sent and world.events()[-1]["reply_to"] == said["id"]
    await tg.stop()


def test_sandbox_cli_say_edit_delete_and_the_log_shows_reactions(twin_home) -> None:
    from twin.cli.base import app

    runner = CliRunner()
    assert runner.invoke(app, ["sandbox", "say", "are you free at 5?"]).exit_code == 0
    edited = runner.invoke(app, ["sandbox", "say", "--edit", "1", "are you free at 6?"])
    assert edited.exit_code == 0 and "edited message 1" in edited.output
    missing = runner.invoke(app, ["sandbox", "say", "--delete", "7"])
    assert missing.exit_code != 0 and "not a contact's message" in missing.output + str(missing.exception)
    assert runner.invoke(app, ["sandbox", "say", "--typing"]).exit_code == 0
    assert runner.invoke(app, ["sandbox", "say", "--delete", "1"]).exit_code == 0
    world = SandboxWorld(twin_home / "data" / "sandbox" / "default")
    world.append({"dir": "react", "chat": contact_id("Alice"), "to": 1, "emoji": "👍", "date": T0.isoformat()})
    world.append({"dir": "out", "chat": contact_id("Alice"), "text": "6 works", "reply_to": 1, "random_id": 3,
                  "date": T0.isoformat()})
    log = runner.invoke(app, ["sandbox", "log"]).output
    assert "Owner reacted 👍 to #1" in log and "edited #1: are you free at 6?" in log and "deleted #1" in log
    assert "(replying to #1) 6 works" in log
