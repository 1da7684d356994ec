"""What the model is shown of a turn's media: images where it can see them, else words.

Every message with media gets one record (kept in the turn as extra["looked"]): what it was,
what the model was given ("image", "frame" or "text") and, for text, why. A download that fails
or is too large, an unreadable file, a model without vision: each is a recorded reason, and
the turn is still answered from its text (the stand-in line says what came in).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from twin.media.describe import label_of
from twin.media.image import prepare_image, video_frame
from twin.sections import MediaSettings
from twin.types import Completion, Image, Media, media_from_json

log = logging.getLogger("twin.media")
HEARD_KINDS = frozenset({"voice", "audio"})  # voice notes are listened to, not looked at
FRAME_KINDS = frozenset({"animation", "video", "video_note"})
IMAGE_MIMES = ("image/jpeg", "image/png", "image/webp", "image/gif", "image/bmp", "image/tiff")
MB = 1_000_000

Download = Callable[[int, int], Awaitable[bytes]]  # (message_id, max_bytes) -> the media's bytes


@dataclass(frozen=True)
class Note:
    """One message's media and what the model was given for it."""

    message_id: int
    kind: str
    label: str
    given: str = "text"  # image | frame | text
    reason: str = ""  # why only text, when that was not simply the kind (a sticker is words anyway)

    def as_dict(self) -> dict[str, object]:
        found: dict[str, object] = {"id": self.message_id, "kind": self.kind, "label": self.label,
                                    "given": self.given}
        if self.reason:
            found["reason"] = self.reason
        return found


@dataclass(frozen=True)
class Looked:
    """The images for the prompt, in message order, and a note for each message with media."""

    images: tuple[Image, ...] = ()
    notes: tuple[Note, ...] = ()

    def record(self, completion: Completion | None) -> list[dict[str, object]]:
        """The notes as stored: images the answering model did not take become text, with why."""
        seen = completion.images if completion is not None else 0
        notes = list(self.notes)
        if self.images and seen < len(self.images):
            who = f"{completion.provider} {completion.model}".strip() if completion else "no model answered"
            why = f"the model that answered cannot see images ({who})"
            notes = [replace(n, given="text", reason=why) if n.given != "text" else n for n in notes]
        return [n.as_dict() for n in notes]


def media_in(extra: Mapping[str, Any]) -> dict[int, Media]:
    """A turn's media by message id, as the daemon recorded it at ingest."""
    raw = extra.get("media")
    found: dict[int, Media] = {}
    if isinstance(raw, dict):
        for key, value in raw.items():
            media = media_from_json(value)
            if media is not None and str(key).lstrip("-").isdigit():
                found[int(key)] = media
    return found


def visual(media: Media) -> str:
    """How a vision model can be shown this media: "image", "frame", or "" (words only)."""
    if media.kind == "photo" or (media.kind == "document" and media.mime.lower() in IMAGE_MIMES):
        return "image"
    return "frame" if media.kind in FRAME_KINDS else ""


def blind_reason(settings: MediaSettings, model_sees: bool, model: str) -> str:
    """Why no image goes to the model at all, or "" when images may go."""
    if settings.vision == "off":
        return "images are not shown to the model (media.vision = off)"
    if settings.vision == "auto" and not model_sees:
        return f"the model cannot see images ({model}; media.vision = on to try)"
    return ""


async def look(media: Mapping[int, Media], download: Download, settings: MediaSettings, *, model_sees: bool,
               model: str = "") -> Looked:
    """Download and prepare what a vision model can be shown; a note for every message with media."""
    blind = blind_reason(settings, model_sees, model)
    images: list[Image] = []
    notes: list[Note] = []
    for message_id, item in sorted(media.items()):
        if item.kind in HEARD_KINDS:
            continue
        note = Note(message_id, item.kind, label_of(item))
        how = visual(item)
        if how and blind:
            note = replace(note, reason=blind)
        elif how and len(images) >= settings.max_images:
            note = replace(note, reason=f"more than {settings.max_images} images in one turn (media.max_images)")
        elif how:
            image, reason = await _prepare(message_id, item, how, download, settings)
            if image is not None:
                images.append(image)
                note = replace(note, given=how)
            else:
                note = replace(note, reason=reason)
                log.info("message %s: %s shown as text: %s", message_id, item.kind, reason)
        notes.append(note)
    return Looked(tuple(images), tuple(notes))


async def _prepare(message_id: int, media: Media, how: str, download: Download,
                   settings: MediaSettings) -> tuple[Image | None, str]:
    """The image of one message, or None and the reason."""
    key, limit_mb = ("max_image_mb", settings.max_image_mb) if how == "image" else \
        ("max_video_mb", settings.max_video_mb)
    limit = int(limit_mb * MB)
    if limit <= 0:
        return None, f"no frames are taken (media.{key} = 0)"
    if media.size > limit:
        return None, f"too large to look at: {media.size / MB:.1f} MB > {limit_mb:g} MB (media.{key})"
    try:
        data = await download(message_id, limit)
    except Exception as exc:  # any failure costs the picture, never the turn
        return None, f"download failed: {exc}"
    if len(data) > limit:
        return None, f"too large to look at: {len(data) / MB:.1f} MB > {limit_mb:g} MB (media.{key})"
    try:
        if how == "image":
            return await prepare_image(data, max_side=settings.max_side, timeout_s=settings.timeout_s,
                                       source=media.kind), ""
        what = f"frame of the {media.kind.replace('_', ' ')}"
        return await video_frame(data, duration_s=media.duration_s, max_side=settings.max_side,
                                 timeout_s=settings.timeout_s, source=what), ""
    except Exception as exc:  # ImageError, or ConfigError when ffmpeg is missing
        return None, str(exc)
