"""Images for a vision model, made with ffmpeg: a photo downscaled, or a still frame of a video.

The bytes go to ffmpeg through a temp file (MP4s keep their index at the end, so a pipe cannot
always be read), and one JPEG comes back on stdout. ffmpeg is killed on timeout or cancellation.
An input larger than MAX_PIXELS is refused by the decoder instead of filling memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile

from twin.errors import ConfigError, TwinError
from twin.types import Image

MAX_SIDE = 1024
TIMEOUT_S = 30.0
MAX_PIXELS = 100_000_000  # a 10000x10000 image; a "decompression bomb" stops at the decoder
JPEG_QUALITY = 5  # ffmpeg's -q:v for MJPEG: 2 best .. 31 worst; 5 keeps a 1024 px photo near 100 KB


class ImageError(TwinError):
    """The bytes could not be read as an image (or a video frame); the message says why, in one line."""


def _scale(max_side: int) -> str:
    side = max(16, int(max_side))
    # Never upscale; keep the aspect ratio; even sides suit the 4:2:0 JPEG that comes out.
    return (f"scale=w='min(iw,{side})':h='min(ih,{side})':force_original_aspect_ratio=decrease"
            ":force_divisible_by=2,format=yuvj420p")


def image_args(source: str, max_side: int, at_s: float = 0.0) -> list[str]:
    """ffmpeg's arguments: one frame of `source`, scaled, as JPEG on stdout.

    With at_s > 0 (a video): the first keyframe from at_s on; decoding only keyframes makes a
    frame seconds into a video cost about as much as the first one.
    """
    seek = ["-skip_frame", "nokey", "-ss", f"{at_s:.3f}"] if at_s > 0 else []
    return ["-nostdin", "-hide_banner", "-v", "error", "-max_pixels", str(MAX_PIXELS), *seek, "-i", source,
            "-frames:v", "1", "-vf", _scale(max_side), "-q:v", str(JPEG_QUALITY), "-f", "image2pipe",
            "-c:v", "mjpeg", "pipe:1"]


def _last_line(stderr: bytes) -> str:
    lines = [ln.strip() for ln in stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
    return lines[-1][:200] if lines else ""


async def _ffmpeg(data: bytes, max_side: int, at_s: float, timeout_s: float, what: str) -> bytes:
    if not data:
        raise ImageError(f"{what}: empty file (0 bytes)")
    fd, path = tempfile.mkstemp(prefix="twin-image-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        try:
            proc = await asyncio.create_subprocess_exec(
                "ffmpeg", *image_args(path, max_side, at_s), stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        except FileNotFoundError:
            raise ConfigError("ffmpeg not found: install ffmpeg (e.g. apt install ffmpeg)") from None
        try:
            out, err = await asyncio.wait_for(proc.communicate(), timeout_s)
        except (TimeoutError, asyncio.CancelledError) as exc:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise ImageError(f"{what}: ffmpeg took longer than {timeout_s:g} s") from None
    finally:
        os.unlink(path)
    if proc.returncode != 0:
        raise ImageError(f"{what}: {_last_line(err) or f'ffmpeg exited with {proc.returncode}'}")
    if out[:2] != b"\xff\xd8":
        raise ImageError(f"{what}: no picture in it")
    return out


async def prepare_image(data: bytes, *, max_side: int = MAX_SIDE, timeout_s: float = TIMEOUT_S,
                        source: str = "photo") -> Image:
    """A photo (JPEG, PNG, WebP, ...) as a JPEG whose longest side is at most max_side pixels."""
    return Image("image/jpeg", await _ffmpeg(data, max_side, 0.0, timeout_s, "could not read the image"), source)


async def video_frame(data: bytes, *, duration_s: float = 0.0, max_side: int = MAX_SIDE,
                      timeout_s: float = TIMEOUT_S, source: str = "frame of a video") -> Image:
    """A still frame of a video or GIF (the first keyframe a quarter in, at most 5 s), scaled like a photo.

    A video with no keyframe after that point (or a wrong duration) gives its first frame instead.
    """
    at = min(max(duration_s, 0.0) * 0.25, 5.0)
    try:
        jpeg = await _ffmpeg(data, max_side, at, timeout_s, "could not read a frame of the video")
    except ImageError:
        if at <= 0:
            raise
        jpeg = await _ffmpeg(data, max_side, 0.0, timeout_s, "could not read a frame of the video")
    return Image("image/jpeg", jpeg, source)
