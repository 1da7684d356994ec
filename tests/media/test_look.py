"""What the model is shown of a turn's media, and the recorded reason whenever it is only words."""

from __future__ import annotations

from dataclasses import replace

import pytest

from twin.errors import TelegramError
from twin.media.look import look, media_in
from twin.sections import MediaSettings
from twin.types import Completion, Media, media_json

PHOTO = Media("photo", "image/jpeg", 700_000, label="photo")
STICKER = Media("sticker", "image/webp", 0, label="sticker 😂")


class Downloads:
    """The Telegram seam's download, as a callable: bytes per message id, or an exception."""

    def __init__(self, **by_id: bytes | Exception) -> None:
        self.by_id = {int(k[1:]): v for k, v in by_id.items()}
        self.calls: list[tuple[int, int]] = []

    async def __call__(self, message_id: int, max_bytes: int) -> bytes:
        self.calls.append((message_id, max_bytes))
        found = self.by_id[message_id]
        if isinstance(found, Exception):
            raise found
        return found


async def test_a_vision_model_gets_the_photo_and_words_for_the_sticker(samples) -> None:
    jpeg = samples["photo12mp"].read_bytes()
    download = Downloads(m1=jpeg)
    looked = await look({1: PHOTO, 2: STICKER}, download, MediaSettings(), model_sees=True)
    (image,) = looked.images
    assert image.mime == "image/jpeg" and image.data[:2] == b"\xff\xd8" and len(image.data) < len(jpeg)
    assert download.calls == [(1, 10_000_000)]  # media.max_image_mb
    assert [n.as_dict() for n in looked.notes] == [
        {"id": 1, "kind": "photo", "label": "photo", "given": "image"},
        {"id": 2, "kind": "sticker", "label": "sticker 😂", "given": "text"},
    ]
    answered = Completion("nice", "gemini", "gemini-2.5-flash", images=1)
    assert looked.record(answered)[0]["given"] == "image"
    # A fallback model that could not take the image: the record says so.
    fallback = looked.record(Completion("nice", "local", "smollm2"))
    assert fallback[0] == {"id": 1, "kind": "photo", "label": "photo", "given": "text",
                           "reason": "the model that answered cannot see images (local smollm2)"}


@pytest.mark.parametrize(("settings", "sees", "reason"), [
    (MediaSettings(), False, "the model cannot see images (local smollm2; media.vision = on to try)"),
    (MediaSettings(vision="off"), True, "images are not shown to the model (media.vision = off)"),
])
async def test_without_vision_nothing_is_downloaded_and_the_reason_is_kept(settings, sees, reason) -> None:
    download = Downloads()
    looked = await look({1: PHOTO}, download, settings, model_sees=sees, model="local smollm2")
    assert looked.images == () and download.calls == []
    assert looked.notes[0].given == "text" and looked.notes[0].reason == reason


async def test_too_large_failed_or_unreadable_become_reasons(samples) -> None:
    big = replace(PHOTO, size=25_300_000)
    video = Media("video", "video/mp4", 30_000_000, 61.0, "video 1:01")
    download = Downloads(m2=TelegramError("FILE_REFERENCE_EXPIRED"), m3=b"garbage" * 100,
                         m4=samples["video"].read_bytes())
    settings = MediaSettings(max_video_mb=20.0)
    looked = await look({1: big, 2: PHOTO, 3: PHOTO, 4: replace(video, size=100_000, duration_s=4.0), 5: video},
                        download, settings, model_sees=True)
    reasons = {n.message_id: (n.given, n.reason) for n in looked.notes}
    assert reasons[1] == ("text", "too large to look at: 25.3 MB > 10 MB (media.max_image_mb)")
    assert reasons[2] == ("text", "download failed: FILE_REFERENCE_EXPIRED")
    assert reasons[3][0] == "text" and reasons[3][1].startswith("could not read the image")
    assert reasons[4] == ("frame", "")
    assert reasons[5] == ("text", "too large to look at: 30.0 MB > 20 MB (media.max_video_mb)")
    assert [c[0] for c in download.calls] == [2, 3, 4]  # the too-large ones were never downloaded
    assert len(looked.images) == 1 and looked.images[0].source == "frame of the video"


async def test_a_download_bigger_than_announced_is_refused_after_the_fact() -> None:
    download = Downloads(m1=b"\xff\xd8" + b"x" * 2_000_000)
    looked = await look({1: replace(PHOTO, size=0)}, download, MediaSettings(max_image_mb=1.0), model_sees=True)
    assert looked.notes[0].reason == "too large to look at: 2.0 MB > 1 MB (media.max_image_mb)"


async def test_at_most_max_images_per_turn(samples) -> None:
    png = samples["small_png"].read_bytes()
    download = Downloads(m1=png, m2=png, m3=png)
    looked = await look({1: PHOTO, 2: PHOTO, 3: PHOTO}, download, MediaSettings(max_images=2), model_sees=True)
    assert len(looked.images) == 2
    assert looked.notes[2].reason == "more than 2 images in one turn (media.max_images)"


async def test_images_sent_as_files_are_looked_at_and_voice_notes_are_left_to_listening(samples) -> None:
    as_file = Media("document", "image/png", 5000, label="file “scan.png” (image/png, 5 KB)")
    pdf = Media("document", "application/pdf", 5000, label="file “a.pdf”")
    voice = Media("voice", "audio/ogg", 5000, 3.0, "voice message 0:03")
    download = Downloads(m1=samples["small_png"].read_bytes())
    looked = await look({1: as_file, 2: pdf, 3: voice}, download, MediaSettings(), model_sees=True)
    assert [(n.message_id, n.given) for n in looked.notes] == [(1, "image"), (2, "text")]


def test_media_in_reads_what_the_daemon_stored() -> None:
    extra = {"media": {"5": media_json(PHOTO), "6": {"kind": 3}, "x": media_json(STICKER)}, "seed": 1}
    assert media_in(extra) == {5: PHOTO}
    assert media_in({}) == {}
