"""The Telethon adapter over a never-connected TelegramClient whose MTProto sender is a fake.

The fake replaces the private `client._sender` (Telethon 1.45's MTProtoSender): everything above
it (request building, error classes, uploads, event dispatch) is Telethon's real code. Such tests
lean on private attributes, so they stay few and at the adapter level.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
import subprocess
import sys
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import rsa
from telethon import TelegramClient, errors, utils
from telethon.crypto import AuthKey
from telethon.crypto import rsa as telethon_rsa
from telethon.sessions import StringSession
from telethon.tl import functions, types

from twin.config import load
from twin.errors import AuthError, ConfigError, FloodWait, PeerFlood, PhoneInvalid, TelegramError
from twin.session.base import CodeSent
from twin.session.client import delete_session, secure_session
from twin.session.telethon import TelethonTelegram
from twin.types import Incoming, VoiceNote

SELF = 1000
T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
OWNER = types.User(id=SELF, is_self=True, access_hash=1, first_name="Owner", username="owner")
ALICE = types.User(id=42, access_hash=7, first_name="Alice", username="alice", contact=True)


class RpcFailure:
    """A scripted Telegram error, turned into Telethon's exception for the request that caused it."""

    def __init__(self, code: int, name: str) -> None:
        self.code, self.name = code, name


Outcome = Any  # a TL result, an RpcFailure, or a callable(request) -> either


class FakeSender:
    """Stands in for MTProtoSender: answers each request by its type from a script; records them all."""

    def __init__(self) -> None:
        self.script: dict[type, list[Outcome]] = {}
        self.requests: list[Any] = []
        self._gone: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.on(functions.users.GetUsersRequest, [OWNER])
        self.on(functions.updates.GetStateRequest, types.updates.State(pts=1, qts=0, date=T0, seq=1, unread_count=0))
        self.on(functions.updates.GetDifferenceRequest, types.updates.DifferenceEmpty(date=T0, seq=1))

    def on(self, request_type: type, *outcomes: Outcome) -> None:
        """Answer this request type with these outcomes in turn (the last one repeats)."""
        self.script[request_type] = list(outcomes)

    def sent(self, request_type: type) -> list[Any]:
        return [r for r in self.requests if isinstance(r, request_type)]

    def send(self, request: Any, ordered: bool = False) -> asyncio.Future[Any]:
        bytes(request)  # serialise as the real sender does: a malformed request fails here
        self.requests.append(request)
        outcomes = self.script[type(request)]
        outcome = outcomes.pop(0) if len(outcomes) > 1 else outcomes[0]
        if callable(outcome) and not isinstance(outcome, type):
            outcome = outcome(request)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        # Answer on a later turn of the loop, like a reply from the network: other tasks run meanwhile.
        if isinstance(outcome, RpcFailure):
            error = errors.rpc_message_to_error(types.RpcError(outcome.code, outcome.name), request)
            loop.call_soon(future.set_exception, error)
        elif asyncio.iscoroutine(outcome):  # a reply that arrives when the coroutine says
            task = loop.create_task(outcome)
            task.add_done_callback(lambda done: future.set_result(done.result()))
        else:
            loop.call_soon(future.set_result, outcome)
        return future

    async def connect(self, connection: Any) -> bool:
        return False  # "already connected": TelegramClient.connect() returns before any network

    def is_connected(self) -> bool:
        return not self._gone.done()

    async def disconnect(self) -> None:
        if not self._gone.done():
            self._gone.set_result(None)

    def drop(self) -> None:
        """The connection dies on its own (Telethon gave up reconnecting)."""
        self._gone.set_exception(ConnectionError("Connection to Telegram failed 5 time(s)"))

    @property
    def disconnected(self) -> asyncio.Future[None]:
        return asyncio.shield(self._gone)


Wired = tuple[TelethonTelegram, FakeSender]


def make_client(session: Any = None) -> TelegramClient:
    return TelegramClient(session or StringSession(), 1, "0" * 32, flood_sleep_threshold=0)


