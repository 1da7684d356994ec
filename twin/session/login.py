"""The login conversation (phone, code, 2FA password), over any LoginClient and any UI.

Nothing the user types (phone number, code, password) is ever echoed, raised or logged.
"""

from __future__ import annotations

import re
from typing import Protocol

from twin.errors import AuthError, CodeExpired, CodeInvalid, PasswordInvalid, PhoneInvalid
from twin.session.base import CodeSent, LoginClient
from twin.types import Me

PASSWORD_TRIES = 3
VIA_TEXT = {
    "app": "in your Telegram app", "sms": "by SMS", "call": "by a phone call",
    "flash call": "by a flash call", "missed call": "as a missed call (the code is the last digits)",
    "email": "by email", "fragment": "on Fragment",
}
_SEPARATORS = re.compile(r"[\s\-().]")


class LoginUI(Protocol):
    """How the login flow talks to a person (the CLI's prompts, or a script in tests)."""

    def ask(self, prompt: str, *, hidden: bool = False) -> str:
        """Ask for a line of input; hidden input is not echoed."""
        ...

    def confirm(self, prompt: str) -> bool:
        """Ask a yes/no question."""
        ...

    def say(self, text: str) -> None:
        """Tell the person something."""
        ...


def normalise_phone(raw: str) -> str:
    """A phone number without spaces, dashes, dots or brackets ('+44 7700-900123' -> '+447700900123')."""
    return _SEPARATORS.sub("", raw.strip())


def normalise_code(raw: str) -> str:
    """A login code without the spaces or dashes people type in it."""
    return _SEPARATORS.sub("", raw.strip())


async def login(client: LoginClient, ui: LoginUI, *, phone: str | None = None, code_tries: int = 3) -> Me:
    """Log the account in (or return who is already logged in); connects and disconnects itself."""
    await client.connect()
    try:
        me = await client.current_user()
        if me is not None:
            return me
        raw = phone if phone else ui.ask("Phone number (international format, e.g. +44 7700 900123)")
        number = normalise_phone(raw)
        if not number:
            raise PhoneInvalid("no phone number given")
        me = await _sign_in_with_code(client, ui, number, code_tries)
        return me if me is not None else await _sign_in_with_password(client, ui)
    finally:
        await client.disconnect()


async def logout(client: LoginClient) -> None:
    """End the session on the server (the adapter also deletes the session file)."""
    await client.connect()
    try:
        await client.log_out()
    finally:
        await client.disconnect()


async def _send_code(client: LoginClient, ui: LoginUI, number: str) -> CodeSent:
    sent = await client.send_code(number)  # PhoneInvalid and FloodWait go to the caller as they are
    ui.say(f"Telegram sent a login code {VIA_TEXT.get(sent.via, f'({sent.via})')}.")
    return sent


async def _sign_in_with_code(client: LoginClient, ui: LoginUI, number: str, tries: int) -> Me | None:
    """Ask for the code until it is right; None when a 2FA password is needed next."""
    sent = await _send_code(client, ui, number)
    wrong = 0
    while True:
        code = normalise_code(ui.ask("Login code"))
        try:
            if not code:
                raise CodeInvalid("no code given")
            return await client.sign_in_code(number, code, sent)
        except CodeInvalid:
            wrong += 1
            if wrong >= tries:
                raise CodeInvalid(f"the code was wrong {wrong} times: run `twin login` again") from None
            ui.say(f"That code is not right ({tries - wrong} {'try' if tries - wrong == 1 else 'tries'} left).")
        except CodeExpired:
            if not ui.confirm("The code expired. Send a new one?"):
                raise CodeExpired("the login code expired: run `twin login` again") from None
            sent = await _send_code(client, ui, number)
            wrong = 0  # a new code, a new set of tries


async def _sign_in_with_password(client: LoginClient, ui: LoginUI) -> Me:
    ui.say("This account has two-step verification.")
    for attempt in range(1, PASSWORD_TRIES + 1):
        password = ui.ask("Two-step verification password", hidden=True)
        try:
            if not password:
                raise PasswordInvalid("no password given")
            return await client.sign_in_password(password)
        except PasswordInvalid:
            if attempt == PASSWORD_TRIES:
                raise PasswordInvalid(
                    f"the password was wrong {PASSWORD_TRIES} times: run `twin login` again") from None
            left = PASSWORD_TRIES - attempt
            ui.say(f"That password is not right ({left} {'try' if left == 1 else 'tries'} left).")
    raise AuthError("unreachable")  # the loop returns or raises
