"""Telethon -> Incoming with real TL objects, built into events the way Telethon builds them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from telethon import TelegramClient, events, utils
from telethon.sessions import StringSession
from telethon.tl import types

from twin.session.base import Dialog
from twin.session.convert import (
    event_to_incoming,
    media_of,
    owner_reaction,
    sent_message_id,
    to_dialog,
    to_history,
    to_incoming,
)
from twin.types import HistoryMessage, Media

SELF = 1000
T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
OWNER = types.User(id=SELF, is_self=True, access_hash=1, first_name="Owner", username="owner")
ALICE = types.User(id=42, access_hash=7, first_name="Alice", last_name="Smith", username="alice", contact=True)
BOT = types.User(id=43, access_hash=8, first_name="Helper", username="helper_bot", bot=True)
GROUP = types.Chat(id=77, title="Friends", photo=types.ChatPhotoEmpty(), participants_count=3, date=T0, version=1)
SUPERGROUP = types.Channel(id=555, title="Club", photo=types.ChatPhotoEmpty(), date=T0, megagroup=True, access_hash=5)
CHANNEL = types.Channel(id=556, title="News", photo=types.ChatPhotoEmpty(), date=T0, broadcast=True, access_hash=6)


@pytest.fixture
def client() -> TelegramClient:
    c = TelegramClient(StringSession(), 1, "0" * 32)
    c._mb_entity_cache.set_self_user(SELF, False, 1)  # what get_me() caches after login
    return c


def build(client: TelegramClient, message: types.Message, *entities: object) -> events.NewMessage.Event:
    """An event exactly as Telethon's update loop makes it: build, attach entities, set the client."""
    channel = isinstance(message.peer_id, types.PeerChannel)
    update = (types.UpdateNewChannelMessage if channel else types.UpdateNewMessage)(message=message, pts=1, pts_count=1)
    event = events.NewMessage.build(update, self_id=SELF)
    assert event is not None
    event._entities = {utils.get_peer_id(e): e for e in entities}
    event._set_client(client)
    return event


def voice_document(size: int = 12_345, duration: int = 3) -> types.MessageMediaDocument:
    doc = types.Document(id=1, access_hash=2, file_reference=b"", date=T0, mime_type="audio/ogg", size=size, dc_id=2,
                         attributes=[types.DocumentAttributeAudio(duration=duration, voice=True, waveform=b"\x01")])
    return types.MessageMediaDocument(document=doc, voice=True)


async def test_private_text(client: TelegramClient) -> None:
    msg = types.Message(id=10, peer_id=types.PeerUser(42), date=T0, message="hi there")
    got = await event_to_incoming(build(client, msg, ALICE), SELF)

    assert (got.chat_id, got.message_id, got.sender_id, got.text) == (42, 10, 42, "hi there")
    assert got.date == T0 and got.date.tzinfo is not None and got.date.utcoffset() == timedelta(0)
    assert (got.kind, got.chat_kind, got.chat_title) == ("text", "private", "Alice Smith")
    assert (got.sender_name, got.sender_username) == ("Alice Smith", "alice")
    assert got.sender_is_contact and not got.sender_is_bot and not got.sender_is_self and not got.outgoing
    assert got.reply_to is None and got.media is None and not got.mentioned


async def test_date_in_another_zone_becomes_utc(client: TelegramClient) -> None:
    local = T0.astimezone(timezone(timedelta(hours=3)))
    msg = types.Message(id=10, peer_id=types.PeerUser(42), date=local, message="hi")
    got = await event_to_incoming(build(client, msg, ALICE), SELF)
    assert got.date == T0 and got.date.tzinfo == UTC


async def test_group_message_mentioning_the_owner_as_a_reply(client: TelegramClient) -> None:
    msg = types.Message(id=11, peer_id=types.PeerChat(77), from_id=types.PeerUser(42), date=T0, message="@owner ?",
                        mentioned=True, reply_to=types.MessageReplyHeader(reply_to_msg_id=9))
    got = await event_to_incoming(build(client, msg, ALICE, GROUP), SELF)

    assert (got.chat_id, got.sender_id, got.chat_kind, got.chat_title) == (-77, 42, "group", "Friends")
    assert got.mentioned and got.reply_to == 9 and got.sender_name == "Alice Smith"