@pytest.fixture
async def wired() -> Wired:
    client = make_client()
    client._sender = sender = FakeSender()
    client.session.auth_key = AuthKey(b"\x01" * 256)  # a key exists: the saved session of a login
    client.session.process_entities(types.contacts.ResolvedPeer(types.PeerUser(42), [], [ALICE]))
    return TelethonTelegram(client, account="me"), sender


def test_importing_the_adapter_does_not_import_telethon() -> None:
    code = "import sys, twin.session.telethon, twin.session.login; print('telethon' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


async def test_send_text_passes_our_random_id_and_returns_the_new_id(wired: Wired) -> None:
    tg, sender = wired
    sender.on(functions.messages.SendMessageRequest,
              types.UpdateShortSentMessage(id=501, pts=2, pts_count=1, date=T0, out=True),
              lambda req: types.Updates(updates=[types.UpdateMessageID(id=502, random_id=req.random_id)],
                                        users=[], chats=[], date=T0, seq=0))

    assert await tg.send_text(42, "hello", random_id=123456789) == 501
    assert await tg.send_text(42, "again", random_id=-77, reply_to=9) == 502

    first, second = sender.sent(functions.messages.SendMessageRequest)
    assert (first.random_id, first.message, first.peer) == (123456789, "hello", types.InputPeerUser(42, 7))
    assert first.reply_to is None and first.entities is None
    assert second.random_id == -77 and second.reply_to == types.InputReplyToMessage(reply_to_msg_id=9)


async def test_random_id_duplicate_means_delivered_earlier(wired: Wired) -> None:
    tg, sender = wired
    sender.on(functions.messages.SendMessageRequest, RpcFailure(500, "RANDOM_ID_DUPLICATE"))

    assert await tg.send_text(42, "hello", random_id=5) == 0
    assert len(sender.sent(functions.messages.SendMessageRequest)) == 1  # no Telethon retry, no 2 s sleeps


async def test_flood_wait_and_other_errors(wired: Wired) -> None:
    tg, sender = wired
    sender.on(functions.messages.SendMessageRequest, RpcFailure(420, "FLOOD_WAIT_300"), RpcFailure(400, "PEER_FLOOD"),
              RpcFailure(403, "USER_IS_BLOCKED"))
    with pytest.raises(FloodWait) as flood:
        await tg.send_text(42, "a", random_id=1)
    assert flood.value.seconds == 300 and "try again in 5 min" in str(flood.value)
    with pytest.raises(PeerFlood):
        await tg.send_text(42, "b", random_id=2)
    with pytest.raises(TelegramError) as other:
        await tg.send_text(42, "c", random_id=3)
    assert str(other.value) == "USER_IS_BLOCKED" and other.value.__cause__ is None

    # Through client(...) too (flood_sleep_threshold=0 raises every wait): mark_read surfaces it ...
    sender.on(functions.messages.ReadHistoryRequest, RpcFailure(420, "FLOOD_WAIT_300"))
    with pytest.raises(FloodWait):
        await tg.mark_read(42, 10)
    # ... while typing, being cosmetic, swallows it.
    sender.on(functions.messages.SetTypingRequest, RpcFailure(420, "FLOOD_WAIT_30"))
    await tg.action(42, "typing")
    assert isinstance(sender.sent(functions.messages.SetTypingRequest)[0].action, types.SendMessageTypingAction)


