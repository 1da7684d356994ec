"""Fakes for every seam: scripted input, recorded output. Assert on what they recorded."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from twin.errors import Disconnected, ProviderError, TelegramError
from twin.session.base import Action, Dialog, history_message
from twin.types import Completion, HistoryMessage, Incoming, Me, Media, Prompt, Update, VoiceNote

T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)  # a Monday
DROP = "drop"  # queued into FakeTelegram: the connection is lost at that point


class Crash(BaseException):
    """The process dies here (SIGKILL, OOM): nothing after it runs, not even `except Exception`."""


class FakeClock:
    """Settable now. With auto=True a sleep advances time at once; else it waits for advance()."""

    def __init__(self, start: datetime = T0, *, auto: bool = True) -> None:
        self._now = start
        self.auto = auto
        self.slept: list[float] = []
        self._waiters: list[tuple[datetime, asyncio.Future[None]]] = []

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when
        self._wake()

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        if self.auto:
            self._now += timedelta(seconds=max(0.0, seconds))
            await asyncio.sleep(0)
            return
        deadline = self._now + timedelta(seconds=max(0.0, seconds))
        if deadline <= self._now:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((deadline, future))
        await future

    async def advance(self, seconds: float) -> None:
        """Move time forward, waking sleepers in deadline order and letting them run."""
        target = self._now + timedelta(seconds=seconds)
        while True:
            pending = sorted(((d, f) for d, f in self._waiters if not f.done() and d <= target), key=lambda p: p[0])
            if not pending:
                break
            self._now = max(self._now, pending[0][0])
            self._wake()
            for _ in range(20):
                await asyncio.sleep(0)
        self._now = target
        for _ in range(20):
            await asyncio.sleep(0)

    def _wake(self) -> None:
        keep = []
        for deadline, future in self._waiters:
            if deadline <= self._now and not future.done():
                future.set_result(None)
            elif not future.done():
                keep.append((deadline, future))
        self._waiters = keep


class FakeLLM:
    """Scripted completions (text, None for empty, or an exception); records every prompt.

    structured=True: it says it can answer in JSON (Prompt.structured), as Gemini and OpenAI do.
    """

    provider = "fake"

    def __init__(self, *replies: str | None | Exception, model: str = "fake-1", default: str | None = "ok",
                 vision: bool = False, structured: bool = False) -> None:
        self.model = model
        self.vision = vision  # a vision model sees the prompt's images (Completion.images counts them)
        self.structured = structured
        self.script: list[str | None | Exception] = list(replies)
        self.default = default
        self.prompts: list[Prompt] = []

    def enqueue(self, *replies: str | None | Exception) -> None:
        self.script.extend(replies)

    async def complete(self, prompt: Prompt) -> Completion:
        self.prompts.append(prompt)
        reply = self.script.pop(0) if self.script else self.default
        if isinstance(reply, Exception):
            raise reply
        if reply is None:
            return Completion(None, self.provider, self.model, reason="empty response")
        images = sum(len(m.images) for m in prompt.messages) if self.vision else 0
        return Completion(reply, self.provider, self.model,
                          tokens_in=len(prompt.system) // 4, tokens_out=len(reply) // 4, images=images)


def provider_500() -> ProviderError:
    return ProviderError("fake provider: HTTP 500", retryable=True, status=500)


class DownLLM(FakeLLM):
    """A FakeLLM whose provider can be down: while `down` is true every call raises a retryable error
    (503 and connection resets in turn). Records each call as (time, was it down). numbered=True: its
    default answers are numbered, as a person's replies differ (the same reply twice in a chat is held
    as unsendable)."""

    def __init__(self, clock: FakeClock, *replies: str | None | Exception, provider: str = "fake",
                 model: str = "fake-1", default: str | None = "ok", numbered: bool = False) -> None:
        super().__init__(*replies, model=model, default=default)
        self.numbered = numbered
        self.provider = provider
        self.clock = clock
        self.down = False
        self.calls: list[tuple[datetime, bool]] = []

    @property
    def calls_while_down(self) -> int:
        return sum(1 for _, down in self.calls if down)

    async def complete(self, prompt: Prompt) -> Completion:
        self.calls.append((self.clock.now(), self.down))
        if self.down:
            if self.calls_while_down % 2:
                raise ProviderError(f"{self.provider}: HTTP 503 unavailable", retryable=True, status=503)
            raise ProviderError(f"{self.provider}: connection reset (ConnectionResetError)", retryable=True)
        if self.numbered and not self.script and self.default is not None:
            self.script.append(f"{self.default} {len(self.prompts) + 1}")
        return await super().complete(prompt)


@dataclass
class Sent:
    chat_id: int
    text: str | None
    random_id: int
    message_id: int
    reply_to: int | None = None
    voice: VoiceNote | None = None


@dataclass
class FakeTelegram:
    """Incoming messages pushed by the test; everything sent is recorded. Drops duplicate random_ids."""

    me: Me = field(default_factory=lambda: Me(id=1000, name="Owner", username="owner"))
    histories: dict[int, list[HistoryMessage]] = field(default_factory=dict)
    dialog_list: list[Dialog] = field(default_factory=list)
    media: dict[tuple[int, int], bytes] = field(default_factory=dict)
    sent: list[Sent] = field(default_factory=list)
    actions: list[tuple[int, Action]] = field(default_factory=list)
    reads: list[tuple[int, int]] = field(default_factory=list)
    history_calls: list[tuple[int, int, int]] = field(default_factory=list)
    downloads: list[tuple[int, int]] = field(default_factory=list)
    send_errors: list[Exception | None] = field(default_factory=list)  # None: this send goes through
    reactions: list[tuple[int, int, str]] = field(default_factory=list)  # (chat, message, emoji)
    react_errors: list[Exception] = field(default_factory=list)
    started: bool = False
    # Like Telegram with the twin's own sends: each comes back through incoming() as an outgoing message
    # (as a catch-up replays it) and is in the chat's history. Off by default.
    echo: bool = False
    lost_answers: list[BaseException] = field(default_factory=list)  # raised after a send went out
    forgotten: bool = False  # the server forgot the session: pushes wait until catch_up()
    clock: FakeClock | None = None  # dates of echoes and catch-ups (else T0 / now)

    def __post_init__(self) -> None:
        self._queue: asyncio.Queue[Update | str | None] = asyncio.Queue()
        self.starts = 0
        self.fail_starts = 0
        self._last_id = 0  # message ids grow like a private chat's: after whatever was pushed
        self._random_ids: set[int] = set()
        self._held: list[Update] = []
        self.catch_ups = 0
        self._last_catch_up: datetime | None = None

    def push(self, *messages: Update) -> None:
        """Messages (and edits, deletions, typing) as Telegram would deliver them, in order."""
        for m in messages:
            if isinstance(m, Incoming):
                self._last_id = max(self._last_id, m.message_id)
            if self.forgotten:
                self._held.append(m)
            else:
                self._queue.put_nowait(m)

    async def catch_up(self) -> None:
        """The difference: what a forgotten session missed comes now."""
        self.catch_ups += 1
        self._last_catch_up = self._now()
        self.forgotten = False
        held, self._held = self._held, []
        for m in held:
            self._queue.put_nowait(m)

    @property
    def last_catch_up(self) -> datetime | None:
        return self._last_catch_up

    def _now(self) -> datetime:
        return self.clock.now() if self.clock else T0

    def echo_of(self, sent: Sent) -> Incoming:
        """The outgoing message a send became, as the account sees it come back."""
        return Incoming(chat_id=sent.chat_id, message_id=sent.message_id, sender_id=self.me.id, date=self._now(),
                        text=sent.text or "", kind="text" if sent.voice is None else "voice",
                        sender_name=self.me.name, outgoing=True, sender_is_self=True)

    def close(self) -> None:
        self._queue.put_nowait(None)

    def drop(self, failed_reconnects: int = 0) -> None:
        """Lose the connection now; the next `failed_reconnects` starts fail too."""
        self._queue.put_nowait(DROP)
        self.fail_starts = failed_reconnects

    async def start(self) -> Me:
        self.starts += 1
        if self.fail_starts > 0:
            self.fail_starts -= 1
            raise Disconnected("cannot reach Telegram (fake)")
        self.started = True
        pending: list[Update | str] = []
        while not self._queue.empty():  # drop the sentinels a previous stop() or drop() left
            item = self._queue.get_nowait()
            if item is not None and item != DROP:
                pending.append(item)
        for item in pending:
            self._queue.put_nowait(item)
        return self.me

    async def stop(self) -> None:
        self.started = False
        self.close()

    async def incoming(self) -> AsyncIterator[Update]:
        while True:
            item = await self._queue.get()
            if item is None:
                return
            if item == DROP:
                raise Disconnected("connection lost (fake)")
            assert not isinstance(item, str)
            yield item

    def _next_id(self) -> int:
        self._last_id += 1
        return self._last_id

    def _record(self, sent: Sent) -> int:
        error = self.send_errors.pop(0) if self.send_errors else None
        if error is not None:
            raise error
        if sent.random_id in self._random_ids:
            return 0  # Telegram drops a duplicate random_id
        self._random_ids.add(sent.random_id)
        self.sent.append(sent)
        if self.echo:
            shown = history_message(sent.message_id, self._now(), True, sent.text or "", self.me.id,
                                    "voice" if sent.voice else "text",
                                    Media("voice", "audio/ogg", 0, sent.voice.duration_s)
                                    if sent.voice else None)
            if shown is not None:  # a voice note is in the history too, as "[voice message]"
                self.histories.setdefault(sent.chat_id, []).append(shown)
            self.push(self.echo_of(sent))
        if self.lost_answers:
            raise self.lost_answers.pop(0)
        return sent.message_id

    async def send_text(self, chat_id: int, text: str, *, random_id: int, reply_to: int | None = None) -> int:
        if len(text) > 4096:
            raise TelegramError("MESSAGE_TOO_LONG")
        return self._record(Sent(chat_id, text, random_id, self._next_id(), reply_to))

    async def send_voice(self, chat_id: int, note: VoiceNote, *, random_id: int, reply_to: int | None = None) -> int:
        return self._record(Sent(chat_id, None, random_id, self._next_id(), reply_to, note))

    async def action(self, chat_id: int, action: Action) -> None:
        self.actions.append((chat_id, action))

    async def mark_read(self, chat_id: int, max_id: int) -> None:
        self.reads.append((chat_id, max_id))

    async def react(self, chat_id: int, message_id: int, emoji: str) -> None:
        if self.react_errors:
            raise self.react_errors.pop(0)
        self.reactions.append((chat_id, message_id, emoji))

    async def history(self, chat_id: int, limit: int, min_id: int = 0) -> list[HistoryMessage]:
        self.history_calls.append((chat_id, limit, min_id))
        msgs = [m for m in self.histories.get(chat_id, []) if m.message_id > min_id]
        return msgs[-limit:]

    async def dialogs(self, limit: int) -> list[Dialog]:
        return self.dialog_list[:limit]

    async def download(self, chat_id: int, message_id: int, max_bytes: int) -> bytes:
        self.downloads.append((chat_id, message_id))
        data = self.media[(chat_id, message_id)]
        if len(data) > max_bytes:
            raise TelegramError(f"media is {len(data)} bytes, over the {max_bytes} byte limit")
        return data


class FakeSTT:
    provider = "fake"

    def __init__(self, transcript: str = "hello there") -> None:
        self.transcript = transcript
        self.calls: list[tuple[int, str, str | None]] = []

    async def transcribe(self, audio: bytes, *, mime: str, language: str | None = None) -> str:
        self.calls.append((len(audio), mime, language))
        return self.transcript


class FakeTTS:
    provider = "fake"

    def __init__(self, audio: bytes = b"OggS fake") -> None:
        self.audio = audio
        self.texts: list[str] = []

    async def synthesize(self, text: str) -> bytes:
        self.texts.append(text)
        return self.audio


def incoming(text: str = "hi", *, chat_id: int = 42, message_id: int = 1, sender_id: int | None = None,
             date: datetime = T0, **kw: object) -> Incoming:
    """A private text message from a person, with overridable fields."""
    values: dict[str, object] = {
        "chat_id": chat_id, "message_id": message_id, "sender_id": chat_id if sender_id is None else sender_id,
        "date": date, "text": text, "sender_name": "Alice", "chat_title": "Alice",
    }
    values.update(kw)
    return Incoming(**values)  # type: ignore[arg-type]


# --- login ---------------------------------------------------------------------------------
# Appended after the other fakes, so its imports sit here rather than at the top.
from twin.errors import CodeExpired, CodeInvalid, FloodWait, PasswordInvalid, PhoneInvalid  # noqa: E402
from twin.session.base import CodeSent  # noqa: E402


@dataclass
class FakeLoginClient:
    """Telegram's login, scripted: which codes are valid, 2FA, an expiring first code, flood, bad phone.

    The n-th code sent is codes[n] (the last one repeats). Every call is recorded in `calls`, with
    what it was given, so a test can check what the flow sent, and that the UI never saw it.
    """

    me: Me = field(default_factory=lambda: Me(id=1000, name="Owner", username="owner"))
    authorised: bool = False
    codes: tuple[str, ...] = ("12345",)
    password: str | None = None  # the 2FA password; None: the account has none
    expire_first: bool = False  # signing in with the first code sent raises CodeExpired
    flood_seconds: int = 0  # send_code raises FloodWait(flood_seconds)
    invalid_phone: bool = False  # send_code raises PhoneInvalid
    via: str = "app"
    calls: list[tuple[str, ...]] = field(default_factory=list)
    connected: bool = False
    logged_out: bool = False

    def __post_init__(self) -> None:
        self._sent = 0  # how many codes were sent
        self._needs_password = False

    def _code(self, n: int) -> str:
        return self.codes[min(n, len(self.codes) - 1)]

    async def connect(self) -> None:
        self.calls.append(("connect",))
        self.connected = True

    async def current_user(self) -> Me | None:
        self.calls.append(("current_user",))
        return self.me if self.authorised else None

    async def send_code(self, phone: str) -> CodeSent:
        self.calls.append(("send_code", phone))
        if self.invalid_phone:
            raise PhoneInvalid("Telegram does not accept that phone number")
        if self.flood_seconds:
            raise FloodWait(self.flood_seconds, "login code")
        self._sent += 1
        return CodeSent(phone_code_hash=f"hash-{self._sent}", via=self.via)

    async def sign_in_code(self, phone: str, code: str, sent: CodeSent) -> Me | None:
        self.calls.append(("sign_in_code", phone, code, sent.phone_code_hash))
        if sent.phone_code_hash != f"hash-{self._sent}":
            raise AssertionError(f"signed in with a stale code hash {sent.phone_code_hash}")
        if self.expire_first and self._sent == 1:
            raise CodeExpired("the login code expired")
        if code != self._code(self._sent - 1):
            raise CodeInvalid("that code is not right")
        if self.password is not None:
            self._needs_password = True
            return None
        self.authorised = True
        return self.me

    async def sign_in_password(self, password: str) -> Me:
        self.calls.append(("sign_in_password", password))
        if not self._needs_password:
            raise AssertionError("password asked for before a valid code")
        if password != self.password:
            raise PasswordInvalid("that password is not right")
        self.authorised = True
        return self.me

    async def log_out(self) -> None:
        self.calls.append(("log_out",))
        self.authorised = False
        self.logged_out = True

    async def disconnect(self) -> None:
        self.calls.append(("disconnect",))
        self.connected = False