async def test_supergroup_is_a_group_and_forum_topic_is_not_a_reply(client: TelegramClient) -> None:
    header = types.MessageReplyHeader(reply_to_msg_id=3, forum_topic=True)  # just "in topic 3"
    msg = types.Message(id=12, peer_id=types.PeerChannel(555), from_id=types.PeerUser(42), date=T0, message="x",
                        reply_to=header)
    got = await event_to_incoming(build(client, msg, ALICE, SUPERGROUP), SELF)

    assert got.chat_id == -1000000000555 and got.chat_kind == "group" and got.chat_title == "Club"
    assert got.reply_to is None


async def test_channel_post(client: TelegramClient) -> None:
    msg = types.Message(id=13, peer_id=types.PeerChannel(556), date=T0, message="news", post=True)
    got = await event_to_incoming(build(client, msg, CHANNEL), SELF)

    assert got.chat_kind == "channel" and got.chat_id == -1000000000556
    assert got.sender_id == got.chat_id and got.sender_name == "News" and not got.sender_is_bot


async def test_bot(client: TelegramClient) -> None:
    msg = types.Message(id=14, peer_id=types.PeerUser(43), date=T0, message="/start")
    got = await event_to_incoming(build(client, msg, BOT), SELF)
    assert got.sender_is_bot and got.chat_kind == "private" and got.sender_username == "helper_bot"


async def test_owner_writing_from_another_device(client: TelegramClient) -> None:
    msg = types.Message(id=15, peer_id=types.PeerUser(42), from_id=types.PeerUser(SELF), date=T0, message="I'm here",
                        out=True)
    got = await event_to_incoming(build(client, msg, ALICE, OWNER), SELF)

    assert got.outgoing and got.sender_is_self and got.sender_id == SELF
    assert got.chat_id == 42 and got.chat_title == "Alice Smith" and got.sender_name == "Owner"


async def test_saved_messages_are_from_self(client: TelegramClient) -> None:
    msg = types.Message(id=16, peer_id=types.PeerUser(SELF), date=T0, message="note to self")
    got = await event_to_incoming(build(client, msg, OWNER), SELF)
    assert got.outgoing and got.sender_is_self  # Telethon marks messages to oneself outgoing


async def test_unknown_sender_still_converts_offline(client: TelegramClient) -> None:
    msg = types.Message(id=17, peer_id=types.PeerUser(99), date=T0, message="who am I")
    got = await event_to_incoming(build(client, msg), SELF)  # no entities, no network
    assert (got.sender_id, got.text, got.sender_name, got.chat_kind) == (99, "who am I", "", "private")


def test_service_messages_are_kind_service() -> None:
    join = types.MessageService(id=18, peer_id=types.PeerUser(42), date=T0, action=types.MessageActionContactSignUp())
    # Telethon's NewMessage skips these; the adapter reads them from raw updates instead.
    assert events.NewMessage.build(types.UpdateNewMessage(join, 1, 1), self_id=SELF) is None

    got = to_incoming(join, self_id=SELF, sender=ALICE)
    assert (got.kind, got.text, got.chat_kind, got.sender_id, got.media) == ("service", "", "private", 42, None)

    pinned = types.MessageService(id=19, peer_id=types.PeerChat(77), from_id=types.PeerUser(42), date=T0,
                                  action=types.MessageActionPinMessage())
    got = to_incoming(pinned, self_id=SELF, sender=ALICE, chat=GROUP)
    assert (got.kind, got.chat_kind, got.chat_id) == ("service", "group", -77)


async def test_telegram_service_account_is_just_a_sender(client: TelegramClient) -> None:
    telegram = types.User(id=777000, access_hash=3, first_name="Telegram", verified=True, support=True)
    msg = types.Message(id=20, peer_id=types.PeerUser(777000), date=T0, message="Login code: 12345")
    got = await event_to_incoming(build(client, msg, telegram), SELF)
    assert got.sender_id == 777000 and got.chat_id == 777000 and got.kind == "text" and not got.sender_is_bot


async def test_voice_note(client: TelegramClient) -> None:
    msg = types.Message(id=21, peer_id=types.PeerUser(42), date=T0, message="", media=voice_document())
    event = build(client, msg, ALICE)
    assert event.message.voice is not None  # Telethon agrees it is a voice note

    got = await event_to_incoming(event, SELF)
    assert got.kind == "voice" and got.text == ""
    assert got.media == Media(kind="voice", mime="audio/ogg", size=12_345, duration_s=3.0, label="voice message 0:03")