async def test_send_voice_is_a_voice_note(wired: Wired) -> None:
    tg, sender = wired
    sender.on(functions.upload.SaveFilePartRequest, True)
    sender.on(functions.messages.SendMediaRequest, lambda req: types.Updates(
        updates=[types.UpdateMessageID(id=777, random_id=req.random_id)], users=[], chats=[], date=T0, seq=0))
    note = VoiceNote(data=b"OggS" + b"\x00" * 3000, duration_s=1.6, waveform=(0, 5, 31, 12, 40))

    assert await tg.send_voice(42, note, random_id=99) == 777

    (part,) = sender.sent(functions.upload.SaveFilePartRequest)
    assert part.bytes == note.data
    (request,) = sender.sent(functions.messages.SendMediaRequest)
    media = request.media
    assert request.random_id == 99 and request.message == ""
    assert isinstance(media, types.InputMediaUploadedDocument) and media.mime_type == "audio/ogg"
    assert media.file.name == "voice.ogg"
    (audio,) = media.attributes
    assert isinstance(audio, types.DocumentAttributeAudio) and audio.voice is True and audio.duration == 2
    assert audio.waveform and audio.waveform == utils.encode_waveform(bytes([0, 5, 31, 12, 31]))


async def test_history_oldest_first_and_download_checks_size_first(wired: Wired) -> None:
    tg, sender = wired
    doc = types.Document(id=1, access_hash=2, file_reference=b"", date=T0, mime_type="audio/ogg", size=12_345, dc_id=2,
                         attributes=[types.DocumentAttributeAudio(duration=3, voice=True)])
    voice = types.Message(id=12, peer_id=types.PeerUser(42), date=T0, message="",
                          media=types.MessageMediaDocument(document=doc, voice=True))
    newest = types.Message(id=13, peer_id=types.PeerUser(42), date=T0, message="and you?", out=True)
    oldest = types.Message(id=11, peer_id=types.PeerUser(42), date=T0, message="how are you")
    seen = types.Message(id=10, peer_id=types.PeerUser(42), date=T0, message="already stored")
    sender.on(functions.messages.GetHistoryRequest,
              types.messages.Messages(messages=[newest, voice, oldest, seen], topics=[], chats=[], users=[ALICE]))

    # Telethon sends min_id=0 and drops ids <= min_id itself; either way "seen" must not come back.
    got = await tg.history(42, limit=20, min_id=10)
    assert [(m.message_id, m.outgoing, m.kind, m.text) for m in got] == [
        (11, False, "text", "how are you"), (12, False, "voice", "[voice message 0:03]"),
        (13, True, "text", "and you?")]

    sender.on(functions.messages.GetMessagesRequest,
              types.messages.Messages(messages=[voice], topics=[], chats=[], users=[ALICE]))
    with pytest.raises(TelegramError, match="12345 bytes, over the 1000 byte limit"):
        await tg.download(42, 12, max_bytes=1000)
    assert not sender.sent(functions.upload.GetFileRequest)  # refused before downloading anything


async def test_start_incoming_and_stop(wired: Wired) -> None:
    tg, sender = wired
    me = await tg.start()
    assert me.id == SELF and me.username == "owner"

    stream = tg.incoming()
    text = types.Message(id=10, peer_id=types.PeerUser(42), date=T0, message="hi")
    service = types.MessageService(id=11, peer_id=types.PeerUser(42), date=T0,
                                   action=types.MessageActionContactSignUp())
    for message in (text, service):
        update = types.UpdateNewMessage(message=message, pts=2, pts_count=1)
        update._entities = {42: ALICE}  # what Telethon's update loop attaches
        await tg.client._dispatch_update(update)

    first: Incoming = await anext(stream)
    assert (first.chat_id, first.message_id, first.text, first.kind) == (42, 10, "hi", "text")
    assert first.sender_name == "Alice" and first.sender_is_contact
    second = await anext(stream)
    assert (second.message_id, second.kind) == (11, "service")

    await tg.stop()
    with pytest.raises(StopAsyncIteration):
        await anext(stream)


