"""The sandbox's photos and stickers: stored bytes behind download(); `twin sandbox say --photo` end to end."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.service_helpers import kill_leftovers, replies, sandbox_env, sandbox_login, script_replies, twin, wait_for
from twin.errors import TelegramError
from twin.session.sandbox import SandboxTelegram, SandboxWorld, contact_id
from twin.types import Media, VoiceNote


async def first_incoming(telegram: SandboxTelegram):
    async for message in telegram.incoming():
        await telegram.stop()
        return message
    raise AssertionError("nothing arrived")


async def test_a_photo_event_downloads_its_stored_bytes(tmp_path, samples) -> None:
    world = SandboxWorld(tmp_path / "sandbox")
    data = samples["small_png"].read_bytes()
    event = world.say("Alice", "look", media=world.store_photo(data, "cat.png"))
    telegram = SandboxTelegram(world, tmp_path / "session.json", poll_s=0.01)

    got = await first_incoming(telegram)
    assert (got.kind, got.text, got.message_id) == ("photo", "look", event["id"])
    assert got.media == Media("photo", "image/png", len(data), label="photo")
    assert await telegram.download(contact_id("Alice"), event["id"], 10**6) == data
    with pytest.raises(TelegramError, match="over the 100 byte limit"):
        await telegram.download(contact_id("Alice"), event["id"], 100)
    text = world.say("Alice", "and a text")
    with pytest.raises(TelegramError, match="no downloadable media"):
        await telegram.download(contact_id("Alice"), text["id"], 10**6)


async def test_a_sticker_event_is_a_sticker_with_its_emoji(tmp_path) -> None:
    world = SandboxWorld(tmp_path / "sandbox")
    world.say("Bob", "", media=world.sticker("😂"))
    got = await first_incoming(SandboxTelegram(world, tmp_path / "session.json", poll_s=0.01))
    assert got.kind == "sticker" and got.text == "" and got.media.label == "sticker 😂"


@pytest.fixture
def home(twin_home: Path) -> Iterator[Path]:
    yield twin_home
    kill_leftovers(twin_home)


def test_say_photo_and_sticker_are_answered_and_shown(home, server, samples) -> None:
    script_replies(server, "wow, nice bike!", "😂😂")
    env = sandbox_env(server, TWIN_MEDIA_VISION="on")  # a local OpenAI-compatible server: vision on to try
    sandbox_login(home, env)
    assert twin(home, "start", env=env).returncode == 0

    said = twin(home, "sandbox", "say", "--from", "Alice", "--photo", str(samples["photo12mp"]), "look at my new bike",
                env=env)
    assert said.returncode == 0 and said.stdout.strip().endswith("(photo)"), said.stderr
    assert twin(home, "sandbox", "say", "--from", "Bob", "--sticker", "😂", env=env).returncode == 0
    sent = wait_for(lambda: len(replies(home)) == 2 and replies(home), what="both replies")
    assert sorted(e["text"] for e in sent) == ["wow, nice bike!", "😂😂"]

    bodies = [r.json() for r in server.requests]
    with_image = [b for b in bodies if isinstance(b["messages"][-1]["content"], list)]
    (body,) = with_image  # the photo went as an image; the sticker as words only
    url = body["messages"][-1]["content"][1]["image_url"]["url"]
    assert base64.b64decode(url.split(",", 1)[1])[:2] == b"\xff\xd8"

    log = twin(home, "sandbox", "log", env=env).stdout
    assert "[photo] look at my new bike" in log and "[sticker 😂]" in log
    lines = twin(home, "history", "--json", env=env).stdout.splitlines()
    rows = {json.loads(x)["incoming"]: json.loads(x) for x in lines}
    photo = rows["[photo] look at my new bike"]
    assert rows["[sticker 😂]"]["status"] == "answered" and photo["status"] == "answered"
    assert photo["extra"]["looked"][0]["given"] == "image"
    shown = twin(home, "show", str(photo["id"]), env=env).stdout
    assert "seen: the image itself" in shown
    assert twin(home, "stop", env=env).returncode == 0


def test_say_refuses_what_it_cannot_send(home, tmp_path) -> None:
    missing = twin(home, "sandbox", "say", "--photo", str(tmp_path / "nope.jpg"), "hi")
    assert missing.returncode == 1 and missing.stderr.startswith("error: --photo") and "No such file" in missing.stderr
    empty = twin(home, "sandbox", "say")
    assert empty.returncode == 1 and "nothing to say" in empty.stderr
    both = twin(home, "sandbox", "say", "--photo", str(tmp_path), "--sticker", "😂")
    assert both.returncode == 1 and "either --photo or --sticker" in both.stderr


async def test_history_shows_every_message_with_its_kind_and_the_owners_reaction(tmp_path) -> None:
    """As Telegram's history: a sticker, a photo and the twin's voice note are there, in words, with their kinds."""
    world = SandboxWorld(tmp_path / "sandbox")
    telegram = SandboxTelegram(world, tmp_path / "session.json", poll_s=0.01)
    chat = contact_id("Alice")
    sticker = world.say("Alice", "", media=world.sticker("😂"))
    photo = world.say("Alice", "my new bike", media=world.store_photo(b"\x89PNG fake", "bike.png"))
    voice = await telegram.send_voice(chat, VoiceNote(b"OggS...", 4.2), random_id=5)
    await telegram.react(chat, photo["id"], "🔥")

    got = await telegram.history(chat, 10)
    assert [(m.message_id, m.kind, m.outgoing, m.text, m.words, m.reaction) for m in got] == [
        (sticker["id"], "sticker", False, "[sticker 😂]", "", ""),
        (photo["id"], "photo", False, "[photo]\nmy new bike", "my new bike", "🔥"),
        (voice, "voice", True, "[voice message 0:04]", "", ""),
    ]
