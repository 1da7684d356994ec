"""Sticker set titles: one messages.getStickerSet per set through Telethon's real request path, kept in an LRU;
a failure or a slow answer leaves the emoji alone and the message still comes."""

from __future__ import annotations

import asyncio

from telethon.crypto import AuthKey
from telethon.tl import functions, types

from tests.session.test_convert import ALICE, SELF, T0, build
from tests.session.test_telethon import FakeSender, RpcFailure, make_client
from twin.session.convert import event_to_incoming
from twin.session.stickers import StickerSets, set_key
from twin.session.telethon import TelethonTelegram

CATS = types.InputStickerSetID(id=9, access_hash=1)
DOGS = types.InputStickerSetID(id=10, access_hash=2)


def sticker_message(mid: int, alt: str, stickerset: object) -> types.Message:
    document = types.Document(id=mid, access_hash=6, file_reference=b"", date=T0, mime_type="image/webp", size=9000,
                              dc_id=2, attributes=[types.DocumentAttributeSticker(alt=alt, stickerset=stickerset),
                                                   types.DocumentAttributeImageSize(512, 512)])
    return types.Message(id=mid, peer_id=types.PeerUser(42), date=T0, message="",
                         media=types.MessageMediaDocument(document=document))


def sticker_set(ref: types.InputStickerSetID, title: str) -> types.messages.StickerSet:
    found = types.StickerSet(id=ref.id, access_hash=ref.access_hash, title=title, short_name=title.lower(), count=3,
                             hash=0)
    return types.messages.StickerSet(set=found, packs=[], keywords=[], documents=[])


def answer_by_set(request: functions.messages.GetStickerSetRequest) -> object:
    if request.stickerset.id == CATS.id:
        return sticker_set(CATS, "Cats")
    return RpcFailure(400, "STICKERSET_INVALID")


async def test_incoming_stickers_carry_their_set_title_with_one_request_per_set() -> None:
    client = make_client()
    client._sender = sender = FakeSender()  # Telethon's real request path above a scripted MTProto sender
    client.session.auth_key = AuthKey(b"\x01" * 256)
    tg = TelethonTelegram(client, account="me")
    sender.on(functions.messages.GetStickerSetRequest, answer_by_set)
    await tg.start()
    stream = tg.incoming()
    for mid, alt, ref in ((10, "😂", CATS), (11, "🐱", CATS), (12, "👍", DOGS), (13, "🐶", DOGS)):
        update = types.UpdateNewMessage(message=sticker_message(mid, alt, ref), pts=2, pts_count=1)
        update._entities = {42: ALICE}
        await tg.client._dispatch_update(update)
    got = [await anext(stream) for _ in range(4)]
    assert [(m.message_id, m.kind, m.media.label if m.media else "") for m in got] == [
        (10, "sticker", "sticker 😂 (set: Cats)"), (11, "sticker", "sticker 🐱 (set: Cats)"),
        (12, "sticker", "sticker 👍"), (13, "sticker", "sticker 🐶"),  # the lookup failed: the emoji alone, once
    ]
    asked = sender.sent(functions.messages.GetStickerSetRequest)
    assert [r.stickerset.id for r in asked] == [9, 10]
    await tg.stop()


async def test_a_slow_lookup_gives_no_title_and_the_message_still_comes() -> None:
    release = asyncio.Event()
    calls: list[object] = []

    async def slow_client(request: object) -> object:
        calls.append(request)
        await release.wait()  # an answer that does not come in time
        return sticker_set(CATS, "Cats")

    sets = StickerSets(slow_client, timeout_s=0.01)
    got = await event_to_incoming(build(make_client(), sticker_message(20, "😂", CATS), ALICE), SELF, sets.title)
    assert got.media is not None and got.media.label == "sticker 😂" and len(calls) == 1
    assert await sets.title(CATS) == "" and len(calls) == 1  # remembered: not asked again
    release.set()


async def test_titles_are_kept_per_set_in_a_bounded_lru_and_asked_once_when_concurrent() -> None:
    calls: list[int | str | None] = []

    async def client(request: functions.messages.GetStickerSetRequest) -> object:
        calls.append(set_key(request.stickerset))
        await asyncio.sleep(0)  # the answer comes on a later turn of the loop: the second lookup waits for it
        return sticker_set(types.InputStickerSetID(id=int(request.stickerset.id), access_hash=0), f"Set {len(calls)}")

    sets = StickerSets(client, kept=2)
    assert await asyncio.gather(sets.title(CATS), sets.title(CATS)) == ["Set 1", "Set 1"]
    assert calls == [9]
    assert await sets.title(DOGS) == "Set 2"
    assert await sets.title(types.InputStickerSetID(id=11, access_hash=3)) == "Set 3"  # CATS is dropped
    assert await sets.title(DOGS) == "Set 2" and calls == [9, 10, 11]
    assert await sets.title(CATS) == "Set 4" and calls == [9, 10, 11, 9]  # asked again after it was dropped
    assert await sets.title(types.InputStickerSetAnimatedEmoji()) == "" and len(calls) == 4  # no id: no request
    assert await sets.title(None) == ""


async def test_a_short_name_shows_until_the_title_replaces_it() -> None:
    async def client(request: functions.messages.GetStickerSetRequest) -> object:
        return sticker_set(CATS, "Cats of the World")

    short = types.InputStickerSetShortName(short_name="CatsPack")
    message = sticker_message(30, "🐱", short)
    plain = await event_to_incoming(build(make_client(), message, ALICE), SELF)
    assert plain.media is not None and plain.media.label == "sticker 🐱 (set: CatsPack)"
    titled = await event_to_incoming(build(make_client(), message, ALICE), SELF, StickerSets(client).title)
    assert titled.media is not None and titled.media.label == "sticker 🐱 (set: Cats of the World)"
    assert set_key(short) == "catspack"
