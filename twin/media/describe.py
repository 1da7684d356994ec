"""What came in, in words: the text a turn carries for a message that is not (only) text.

The model reads these lines whether or not it also gets the image, so a model without vision
still knows a photo, a sticker or a location came in. `twin history` shows the same lines.
"""

from __future__ import annotations

from typing import Any

from twin.types import Incoming, Media, Turn

QUOTE_CHARS = 200  # of a replied-to message, quoted in the turn's text
LABEL_CHARS = 300  # of one media description (link previews can be long)
GIVEN = {"image": "seen: the image itself", "frame": "seen: a still frame", "text": "described in words"}
HEARD_KINDS = frozenset({"voice"})  # a voice note's text is its transcript, added when heard
SEEN_RULE = ("Lines in [brackets] say what the contact sent besides text (a photo, a sticker, a location, the "
             "message they reply to). The attached images are what they sent: react to them as a person would.")
UNSEEN_RULE = ("Lines in [brackets] say what the contact sent besides text (a photo, a sticker, a location, the "
               "message they reply to). You cannot see photos or videos here: never describe what they show; "
               "answer the words, or say you will look later.")


# How the lines shown_text makes begin (labels from twin.session.media and the sandbox, or a bare kind).
MARKERS = tuple(f"[{word}" for word in (
    "replying to", "forwarded from", "photo", "sticker", "animated sticker", "video", "GIF", "animation", "round video",
    "file", "document", "audio", "link", "location", "live location", "place", "venue", "contact", "poll", "quiz",
    "dice", "story", "game", "invoice", "other"))


def duration(seconds: float) -> str:
    """0:07, 1:05, 1:02:03."""
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def size(n: int) -> str:
    """820 B, 14 KB, 1.2 MB."""
    if n < 1000:
        return f"{n} B"
    if n < 1_000_000:
        return f"{n / 1000:.0f} KB"
    return f"{n / 1_000_000:.1f} MB"


def one_line(text: str, limit: int) -> str:
    """Whitespace folded to single spaces, cut at `limit` characters with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def quoted(text: str, limit: int = QUOTE_CHARS) -> str:
    """Text in typographic quotes, on one line, shortened."""
    return f"“{one_line(text, limit)}”"


def label_of(media: Media) -> str:
    """The media's description; a plain one from its kind when the boundary gave none."""
    if media.label:
        return one_line(media.label, LABEL_CHARS)
    plain = media.kind.replace("_", " ")
    return f"{plain} {duration(media.duration_s)}" if media.duration_s else plain


def shown_text(message: Incoming, replied_text: str = "") -> str:
    """The text a turn holds for this message: reply and forward context, the media line, the caption.

    `replied_text` is the stored text of the message this one replies to (the part the contact
    quoted wins when there is one). Voice notes keep only their caption: the transcript
    is added when they are heard. Empty when the message has neither text nor media.
    """
    caption = message.text.strip()
    media = message.media
    body: list[str] = []
    if media is None or media.kind in HEARD_KINDS or message.kind in ("text", "service"):
        body = [caption]
    elif media.kind == "link":
        body = [caption, f"[{label_of(media)}]"]
    else:
        body = [f"[{label_of(media)}] {caption}".strip()]
    body = [line for line in body if line]
    if not body:
        return ""
    context: list[str] = []
    quote = message.quote or replied_text
    if message.reply_to is not None and quote.strip():
        context.append(f"[replying to {quoted(quote)}]")
    if message.forwarded_from:
        context.append(f"[forwarded from {one_line(message.forwarded_from, 80)}]")
    return "\n".join([*context, *body])


def has_media_lines(text: str) -> bool:
    """Whether the text holds a line shown_text makes ("[photo] …", "[replying to …]")."""
    return any(line.startswith(MARKERS) and "]" in line for line in text.splitlines())


def media_rule(text: str, images: int) -> str:
    """The system line explaining the bracket lines (and whether the model sees the images), or ""."""
    if images:
        return SEEN_RULE
    return UNSEEN_RULE if has_media_lines(text) else ""


def _looked(turn: Turn) -> list[dict[str, Any]]:
    notes = turn.extra.get("looked")
    return [n for n in notes if isinstance(n, dict)] if isinstance(notes, list) else []


def media_lines(turn: Turn) -> list[str]:
    """One line per message with media: what it was and what the model was given (seen, or words and why)."""
    notes = {str(n.get("id")): n for n in _looked(turn)}
    media = turn.extra.get("media")
    lines = []
    for key, value in (media.items() if isinstance(media, dict) else []):
        if not isinstance(value, dict):
            continue
        note = notes.get(str(key), {})
        label = note.get("label") or value.get("label") or value.get("kind")
        if note:
            why = f" ({note['reason']})" if note.get("reason") else ""
            given = GIVEN.get(str(note.get("given")), str(note.get("given"))) + why
        elif value.get("kind") in ("voice", "audio", "video_note") and turn.transcript:
            given = "heard: see the transcript"
        else:
            given = "not given to a model"
        lines.append(f"{key}: {label} — {given}")
    return lines


def seen_images(turn: Turn) -> int:
    """How many images (or frames) of the turn the model that answered saw."""
    return sum(1 for n in _looked(turn) if n.get("given") in ("image", "frame"))