def _doc(mime: str, *attributes: object, **flags: bool) -> types.MessageMediaDocument:
    doc = types.Document(id=1, access_hash=2, file_reference=b"", date=T0, mime_type=mime, size=100, dc_id=2,
                         attributes=list(attributes))
    return types.MessageMediaDocument(document=doc, **flags)


@pytest.mark.parametrize(("media", "kind"), [
    (None, "text"),
    (types.MessageMediaWebPage(webpage=types.WebPageEmpty(id=1)), "text"),
    (types.MessageMediaPhoto(photo=types.Photo(id=1, access_hash=2, file_reference=b"", date=T0, dc_id=2, sizes=[
        types.PhotoSize(type="m", w=320, h=240, size=2000), types.PhotoSizeProgressive("y", 1280, 960, [10, 9000])])),
     "photo"),
    (_doc("audio/mpeg", types.DocumentAttributeAudio(duration=200, title="Song")), "audio"),
    (_doc("video/mp4", types.DocumentAttributeVideo(duration=5.5, w=240, h=240, round_message=True)), "video_note"),
    (_doc("video/mp4", types.DocumentAttributeVideo(duration=9, w=640, h=480)), "video"),
    (_doc("image/webp", types.DocumentAttributeSticker(alt=":)", stickerset=types.InputStickerSetEmpty()),
          types.DocumentAttributeImageSize(w=512, h=512)), "sticker"),
    (_doc("application/pdf", types.DocumentAttributeFilename(file_name="a.pdf")), "document"),
    (types.MessageMediaDocument(document=None), "other"),
    (types.MessageMediaGeo(geo=types.GeoPointEmpty()), "location"),
    (types.MessageMediaUnsupported(), "other"),
])
def test_kinds(media: object, kind: str) -> None:
    got_kind, got_media = media_of(media)
    assert got_kind == kind
    if kind == "photo":
        assert got_media == Media("photo", "image/jpeg", 9000, label="photo")
    if kind == "video_note":
        assert got_media == Media("video_note", "video/mp4", 100, 5.5, "round video 0:06")


def test_reply_to_another_chat_is_not_a_reply_here() -> None:
    header = types.MessageReplyHeader(reply_to_msg_id=5, reply_to_peer_id=types.PeerChannel(556))
    msg = types.Message(id=22, peer_id=types.PeerUser(42), date=T0, message="see this", reply_to=header)
    assert to_incoming(msg, self_id=SELF, sender=ALICE).reply_to is None
    same_chat = types.MessageReplyHeader(reply_to_msg_id=5, reply_to_peer_id=types.PeerUser(42))
    msg = types.Message(id=23, peer_id=types.PeerUser(42), date=T0, message="re", reply_to=same_chat)
    assert to_incoming(msg, self_id=SELF, sender=ALICE).reply_to == 5


def test_history_keeps_text_and_direction() -> None:
    mine = types.Message(id=30, peer_id=types.PeerUser(42), date=T0, message="hello", out=True)
    theirs = types.Message(id=31, peer_id=types.PeerUser(42), date=T0, message="hey")
    voice = types.Message(id=32, peer_id=types.PeerUser(42), date=T0, message="", media=voice_document())
    service = types.MessageService(id=33, peer_id=types.PeerUser(42), date=T0, action=types.MessageActionHistoryClear())

    assert to_history(mine, SELF) == HistoryMessage(30, T0, True, "hello", SELF)
    assert to_history(theirs, SELF) == HistoryMessage(31, T0, False, "hey", 42)
    heard = to_history(voice, SELF)
    assert heard == HistoryMessage(32, T0, False, "[voice message 0:03]", 42, "voice", "[voice message 0:03]")
    assert heard.words == ""  # nothing the sender wrote
    assert to_history(service, SELF) is None


