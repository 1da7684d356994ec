"""Photos, stickers, round videos, replies through the whole loop: answered, with what the model saw recorded."""

from __future__ import annotations

import pytest

from tests.engine.test_loop import serve, turns_of
from tests.fakes import incoming
from tests.helpers import make_rig
from tests.media.samples import dimensions
from twin.media.describe import SEEN_RULE, UNSEEN_RULE, media_lines, seen_images
from twin.types import Media


def photo(message_id: int = 1, caption: str = "look at my new bike", size: int = 0, **kw):
    return incoming(caption, message_id=message_id, kind="photo", media=Media("photo", "image/jpeg", size,
                                                                              label="photo"), **kw)


@pytest.fixture
def jpeg(samples) -> bytes:
    return samples["photo12mp"].read_bytes()


async def test_a_photo_is_shown_to_a_vision_model_and_answered(twin_home, jpeg, tmp_path):
    rig = make_rig(twin_home, "wow, is it new? 😍")
    rig.llm.vision = True
    rig.telegram.media[(42, 1)] = jpeg
    await serve(rig, photo(size=len(jpeg)))

    assert [s.text for s in rig.telegram.sent] == ["wow, is it new? 😍"]
    (prompt,) = rig.llm.prompts
    assert turns_of(prompt)[-1] == ("user", "[photo] look at my new bike")
    (image,) = prompt.messages[-1].images
    assert image.mime == "image/jpeg" and dimensions(image.data, tmp_path)[:2] == (1024, 768)  # downscaled first
    assert SEEN_RULE in prompt.system
    (turn,) = rig.store.turns("default")
    assert turn.status == "answered" and turn.kind == "photo"
    assert turn.incoming_text == "[photo] look at my new bike"
    assert turn.extra["looked"] == [{"id": 1, "kind": "photo", "label": "photo", "given": "image"}]
    assert seen_images(turn) == 1 and media_lines(turn) == ["1: photo — seen: the image itself"]


async def test_a_model_without_vision_gets_the_stand_in_and_the_turn_says_it_did_not_see(twin_home, jpeg):
    rig = make_rig(twin_home, "nice! where did you get it?")  # the fake, like the local default, is blind
    rig.telegram.media[(42, 1)] = jpeg
    await serve(rig, photo())

    (prompt,) = rig.llm.prompts
    assert turns_of(prompt)[-1] == ("user", "[photo] look at my new bike")
    assert all(not m.images for m in prompt.messages) and UNSEEN_RULE in prompt.system
    assert rig.telegram.downloads == []  # nothing fetched for a model that cannot look
    (turn,) = rig.store.turns("default")
    assert turn.status == "answered" and seen_images(turn) == 0
    assert turn.extra["looked"][0]["given"] == "text"
    assert turn.extra["looked"][0]["reason"] == "the model cannot see images (fake fake-1; media.vision = on to try)"


@pytest.mark.parametrize(("size", "data", "reason"), [
    (30_000_000, b"", "too large to look at: 30.0 MB > 10 MB (media.max_image_mb)"),
    (0, b"\xff\xd8" * 6_000_000, "download failed: media is 12000000 bytes, over the 10000000 byte limit"),
    (500, b"not a picture" * 40, "could not read the image"),
])
async def test_a_photo_that_cannot_be_looked_at_is_answered_from_its_words(twin_home, size, data, reason):
    rig = make_rig(twin_home, "haha what is it?")
    rig.llm.vision = True
    rig.telegram.media[(42, 1)] = data
    await serve(rig, photo(size=size, caption=""))

    assert [s.text for s in rig.telegram.sent] == ["haha what is it?"]
    assert turns_of(rig.llm.prompts[0])[-1] == ("user", "[photo]")
    assert not rig.llm.prompts[0].messages[-1].images and UNSEEN_RULE in rig.llm.prompts[0].system
    (turn,) = rig.store.turns("default")
    (note,) = turn.extra["looked"]
    assert turn.status == "answered" and note["given"] == "text" and note["reason"].startswith(reason)
    assert media_lines(turn)[0].startswith("1: photo — described in words (" + reason)


async def test_stickers_and_places_are_answered_from_their_description(twin_home):
    rig = make_rig(twin_home)
    rig.llm.default = "haha"
    rig.llm.vision = True
    sticker = incoming("", message_id=1, kind="sticker", media=Media("sticker", "image/webp", 9000, label="sticker 😂"))
    venue = incoming("", message_id=1, chat_id=7, kind="venue",
                     media=Media("venue", label="place “Cafe Pushkin”, Tverskoy Blvd 26A"))
    await serve(rig, [sticker, venue])
    turns = {t.chat_id: t for t in rig.store.turns("default")}
    assert turns[42].status == "answered" and turns[42].incoming_text == "[sticker 😂]"
    assert turns[7].status == "answered" and turns[7].incoming_text == "[place “Cafe Pushkin”, Tverskoy Blvd 26A]"
    assert rig.telegram.downloads == []  # a sticker is its emoji; no image goes to the model
    assert turns[42].extra["looked"] == [{"id": 1, "kind": "sticker", "label": "sticker 😂", "given": "text"}]


async def test_an_album_is_one_turn_with_its_photos(twin_home, samples):
    rig = make_rig(twin_home, "great shots")
    rig.llm.vision = True
    png = samples["small_png"].read_bytes()
    rig.telegram.media.update({(42, 1): png, (42, 2): png})
    await serve(rig, [photo(1, caption="from the trip"), photo(2, caption="")])
    (turn,) = rig.store.turns("default")
    assert turn.incoming_ids == (1, 2) and turn.incoming_text == "[photo] from the trip\n[photo]"
    assert len(rig.llm.prompts[0].messages[-1].images) == 2 and seen_images(turn) == 2


async def test_a_round_video_without_speech_to_text_is_answered_from_a_frame(twin_home, samples):
    rig = make_rig(twin_home, "hi to you too!")
    rig.llm.vision = True
    video = samples["video"].read_bytes()
    rig.telegram.media[(42, 1)] = video
    note = Media("video_note", "video/mp4", len(video), 4.0, "round video 0:04")
    await serve(rig, incoming("", kind="video_note", media=note))
    (turn,) = rig.store.turns("default")
    assert turn.status == "answered" and turn.incoming_text == "[round video 0:04]"
    assert turn.extra["looked"][0]["given"] == "frame"
    assert rig.llm.prompts[0].messages[-1].images[0].source == "frame of the video note"


async def test_a_reply_carries_the_text_it_answers(twin_home):
    rig = make_rig(twin_home, "red or blue?", "great, ordering the red one")
    await serve(rig, incoming("which one should I buy?", message_id=1))
    (asked,) = rig.telegram.sent
    await serve(rig, incoming("yes, that one", message_id=asked.message_id + 1, reply_to=asked.message_id))
    assert turns_of(rig.llm.prompts[1])[-1] == ("user", "[replying to “red or blue?”]\nyes, that one")
    quoted = incoming("the first", message_id=asked.message_id + 3, reply_to=asked.message_id, quote="red")
    await serve(rig, quoted)
    assert turns_of(rig.llm.prompts[2])[-1] == ("user", "[replying to “red”]\nthe first")


async def test_forwarded_messages_say_where_they_come_from(twin_home):
    rig = make_rig(twin_home, "lol")
    await serve(rig, incoming("cats are liquid", forwarded_from="Bob"))
    assert turns_of(rig.llm.prompts[0])[-1] == ("user", "[forwarded from Bob]\ncats are liquid")
