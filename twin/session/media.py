"""Telethon media -> (MessageKind, Media): what a message carries, described in one line.

Pure, like twin.session.convert (which re-exports media_of): no I/O. A sticker set's title takes a
request (twin.session.stickers looks it up and with_set_title adds it); here a set shows only by the
short name a sticker may carry.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from telethon.tl import types

from twin.media.describe import duration, one_line, quoted, size
from twin.types import Media, MessageKind

ANIMATED_STICKER = "application/x-tgsticker"
SET_MARK = " (set: "
SET_CHARS = 60
VIDEO_STICKER = "video/webm"


def _attribute(document: Any, kind: type) -> Any:
    return next((a for a in document.attributes or [] if isinstance(a, kind)), None)


def _sticker(document: Any, attr: Any) -> str:
    mime = str(document.mime_type or "")
    what = "animated sticker" if mime == ANIMATED_STICKER else "video sticker" if mime == VIDEO_STICKER else "sticker"
    label = f"{what} {attr.alt}".strip() if attr.alt else what
    stickerset = attr.stickerset
    if isinstance(stickerset, types.InputStickerSetShortName) and stickerset.short_name:
        label += f"{SET_MARK}{one_line(stickerset.short_name, SET_CHARS)})"  # the short name until a title is known
    return label


def sticker_set(media: Any) -> Any:
    """The InputStickerSet a sticker message's sticker belongs to; None for anything else."""
    document = getattr(media, "document", None) if isinstance(media, types.MessageMediaDocument) else None
    if not isinstance(document, types.Document):
        return None
    attr = _attribute(document, types.DocumentAttributeSticker)
    return attr.stickerset if attr is not None else None


def with_set_title(media: Media, title: str) -> Media:
    """A sticker's description with its set's title: "sticker 😂 (set: Cats)"."""
    if not title.strip():
        return media
    base = media.label.split(SET_MARK, 1)[0]
    return replace(media, label=f"{base}{SET_MARK}{one_line(title, SET_CHARS)})")


def _file_name(document: Any) -> str:
    attr = _attribute(document, types.DocumentAttributeFilename)
    return str(attr.file_name) if attr is not None and attr.file_name else ""


def _audio(document: Any, attr: Any, voice: bool) -> tuple[MessageKind, str]:
    seconds = float(attr.duration or 0)
    if voice:
        return "voice", f"voice message {duration(seconds)}"
    title = " by ".join(str(x) for x in (attr.title, attr.performer) if x) or _file_name(document)
    return "audio", f"audio {quoted(title, 80)} {duration(seconds)}" if title else f"audio {duration(seconds)}"


def _document(media: Any, document: Any) -> tuple[MessageKind, Media]:
    """A document message: sticker, GIF, voice/audio, round video, video or a plain file."""
    mime, nbytes = str(document.mime_type or ""), int(document.size or 0)

    def done(kind: MessageKind, label: str, seconds: float = 0.0) -> tuple[MessageKind, Media]:
        return kind, Media(kind, mime, nbytes, seconds, label)

    sticker = _attribute(document, types.DocumentAttributeSticker)
    if sticker is not None:
        return done("sticker", _sticker(document, sticker))
    video = _attribute(document, types.DocumentAttributeVideo)
    seconds = float(video.duration or 0) if video is not None else 0.0
    if _attribute(document, types.DocumentAttributeAnimated) is not None:
        return done("animation", "GIF", seconds)
    audio = _attribute(document, types.DocumentAttributeAudio)
    if audio is not None and video is None:
        kind, label = _audio(document, audio, bool(audio.voice or media.voice))
        return done(kind, label, float(audio.duration or 0))
    if (video is not None and video.round_message) or media.round:
        return done("video_note", f"round video {duration(seconds)}", seconds)
    if video is not None or media.video:
        return done("video", f"video {duration(seconds)}", seconds)
    if media.voice:
        return done("voice", "voice message")
    name = _file_name(document)
    facts = ", ".join(x for x in (mime, size(nbytes) if nbytes else "") if x)
    label = " ".join(x for x in ("file", quoted(name, 80) if name else "", f"({facts})" if facts else "") if x)
    return done("document", label)