def test_history_shows_media_as_a_line_and_keeps_the_caption_apart() -> None:
    photo = types.Photo(id=1, access_hash=2, file_reference=b"", date=T0, dc_id=2,
                        sizes=[types.PhotoSize(type="m", w=320, h=240, size=2000)])
    captioned = types.Message(id=40, peer_id=types.PeerUser(42), date=T0, message="my new bike", out=True,
                              media=types.MessageMediaPhoto(photo=photo))
    sticker_doc = types.Document(id=5, access_hash=6, file_reference=b"", date=T0, mime_type="image/webp", size=10,
                                 dc_id=2, attributes=[types.DocumentAttributeSticker(
                                     alt="😂", stickerset=types.InputStickerSetID(id=9, access_hash=1))])
    sticker = types.Message(id=41, peer_id=types.PeerUser(42), date=T0, message="",
                            media=types.MessageMediaDocument(document=sticker_doc))

    got = to_history(captioned, SELF)
    assert got is not None and got.kind == "photo" and got.text == "[photo]\nmy new bike"
    assert got.media == "[photo]" and got.words == "my new bike"
    got = to_history(sticker, SELF)
    assert got is not None and (got.kind, got.text, got.words) == ("sticker", "[sticker 😂]", "")


def test_history_carries_the_owners_own_reaction() -> None:
    def reacted(*counts: types.ReactionCount, min_: bool | None = None) -> types.Message:
        return types.Message(id=50, peer_id=types.PeerUser(42), date=T0, message="see you at 8",
                             reactions=types.MessageReactions(results=list(counts), min=min_))

    heart = types.ReactionCount(reaction=types.ReactionEmoji(emoticon="❤"), count=1, chosen_order=0)
    theirs = types.ReactionCount(reaction=types.ReactionEmoji(emoticon="🔥"), count=1)  # not chosen by the owner
    custom = types.ReactionCount(reaction=types.ReactionCustomEmoji(document_id=7), count=1, chosen_order=1)

    assert to_history(reacted(theirs, heart), SELF).reaction == "❤"
    assert to_history(reacted(theirs), SELF).reaction == ""
    assert to_history(reacted(custom), SELF).reaction == "custom"
    assert to_history(reacted(custom, heart), SELF).reaction == "❤"  # the first the owner chose
    assert owner_reaction(None) == ""
    plain = types.Message(id=51, peer_id=types.PeerUser(42), date=T0, message="hi")
    assert to_history(plain, SELF).reaction == ""


def test_dialogs() -> None:
    now = T0
    def tl_dialog(peer: object, mute_until: datetime | None = None, folder_id: int | None = None) -> types.Dialog:
        return types.Dialog(peer=peer, top_message=1, read_inbox_max_id=0, read_outbox_max_id=0, unread_count=0,
                            unread_mentions_count=0, unread_reactions_count=0, unread_poll_votes_count=0,
                            notify_settings=types.PeerNotifySettings(mute_until=mute_until), folder_id=folder_id)

    forever = datetime(2038, 1, 19, 3, 14, 7, tzinfo=UTC)
    assert to_dialog(ALICE, tl_dialog(types.PeerUser(42)), now) == Dialog(42, "Alice Smith", "private",
                                                                           username="alice")
    assert to_dialog(BOT, tl_dialog(types.PeerUser(43), forever), now).muted
    assert to_dialog(BOT, tl_dialog(types.PeerUser(43), forever), now).is_bot
    assert not to_dialog(ALICE, tl_dialog(types.PeerUser(42), now - timedelta(minutes=1)), now).muted
    archived = to_dialog(CHANNEL, tl_dialog(types.PeerChannel(556), folder_id=1), now)
    assert archived.archived and archived.kind == "channel" and archived.chat_id == -1000000000556
    assert to_dialog(SUPERGROUP, tl_dialog(types.PeerChannel(555)), now).kind == "group"
    assert to_dialog(GROUP, tl_dialog(types.PeerChat(77)), now) == Dialog(-77, "Friends", "group")


def test_sent_message_id_from_each_reply_shape() -> None:
    assert sent_message_id(types.UpdateShortSentMessage(id=501, pts=1, pts_count=1, date=T0, out=True), 9) == 501
    new = types.Message(id=502, peer_id=types.PeerUser(42), date=T0, message="x", out=True)
    updates = types.Updates(updates=[types.UpdateMessageID(id=502, random_id=9), types.UpdateNewMessage(new, 2, 1)],
                            users=[], chats=[], date=T0, seq=0)
    assert sent_message_id(updates, 9) == 502
    only_new = types.Updates(updates=[types.UpdateNewMessage(new, 2, 1)], users=[], chats=[], date=T0, seq=0)
    assert sent_message_id(only_new, 9) == 502
    assert sent_message_id(types.UpdatesTooLong(), 9) == 0
