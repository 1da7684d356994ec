"""The words a turn holds for what came in, and how `twin show` says what the model was given."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.fakes import incoming
from twin.media.describe import (
    duration,
    has_media_lines,
    label_of,
    media_lines,
    media_rule,
    seen_images,
    shown_text,
    size,
)
from twin.types import Media, Turn

T = datetime(2026, 11, 2, tzinfo=UTC)


@pytest.mark.parametrize(("seconds", "shown"), [(0, "0:00"), (7.4, "0:07"), (65, "1:05"), (3723, "1:02:03")])
def test_duration(seconds, shown):
    assert duration(seconds) == shown


@pytest.mark.parametrize(("n", "shown"), [(820, "820 B"), (14_200, "14 KB"), (1_234_567, "1.2 MB")])
def test_size(n, shown):
    assert size(n) == shown


def test_labels_fall_back_to_the_kind():
    assert label_of(Media("video_note", duration_s=12)) == "video note 0:12"
    assert label_of(Media("sticker")) == "sticker"
    assert label_of(Media("link", label="link preview: “x” — " + "long " * 200)).endswith("…")


@pytest.mark.parametrize(("message", "replied", "shown"), [
    (incoming("hi"), "", "hi"),
    (incoming("", kind="photo", media=Media("photo", label="photo")), "", "[photo]"),
    (incoming(" look at my new bike ", kind="photo", media=Media("photo", label="photo")), "",
     "[photo] look at my new bike"),
    (incoming("", kind="sticker", media=Media("sticker", label="sticker 😂")), "", "[sticker 😂]"),
    (incoming("https://x.org", kind="link", media=Media("link", label="link preview: “X”")), "",
     "https://x.org\n[link preview: “X”]"),
    (incoming("", kind="voice", media=Media("voice", label="voice message 0:03")), "", ""),  # the transcript is added
    (incoming("yes", reply_to=5), "which one?\nthe red or the blue",
     "[replying to “which one? the red or the blue”]\nyes"),
    (incoming("yes", reply_to=5, quote="the red"), "which one?", "[replying to “the red”]\nyes"),
    (incoming("yes", reply_to=None), "ignored without a reply", "yes"),
    (incoming("lol", forwarded_from="Bob", reply_to=5), "   ", "[forwarded from Bob]\nlol"),
    (incoming("", kind="text"), "", ""),
])
def test_shown_text(message, replied, shown):
    assert shown_text(message, replied) == shown


def test_the_quote_is_shortened():
    shown = shown_text(incoming("ok", reply_to=1), "word " * 100)
    assert len(shown.splitlines()[0]) < 230 and "…”]" in shown


def test_the_system_rule_says_whether_images_are_seen():
    assert media_rule("hello there", 0) == ""
    assert media_rule("[1] first point", 0) == ""  # brackets a person types are not ours
    assert "cannot see" in media_rule("[photo] look", 0)
    assert "attached images" in media_rule("[photo] look", 1)
    assert has_media_lines("ok\n[replying to “x”]\nyes") and not has_media_lines("see [photo]")


def turn(extra, transcript=None):
    return Turn(1, "default", 42, "Alice", 42, "Alice", (1, 2), "x", "photo", "answered", "", T,
                transcript=transcript, extra=extra)


def test_media_lines_say_what_the_model_was_given():
    extra = {"media": {"1": {"kind": "photo", "label": "photo"}, "2": {"kind": "sticker", "label": "sticker 😂"},
                       "3": {"kind": "voice", "label": "voice message 0:03"}},
             "looked": [{"id": 1, "kind": "photo", "label": "photo", "given": "text",
                         "reason": "the model cannot see images (local smollm2)"},
                        {"id": 2, "kind": "sticker", "label": "sticker 😂", "given": "text"}]}
    assert media_lines(turn(extra, transcript="hello")) == [
        "1: photo — described in words (the model cannot see images (local smollm2))",
        "2: sticker 😂 — described in words",
        "3: voice message 0:03 — heard: see the transcript",
    ]
    assert seen_images(turn(extra)) == 0
    pending = {"media": {"7": {"kind": "photo", "label": "photo"}}}
    assert media_lines(turn(pending)) == ["7: photo — not given to a model"] and media_lines(turn({})) == []


def test_history_and_show_print_the_bracket_lines_as_written():
    from zoneinfo import ZoneInfo

    from rich.console import Console

    from twin.cli.render.turns import history_table, review_card, turn_detail

    extra = {"media": {"1": {"kind": "photo", "label": "photo"}},
             "looked": [{"id": 1, "kind": "photo", "label": "photo", "given": "image"}],
             "context": [{"out": False, "text": "[sticker 😂]"}]}
    seen = Turn(1, "default", 42, "Alice", 42, "Alice", (1,), "[photo] look at my new bike", "photo", "answered", "",
                T, reply_text="[b]nice[/b] bike", extra=extra)
    console = Console(record=True, width=150)
    console.print(history_table([seen], ZoneInfo("UTC")))
    console.print(turn_detail(seen, ZoneInfo("UTC")))
    console.print(review_card(seen, 1, 1, ZoneInfo("UTC")))
    shown = console.export_text()
    assert "👁 [photo] look at my new bike" in shown  # not eaten as rich markup
    assert "1: photo — seen: the image itself" in shown and "contact: [sticker 😂]" in shown
    assert "[b]nice[/b] bike" in shown