async def test_backlog_delivered_while_start_checks_the_session_is_kept(wired: Wired) -> None:
    tg, sender = wired
    earlier = types.Message(id=9, peer_id=types.PeerUser(42), date=T0, message="earlier")
    backlog = types.UpdateNewMessage(message=earlier, pts=2, pts_count=1)
    backlog._entities = {42: ALICE}

    dispatched: list[asyncio.Task[None]] = []

    async def slow_reply() -> list[types.User]:
        for _ in range(50):  # loop turns, not time: the update loop runs meanwhile
            await asyncio.sleep(0)
        return [OWNER]

    def me_after_catch_up(request: Any) -> Any:
        # catch_up: Telethon's update loop dispatches the backlog before get_me() has answered.
        if dispatched:
            return [OWNER]
        dispatched.append(asyncio.get_running_loop().create_task(tg.client._dispatch_update(backlog)))
        return slow_reply()

    sender.on(functions.users.GetUsersRequest, me_after_catch_up)
    await tg.start()
    got = await asyncio.wait_for(anext(tg.incoming()), 5)
    assert got.text == "earlier" and got.sender_id == 42 and not got.sender_is_self
    await tg.stop()


async def test_lost_connection_ends_incoming_with_an_error(wired: Wired) -> None:
    tg, sender = wired
    await tg.start()
    stream = tg.incoming()
    sender.drop()
    with pytest.raises(TelegramError, match="disconnected"):
        await asyncio.wait_for(anext(stream), 5)


async def test_start_without_login_is_an_auth_error() -> None:
    client = make_client()
    client._sender = sender = FakeSender()
    with pytest.raises(AuthError, match="not logged in for account bob: run `twin login`"):
        await TelethonTelegram(client, account="bob").start()
    assert sender.requests == []  # no key, no network

    client.session.auth_key = AuthKey(b"\x02" * 256)  # a key Telegram no longer knows (revoked)
    sender.on(functions.users.GetUsersRequest, RpcFailure(401, "SESSION_REVOKED"))
    with pytest.raises(AuthError, match="not logged in for account bob"):
        await TelethonTelegram(client, account="bob").start()


async def test_login_errors_never_echo_the_phone(wired: Wired) -> None:
    tg, sender = wired
    sender.on(functions.auth.SendCodeRequest, RpcFailure(400, "PHONE_NUMBER_INVALID"),
              types.auth.SentCode(type=types.auth.SentCodeTypeSms(length=5), phone_code_hash="h1"),
              RpcFailure(420, "FLOOD_WAIT_3600"))
    with pytest.raises(PhoneInvalid) as invalid:
        await tg.send_code("+15550100")
    assert "5550100" not in str(invalid.value) and invalid.value.__cause__ is None
    assert await tg.send_code("+15550102") == CodeSent("h1", "sms")
    with pytest.raises(FloodWait, match="try again in 60 min"):
        await tg.send_code("+15550101")
    # Telethon remembers the wait per request type and refuses locally until it is over.
    with pytest.raises(FloodWait):
        await tg.send_code("+15550103")
    assert len(sender.sent(functions.auth.SendCodeRequest)) == 3

    sender.on(functions.users.GetUsersRequest, RpcFailure(401, "AUTH_KEY_UNREGISTERED"))
    sender.on(functions.auth.SignInRequest, RpcFailure(401, "SESSION_PASSWORD_NEEDED"))
    assert await tg.sign_in_code("+15550102", "12345", CodeSent("h1")) is None  # 2FA comes next


def settings_for(home: Path, **overrides: Any) -> Any:
    values = {"telegram.api_id": 12345, **overrides}
    return load(home=home, account="acct", env={"TWIN_API_HASH": "f" * 32}, overrides=values)


@pytest.fixture
def rsa_keys(monkeypatch: pytest.MonkeyPatch) -> dict[int, Any]:
    keys = dict(telethon_rsa._server_keys)  # add_key mutates a module global: give the test its own
    monkeypatch.setattr(telethon_rsa, "_server_keys", keys)
    return keys


@pytest.mark.parametrize("form", ["pkcs1", "x509"])
def test_custom_server_and_key_reach_the_client(tmp_path: Path, rsa_keys: dict[int, Any], form: str) -> None:
    public, _ = rsa.newkeys(512)
    pem = tmp_path / "server.pem"
    pem.write_bytes(public.save_pkcs1() if form == "pkcs1" else _x509_pem(public))
    assert telethon_rsa._compute_fingerprint(public) not in rsa_keys

    tg = TelethonTelegram.from_settings(settings_for(
        tmp_path, **{"telegram.server": "127.0.0.1:4430", "telegram.dc_id": 3, "telegram.public_key": str(pem)}))
    session = tg.client.session
    assert (session.server_address, session.port, session.dc_id) == ("127.0.0.1", 4430, 3)
    assert telethon_rsa._compute_fingerprint(public) in rsa_keys
    assert tg.client.api_id == 12345 and tg.client.flood_sleep_threshold == 0
    session.close()


