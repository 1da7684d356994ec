"""The chat's language is the contact's own words, not the media lines the twin writes for what came."""

from datetime import UTC, datetime

from twin.engine.responder import contact_language
from twin.types import HistoryMessage

AT = datetime(2026, 12, 1, 12, tzinfo=UTC)


def _incoming(i: int, text: str, media: str = "") -> HistoryMessage:
    return HistoryMessage(i, AT, False, text, kind="sticker" if media else "text", media=media)


def test_sticker_and_photo_lines_do_not_turn_a_russian_chat_english():
    history = [_incoming(1, "[sticker 😂 (set: Funny Cats)]", "[sticker 😂 (set: Funny Cats)]"),
               _incoming(2, "[photo]\nок", "[photo]"), _incoming(3, "да")]
    assert contact_language(history) == "ru"
    # without the rule the media lines would win: the same words read raw are English
    assert contact_language([_incoming(1, "sticker Funny Cats photo ок да")]) == "en"


def test_only_the_last_six_incoming_messages_count_and_outgoing_ones_never():
    old = [_incoming(i, "привет, как дела?") for i in range(1, 4)]
    recent = [_incoming(i, "see you at the station then") for i in range(4, 10)]
    owner = HistoryMessage(10, AT, True, "привет привет привет")
    assert contact_language([*old, *recent, owner]) == "en"
    assert contact_language([owner]) == ""
