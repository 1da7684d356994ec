"""What one message shows, on fixed inputs (the style profile, the guard and eval's scoring build on these)."""

from __future__ import annotations

import pytest

from twin.persona.features import address_of, detect_language, emoji_of, ending_of, laughter_of


@pytest.mark.parametrize(("text", "language"), [
    ("привет, как дела?", "ru"), ("привіт, як справи? їжа є", "uk"), ("ich bin nicht da und du", "de"),
    ("que es una casa muy bonita", "es"), ("je suis avec les amis", "fr"), ("see you at 7", "en"), ("xyzzy", "en"),
    ("😂👍 123", ""),
])
def test_language_by_script_and_stopwords(text, language):
    assert detect_language(text) == language


@pytest.mark.parametrize(("text", "ending"), [
    ("ok.", "."), ("wow!", "!"), ("really?", "?"), ("well...", "…"), ("hmm…", "…"), ("ну ладно)", ")"),
    ("haha 😂", "emoji"), ("fine", "none"), ("   ", "none"),
])
def test_the_ending_class(text, ending):
    assert ending_of(text) == ending


def test_emoji_laughter_and_address():
    assert len(emoji_of("👍🏽 hi 🇩🇪 and 👨‍👩‍👧")) == 3  # skin tone, flag and ZWJ family each count once
    assert emoji_of("no emoji here :)") == []
    assert sorted(laughter_of("HAHAHA ахахах lol")) == sorted(["haha", "ахах", "lol"])
    assert address_of(["Здравствуйте, вы не могли бы помочь?"], "ru") == "formal"
    assert address_of(["ты где?", "ты дома?"], "ru") == "informal"
    assert address_of(["hi"], "de") == "unknown"