def _x509_pem(public: rsa.PublicKey) -> bytes:
    """The 'BEGIN PUBLIC KEY' form that `openssl rsa -pubout` writes."""
    from pyasn1.codec.der import encoder
    from pyasn1.type import univ
    from rsa import pem
    from rsa.asn1 import OpenSSLPubKey

    info = OpenSSLPubKey()
    info["header"]["oid"] = univ.ObjectIdentifier("1.2.840.113549.1.1.1")
    info["header"]["parameters"] = univ.Null("")
    info["key"] = univ.BitString.fromOctetString(public.save_pkcs1("DER"))
    return pem.save_pem(encoder.encode(info), "PUBLIC KEY")


def test_config_errors_are_one_clear_line(tmp_path: Path, rsa_keys: dict[int, Any]) -> None:
    with pytest.raises(ConfigError, match=r"^set telegram.api_id and TWIN_API_HASH from my.telegram.org$"):
        TelethonTelegram.from_settings(load(home=tmp_path, env={}))
    missing = tmp_path / "nope.pem"
    with pytest.raises(ConfigError, match="nope.pem"):
        TelethonTelegram.from_settings(settings_for(
            tmp_path, **{"telegram.server": "10.0.0.1:443", "telegram.public_key": str(missing)}))
    with pytest.raises(ConfigError, match="telegram.server"):
        TelethonTelegram.from_settings(settings_for(tmp_path, **{"telegram.server": "10.0.0.1"}))


async def test_session_file_ends_0600_in_a_0700_dir(tmp_path: Path) -> None:
    sessions = tmp_path / "sessions"
    sessions.mkdir(mode=0o755)
    tg = TelethonTelegram.from_settings(settings_for(tmp_path))
    path = tmp_path / "sessions" / "acct.session"
    journal = path.with_name(path.name + "-journal")
    assert mode(sessions) == 0o700 and mode(path) == 0o600  # before Telethon ever wrote to it

    tg.client._sender = sender = FakeSender()
    os.chmod(path, 0o644)  # e.g. restored from a backup
    await tg.connect()
    assert mode(path) == 0o600

    # SQLite gives its rollback journal the database file's mode: mid-write, it is 0600 too.
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("BEGIN IMMEDIATE")
        db.execute("UPDATE version SET version = version")
        assert mode(journal) == 0o600
        db.execute("ROLLBACK")

    sender.on(functions.users.GetUsersRequest, RpcFailure(401, "AUTH_KEY_UNREGISTERED"))
    sender.on(functions.auth.SignInRequest, types.auth.Authorization(user=OWNER))
    os.chmod(path, 0o644)
    me = await tg.sign_in_code("+15550100", "12345", CodeSent("h1"))
    assert me is not None and me.id == SELF and mode(path) == 0o600

    os.chmod(path, 0o644)
    await tg.stop()
    assert mode(path) == 0o600 and path.stat().st_size > 0  # Telethon saved the session into it


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_secure_session_covers_the_side_files(tmp_path: Path) -> None:
    folder = tmp_path / "s"
    folder.mkdir()
    path = folder / "a.session"
    for name in ("a.session", "a.session-journal", "a.session-wal"):
        (folder / name).write_bytes(b"x")
        os.chmod(folder / name, 0o644)
    secure_session(path)
    assert {p.name: mode(p) for p in folder.iterdir()} == dict.fromkeys(
        ["a.session", "a.session-journal", "a.session-wal"], 0o600)
    delete_session(path)
    assert list(folder.iterdir()) == []

