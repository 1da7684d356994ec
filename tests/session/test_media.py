"""Every kind of incoming media, as real Telethon TL objects built into events, -> Incoming with its description."""

from __future__ import annotations

import pytest
from telethon import TelegramClient
from telethon.sessions import StringSession
from telethon.tl import types

from tests.session.test_convert import ALICE, SELF, T0, build
from twin.media.describe import shown_text
from twin.session.convert import event_to_incoming, to_incoming

BOB = types.User(id=44, access_hash=9, first_name="Bob")
NEWS = types.Channel(id=556, title="News", photo=types.ChatPhotoEmpty(), date=T0, broadcast=True, access_hash=6)
PHOTO = types.Photo(id=1, access_hash=2, file_reference=b"", date=T0, dc_id=2, sizes=[
    types.PhotoSize(type="m", w=320, h=240, size=2000), types.PhotoSizeProgressive("y", 1280, 960, [10, 90_000])])


@pytest.fixture
def client() -> TelegramClient:
    c = TelegramClient(StringSession(), 1, "0" * 32)
    c._mb_entity_cache.set_self_user(SELF, False, 1)
    return c


def doc(mime: str, *attributes: object, size: int = 4321, **flags: bool) -> types.MessageMediaDocument:
    document = types.Document(id=5, access_hash=6, file_reference=b"", date=T0, mime_type=mime, size=size, dc_id=2,
                              attributes=list(attributes))
    return types.MessageMediaDocument(document=document, **flags)


def sticker_attr(alt: str = "😂", stickerset: object = None) -> types.DocumentAttributeSticker:
    default = types.InputStickerSetID(id=9, access_hash=1)
    return types.DocumentAttributeSticker(alt=alt, stickerset=stickerset or default)


POLL = types.MessageMediaPoll(poll=types.Poll(
    id=1, hash=0, question=types.TextWithEntities("Where tonight?", []),
    answers=[types.PollAnswer(types.TextWithEntities("bar", []), b"0"),
             types.PollAnswer(types.TextWithEntities("cinema", []), b"1")]), results=types.PollResults())
GEO = types.GeoPoint(long=37.6173, lat=55.7558, access_hash=0)

# (media, caption, what Telethon's own helper says it is, kind, label)
CASES = [
    (types.MessageMediaPhoto(photo=PHOTO), "look at my new bike", "photo", "photo", "photo"),
    (types.MessageMediaPhoto(photo=PHOTO), "", "photo", "photo", "photo"),
    (doc("image/webp", sticker_attr(), types.DocumentAttributeImageSize(512, 512)), "", "sticker", "sticker",
     "sticker 😂"),
    (doc("image/webp", sticker_attr("🐱", types.InputStickerSetShortName("CatsPack")),
         types.DocumentAttributeImageSize(512, 512)), "", "sticker", "sticker", "sticker 🐱 (set: CatsPack)"),
    (doc("application/x-tgsticker", types.DocumentAttributeImageSize(512, 512), sticker_attr("👍"),
         types.DocumentAttributeFilename("AnimatedSticker.tgs")), "", "sticker", "sticker", "animated sticker 👍"),
    (doc("video/webm", types.DocumentAttributeVideo(duration=2.9, w=512, h=512), sticker_attr("🔥")), "", "sticker",
     "sticker", "video sticker 🔥"),
    (doc("video/mp4", types.DocumentAttributeVideo(duration=3.0, w=320, h=240), types.DocumentAttributeAnimated(),
         types.DocumentAttributeFilename("giphy.mp4")), "", "gif", "animation", "GIF"),
    (doc("video/mp4", types.DocumentAttributeVideo(duration=42.4, w=1280, h=720, supports_streaming=True),
         types.DocumentAttributeFilename("clip.mp4"), video=True), "from the concert", "video", "video", "video 0:42"),
    (doc("video/mp4", types.DocumentAttributeVideo(duration=12.0, w=384, h=384, round_message=True), round=True), "",
     "video_note", "video_note", "round video 0:12"),
    (doc("application/pdf", types.DocumentAttributeFilename("report.pdf"), size=1_234_567), "the numbers",
     "document", "document", "file “report.pdf” (application/pdf, 1.2 MB)"),
    (doc("audio/mpeg", types.DocumentAttributeAudio(duration=200, title="Song", performer="Band")), "", "audio",
     "audio", "audio “Song by Band” 3:20"),
    (types.MessageMediaWebPage(webpage=types.WebPage(
        id=1, url="https://example.org/post", display_url="example.org/post", hash=0, title="A post",
        description="What the post\nsays.", site_name="Example")), "https://example.org/post", "web_preview", "link",
     "link preview: “A post” (Example) — What the post says."),
    (types.MessageMediaGeo(geo=GEO), "", "geo", "location", "location 55.75580, 37.61730"),
    (types.MessageMediaGeoLive(geo=GEO, period=900), "", "geo", "location", "live location 55.75580, 37.61730"),
    (types.MessageMediaVenue(geo=GEO, title="Cafe Pushkin", address="Tverskoy Blvd 26A", provider="foursquare",
                             venue_id="x", venue_type=""), "", "venue", "venue",
     "place “Cafe Pushkin”, Tverskoy Blvd 26A"),
    (types.MessageMediaContact(phone_number="+99912345", first_name="Ivan", last_name="Petrov", vcard="",
                               user_id=77), "", "contact", "contact", "contact card: Ivan Petrov"),
    (POLL, "", "poll", "poll", "poll “Where tonight?”: bar / cinema"),
    (types.MessageMediaDice(value=4, emoticon="🎲"), "", "dice", "dice", "dice 🎲 showing 4"),
]


