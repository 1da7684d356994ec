"""Images for the model: real ffmpeg on real files made by ffmpeg."""

from __future__ import annotations

import pytest

from tests.media.samples import dimensions
from twin.media.image import ImageError, prepare_image, video_frame


async def test_a_12_megapixel_photo_is_downscaled_to_a_small_jpeg(samples, tmp_path) -> None:
    data = samples["photo12mp"].read_bytes()
    image = await prepare_image(data)
    assert image.mime == "image/jpeg" and image.source == "photo"
    assert dimensions(image.data, tmp_path) == (1024, 768, "mjpeg")
    assert len(image.data) < len(data) / 4


async def test_small_images_are_not_upscaled_and_any_format_becomes_jpeg(samples, tmp_path) -> None:
    small = await prepare_image(samples["small_png"].read_bytes())
    assert dimensions(small.data, tmp_path) == (332, 200, "mjpeg")  # even sides for 4:2:0
    tall = await prepare_image(samples["tall_webp"].read_bytes(), max_side=512)
    width, height, _ = dimensions(tall.data, tmp_path)
    assert height == 512 and abs(width - 154) <= 2


async def test_a_still_frame_of_a_video_and_a_gif(samples, tmp_path) -> None:
    frame = await video_frame(samples["video"].read_bytes(), duration_s=4.0)
    assert dimensions(frame.data, tmp_path) == (640, 360, "mjpeg") and frame.source == "frame of a video"
    # A duration past the end (a wrong attribute) falls back to the first frame.
    gif = await video_frame(samples["gif"].read_bytes(), duration_s=60.0, source="frame of the animation")
    assert dimensions(gif.data, tmp_path)[:2] == (320, 240)


@pytest.mark.parametrize("data", [b"", b"this is not an image at all" * 20, b"\xff\xd8\xff\xe0broken jpeg"])
async def test_unreadable_bytes_are_one_line_errors(data) -> None:
    with pytest.raises(ImageError) as caught:
        await prepare_image(data)
    message = str(caught.value)
    assert message.startswith("could not read the image") and "\n" not in message


async def test_missing_ffmpeg_is_a_config_error(samples, monkeypatch) -> None:
    from twin.errors import ConfigError

    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ConfigError, match="ffmpeg not found"):
        await prepare_image(samples["small_png"].read_bytes())