def _photo_size(photo: Any) -> int:
    """Bytes of the largest stored size of a photo (0 when unknown)."""
    best = 0
    for found in getattr(photo, "sizes", None) or []:
        best = max(best, int(getattr(found, "size", 0) or 0), *(int(s) for s in getattr(found, "sizes", None) or [0]))
    return best


def _text(value: Any) -> str:
    """A str, or the text of a TextWithEntities (poll questions and answers since layer 178)."""
    return str(getattr(value, "text", value) or "")


def _geo(geo: Any) -> str:
    if not isinstance(geo, types.GeoPoint):
        return "location"
    return f"location {geo.lat:.5f}, {geo.long:.5f}"


def _webpage(page: Any) -> str | None:
    """'link preview: “Title” (Site) — description', from what Telegram attached to the link."""
    if not isinstance(page, types.WebPage):
        return None  # empty or still pending: Telegram attached nothing to describe
    title = page.title or page.site_name or page.display_url or ""
    label = f"link preview: {quoted(title, 120)}" if title else "link preview"
    if page.site_name and page.title:
        label += f" ({one_line(page.site_name, 40)})"
    if page.description:
        label += f" — {one_line(str(page.description), 200)}"
    return label


def _poll(poll: Any) -> str:
    what = "quiz" if poll.quiz else "poll"
    answers = " / ".join(one_line(_text(a.text), 60) for a in poll.answers or [])
    question = quoted(_text(poll.question), 150)
    return f"{what} {question}: {answers}" if answers else f"{what} {question}"


def _other(media: Any) -> tuple[MessageKind, Media | None]:
    """Location, venue, contact card, poll, dice, link preview; anything else is "other"."""
    def done(kind: MessageKind, label: str) -> tuple[MessageKind, Media]:
        return kind, Media(kind, label=label)

    if isinstance(media, types.MessageMediaVenue):
        place = ", ".join(x for x in (quoted(media.title, 80) if media.title else "", media.address) if x)
        return done("venue", f"place {place}" if place else _geo(media.geo))
    if isinstance(media, types.MessageMediaGeoLive):
        return done("location", f"live {_geo(media.geo)}")
    if isinstance(media, types.MessageMediaGeo):
        return done("location", _geo(media.geo))
    if isinstance(media, types.MessageMediaContact):
        # The phone number stays out: the model does not need it to answer.
        name = " ".join(x for x in (media.first_name, media.last_name) if x) or "no name"
        return done("contact", f"contact card: {one_line(name, 80)}")
    if isinstance(media, types.MessageMediaPoll):
        return done("poll", _poll(media.poll))
    if isinstance(media, types.MessageMediaDice):
        return done("dice", f"dice {media.emoticon} showing {media.value}")
    if isinstance(media, types.MessageMediaWebPage):
        label = _webpage(media.webpage)
        return ("link", Media("link", label=label)) if label else ("text", None)
    if isinstance(media, types.MessageMediaStory):
        return done("other", "story")
    if isinstance(media, types.MessageMediaGame):
        return done("other", f"game {quoted(media.game.title, 80)}")
    if isinstance(media, types.MessageMediaInvoice):
        return done("other", f"invoice {quoted(media.title, 80)}")
    return "other", None  # unsupported, giveaways, paid media, ...


def media_of(media: Any) -> tuple[MessageKind, Media | None]:
    """The message kind and what it carries: enough to describe it, decide on it and download it."""
    if media is None or isinstance(media, types.MessageMediaEmpty):
        return "text", None
    if isinstance(media, types.MessageMediaPhoto):
        if not isinstance(media.photo, types.Photo):
            return "other", Media("other", label="photo that is no longer available")
        return "photo", Media("photo", "image/jpeg", _photo_size(media.photo), label="photo")
    if isinstance(media, types.MessageMediaDocument):
        if not isinstance(media.document, types.Document):
            return "other", None  # expired self-destructing media
        return _document(media, media.document)
    return _other(media)