@pytest.mark.parametrize(("media", "caption", "helper", "kind", "label"), CASES,
                         ids=[f"{c[3]}-{i}" for i, c in enumerate(CASES)])
async def test_every_kind_is_described(client, media, caption, helper, kind, label) -> None:
    msg = types.Message(id=50, peer_id=types.PeerUser(42), date=T0, message=caption, media=media)
    event = build(client, msg, ALICE)
    assert getattr(event.message, helper) is not None  # Telethon agrees on what the TL object is

    got = await event_to_incoming(event, SELF)
    assert (got.kind, got.text) == (kind, caption)
    assert got.media is not None and got.media.kind == kind and got.media.label == label
    shown = shown_text(got)
    assert f"[{label}]" in shown and caption in shown
    assert "+99912345" not in shown  # a contact card's phone number is not passed on


async def test_photo_keeps_size_for_the_download_limit(client) -> None:
    msg = types.Message(id=51, peer_id=types.PeerUser(42), date=T0, message="",
                        media=types.MessageMediaPhoto(photo=PHOTO))
    got = await event_to_incoming(build(client, msg, ALICE), SELF)
    assert (got.media.mime, got.media.size) == ("image/jpeg", 90_000)
    assert shown_text(got) == "[photo]"


def test_expired_and_unknown_media_are_other() -> None:
    gone = types.Message(id=52, peer_id=types.PeerUser(42), date=T0, message="",
                         media=types.MessageMediaPhoto(photo=types.PhotoEmpty(id=3), ttl_seconds=10))
    got = to_incoming(gone, self_id=SELF, sender=ALICE)
    assert got.kind == "other" and got.media.label == "photo that is no longer available"
    story = types.Message(id=53, peer_id=types.PeerUser(42), date=T0, message="",
                          media=types.MessageMediaStory(peer=types.PeerUser(42), id=7))
    assert to_incoming(story, self_id=SELF, sender=ALICE).media.label == "story"


def test_link_without_a_preview_is_plain_text() -> None:
    pending = types.MessageMediaWebPage(webpage=types.WebPagePending(id=1, date=T0))
    msg = types.Message(id=54, peer_id=types.PeerUser(42), date=T0, message="https://x.org", media=pending)
    got = to_incoming(msg, self_id=SELF, sender=ALICE)
    assert (got.kind, got.media, shown_text(got)) == ("text", None, "https://x.org")


async def test_forwards_say_where_they_come_from(client) -> None:
    from_user = types.Message(id=60, peer_id=types.PeerUser(42), date=T0, message="funny",
                              fwd_from=types.MessageFwdHeader(date=T0, from_id=types.PeerUser(44)))
    got = await event_to_incoming(build(client, from_user, ALICE, BOB), SELF)
    assert got.forwarded_from == "Bob" and shown_text(got) == "[forwarded from Bob]\nfunny"

    post = types.Message(id=61, peer_id=types.PeerUser(42), date=T0, message="big news",
                         fwd_from=types.MessageFwdHeader(date=T0, from_id=types.PeerChannel(556), channel_post=9,
                                                         post_author="Ed"))
    assert (await event_to_incoming(build(client, post, ALICE, NEWS), SELF)).forwarded_from == "News (Ed)"

    hidden = types.Message(id=62, peer_id=types.PeerUser(42), date=T0, message="x",
                           fwd_from=types.MessageFwdHeader(date=T0, from_name="Secret Sam"))
    assert (await event_to_incoming(build(client, hidden, ALICE), SELF)).forwarded_from == "Secret Sam"

    unknown = types.Message(id=63, peer_id=types.PeerUser(42), date=T0, message="x",
                            fwd_from=types.MessageFwdHeader(date=T0, from_id=types.PeerUser(99)))
    assert to_incoming(unknown, self_id=SELF, sender=ALICE).forwarded_from == "someone"
    plain = types.Message(id=64, peer_id=types.PeerUser(42), date=T0, message="mine")
    assert to_incoming(plain, self_id=SELF, sender=ALICE).forwarded_from == ""


async def test_a_reply_carries_the_quoted_part(client) -> None:
    header = types.MessageReplyHeader(reply_to_msg_id=30, quote=True, quote_text="the red one")
    msg = types.Message(id=70, peer_id=types.PeerUser(42), date=T0, message="yes, that one", reply_to=header)
    got = await event_to_incoming(build(client, msg, ALICE), SELF)
    assert (got.reply_to, got.quote) == (30, "the red one")
    assert shown_text(got) == "[replying to “the red one”]\nyes, that one"
    # Without a selected quote, the stored text of the replied-to message is quoted instead.
    bare = to_incoming(types.Message(id=71, peer_id=types.PeerUser(42), date=T0, message="yes",
                                     reply_to=types.MessageReplyHeader(reply_to_msg_id=30)), self_id=SELF, sender=ALICE)
    assert bare.quote == "" and shown_text(bare, "red or blue?") == "[replying to “red or blue?”]\nyes"
    assert shown_text(bare) == "yes"
