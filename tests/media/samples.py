"""Real test images and videos, made with ffmpeg in a temp dir once per session (nothing binary is committed).

The `samples` fixture is registered in tests/conftest.py for every test directory.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True, timeout=120)


def dimensions(data: bytes, tmp: Path) -> tuple[int, int, str]:
    """(width, height, codec) of an image, by ffprobe."""
    path = tmp / "probe.bin"
    path.write_bytes(data)
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=width,height,codec_name", "-of", "json",
                          str(path)], capture_output=True, text=True, check=True, timeout=60)
    stream = json.loads(out.stdout)["streams"][0]
    return int(stream["width"]), int(stream["height"]), str(stream["codec_name"])


@pytest.fixture(scope="session")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("media")
    made = {
        "photo12mp": folder / "photo12mp.jpg",  # a 12-megapixel photo, as a phone takes
        "small_png": folder / "small.png",
        "tall_webp": folder / "tall.webp",
        "video": folder / "video.mp4",
        "gif": folder / "gif.mp4",  # Telegram sends GIFs as silent MP4
    }
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=4000x3000", "-frames:v", "1", "-q:v", "3", str(made["photo12mp"]))
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=333x201", "-frames:v", "1", str(made["small_png"]))
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=600x2000", "-frames:v", "1", str(made["tall_webp"]))
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-t", "4", "-pix_fmt", "yuv420p",
           "-movflags", "+faststart", str(made["video"]))
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=10", "-t", "2", "-pix_fmt", "yuv420p", "-an",
           str(made["gif"]))
    return made
