"""Telethon's client built from Settings, its session file kept private, its errors in twin's words.

Telethon is imported inside the functions: importing this module costs nothing.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from twin.config import Settings
from twin.errors import (
    AuthError,
    CodeExpired,
    CodeInvalid,
    ConfigError,
    Disconnected,
    FloodWait,
    PasswordInvalid,
    PeerFlood,
    PhoneInvalid,
    TelegramError,
    TwinError,
)

log = logging.getLogger(__name__)

SESSION_SUFFIXES = ("", "-journal", "-wal", "-shm")
# Telethon keeps the users and chats it meets in memory (their access hashes) until this many, then saves
# them to the session file and keeps only what update handling needs (its default is 5,000).
ENTITY_CACHE_LIMIT = 1000


def session_files(path: Path) -> list[Path]:
    """The session database and the SQLite side files that may sit beside it."""
    return [path.with_name(path.name + suffix) for suffix in SESSION_SUFFIXES]


def secure_session(path: Path | None) -> None:
    """Make the session file (full access to the account) and its side files owner-only."""
    if path is None:
        return
    for file in session_files(path):
        try:
            os.chmod(file, 0o600)
        except FileNotFoundError:
            continue


def delete_session(path: Path | None) -> None:
    """Remove the session file and its side files."""
    if path is None:
        return
    for file in session_files(path):
        file.unlink(missing_ok=True)


def parse_server(server: str) -> tuple[str, int]:
    """'host:port' (IPv6 as '[::1]:443') -> (host, port); ConfigError naming the setting."""
    host, sep, port = server.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"setting 'telegram.server' must be host:port, got '{server}'")
    return host, int(port)


def load_server_key(path: str) -> None:
    """Add a custom server's RSA public key (PEM, PKCS#1 or X.509) to Telethon's key table."""
    import rsa  # Telethon's own dependency, for the X.509 form it does not read itself
    from telethon.crypto import rsa as telethon_rsa

    try:
        pem = Path(path).expanduser().read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read telegram.public_key '{path}': {exc.strerror or exc}") from None
    try:
        if b"BEGIN PUBLIC KEY" in pem:  # what `openssl rsa -pubout` writes
            pem = rsa.PublicKey.load_pkcs1_openssl_pem(pem).save_pkcs1()
        telethon_rsa.add_key(pem.decode("ascii"), old=False)
    except (ValueError, UnicodeDecodeError, IndexError, TypeError) as exc:
        raise ConfigError(f"telegram.public_key '{path}' is not an RSA public key in PEM form ({exc})") from None


def open_session(path: Path) -> Any:
    """Telethon's SQLiteSession at path, in a 0700 directory, created 0600 before SQLite opens it."""
    from telethon.sessions import SQLiteSession

    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    # Pre-creating the file 0600 also covers SQLite's journal: SQLite copies the db file's mode.
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    secure_session(path)
    return SQLiteSession(str(path))


def point_at_server(session: Any, dc_id: int, host: str, port: int) -> None:
    """Aim a session at a custom MTProto server before the first connection."""
    if session.auth_key is not None and session.dc_id not in (0, dc_id):
        # Logged in and Telegram moved the account to another DC of this server (PHONE_MIGRATE on
        # the test servers): the key belongs to that DC, so keep it rather than reset the address.
        log.info("session is on DC %s of the custom server; keeping it", session.dc_id)
        return
    session.set_dc(dc_id, host, port)


def build_client(settings: Settings) -> Any:
    """A TelegramClient for this account's session file, aimed at the configured server."""
    tg = settings.telegram
    if not tg.api_id or not tg.api_hash:
        raise ConfigError("set telegram.api_id and TWIN_API_HASH from my.telegram.org")
    server = parse_server(tg.server) if tg.server else None
    if server and tg.public_key:
        load_server_key(tg.public_key)
    from twin.session.reconnect import CatchingUpClient

    session = open_session(settings.session_path)
    if server:
        point_at_server(session, tg.dc_id, *server)
    return CatchingUpClient(
        session,
        tg.api_id,
        tg.api_hash.reveal(),
        # 0 by default: every FloodWait reaches the queue, which pauses the whole sender.
        flood_sleep_threshold=tg.flood_sleep_threshold,
        # Updates one at a time, so a chat's messages reach the queue in the order they were sent.
        sequential_updates=True,
        # Messages that arrived while the twin was down are delivered on start (rules mark them stale).
        catch_up=True,
        entity_cache_limit=ENTITY_CACHE_LIMIT,
    )


def rpc_name(exc: BaseException) -> str:
    """Telegram's name for an RPC error (PEER_FLOOD), without the request that caused it."""
    from telethon import errors

    for name, cls in errors.rpc_errors_dict.items():
        if type(exc) is cls:
            return str(name)
    for pattern, cls in errors.rpc_errors_re:
        if type(exc) is cls:
            return str(pattern).replace("(\\d+)", "X")
    return str(getattr(exc, "message", None) or type(exc).__name__)


def twin_error(exc: BaseException, account: str = "default") -> TwinError | None:
    """Telethon's exception as twin's (one line, no request dump), or None when it is not Telegram's."""
    from telethon import errors

    if isinstance(exc, TwinError):
        return exc
    if isinstance(exc, errors.FloodWaitError | errors.FloodPremiumWaitError | errors.SlowModeWaitError
                  | errors.FloodTestPhoneWaitError):
        return FloodWait(int(exc.seconds))
    if isinstance(exc, errors.PeerFloodError):
        return PeerFlood("Telegram limited this account (PEER_FLOOD): sending stopped; see @SpamBot")
    if isinstance(exc, errors.UnauthorizedError | errors.AuthKeyDuplicatedError | errors.AuthKeyNotFound):
        return AuthError(f"the session of account {account} is no longer valid: run `twin login`")
    if isinstance(exc, errors.RPCError):
        return TelegramError(rpc_name(exc))
    if isinstance(exc, ConnectionError | TimeoutError):
        return Disconnected("disconnected")
    return None


def login_error(exc: BaseException) -> TwinError | None:
    """The errors of signing in, as prompts a person can act on; never echoes phone, code or password."""
    from telethon import errors

    table: list[tuple[Any, TwinError]] = [
        (errors.PhoneNumberInvalidError,
         PhoneInvalid("Telegram does not accept that phone number: use the international form, e.g. +44 7700 900123")),
        (errors.PhoneCodeInvalidError | errors.PhoneCodeEmptyError, CodeInvalid("that code is not right")),
        (errors.PhoneCodeExpiredError, CodeExpired("the login code expired")),
        (errors.PasswordHashInvalidError | errors.PasswordEmptyError, PasswordInvalid("that password is not right")),
        (errors.PhoneNumberBannedError, AuthError("Telegram has banned that phone number")),
        (errors.PhoneNumberUnoccupiedError,
         AuthError("no Telegram account uses that phone number: sign up in an official app first")),
        (errors.PhoneNumberFloodError | errors.PhonePasswordFloodError,
         AuthError("too many login attempts for this number: try again later")),
    ]
    for cls, mapped in table:
        if isinstance(exc, cls):
            return mapped
    return twin_error(exc)


@contextmanager
def telegram_errors(account: str = "default", *, login: bool = False) -> Iterator[None]:
    """Re-raise Telethon's exceptions as twin's; `from None` keeps the request (and its secrets) out."""
    try:
        yield
    except TwinError:
        raise
    except Exception as exc:
        mapped = login_error(exc) if login else twin_error(exc, account)
        if mapped is None:
            raise
        log.debug("telegram error %s mapped to %s", type(exc).__name__, type(mapped).__name__)
        raise mapped from None
