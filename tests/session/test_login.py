"""The login flow against FakeLoginClient, driven by a scripted UI."""

from __future__ import annotations

import pytest

from tests.fakes import FakeLoginClient
from twin.errors import AuthError, CodeExpired, CodeInvalid, FloodWait, PasswordInvalid, PhoneInvalid
from twin.session.login import login, logout, normalise_phone
from twin.types import Me

PHONE = "+49 151-2345 6789"
NUMBER = "+4915123456789"


class ScriptedUI:
    """Answers prompts from a script; records every prompt, confirmation and message."""

    def __init__(self, *answers: str, confirms: tuple[bool, ...] = ()) -> None:
        self.answers = list(answers)
        self.confirms = list(confirms)
        self.prompts: list[tuple[str, bool]] = []
        self.questions: list[str] = []
        self.said: list[str] = []

    def ask(self, prompt: str, *, hidden: bool = False) -> str:
        self.prompts.append((prompt, hidden))
        return self.answers.pop(0)

    def confirm(self, prompt: str) -> bool:
        self.questions.append(prompt)
        return self.confirms.pop(0)

    def say(self, text: str) -> None:
        self.said.append(text)

    def everything_shown(self) -> str:
        return "\n".join([p for p, _ in self.prompts] + self.questions + self.said)


def _codes_tried(client: FakeLoginClient) -> list[str]:
    return [call[2] for call in client.calls if call[0] == "sign_in_code"]


def test_normalise_phone() -> None:
    assert normalise_phone(" +49 (151) 2345-6789 ") == NUMBER
    assert normalise_phone("+1.555.0100") == "+15550100"


async def test_wrong_code_then_right_code() -> None:
    client = FakeLoginClient(codes=("24680",))
    ui = ScriptedUI(PHONE, "11111", "2468 0")

    me = await login(client, ui)

    assert me == client.me
    assert _codes_tried(client) == ["11111", "24680"]
    assert ("send_code", NUMBER) in client.calls
    assert [p for p, _ in ui.prompts] == [ui.prompts[0][0], "Login code", "Login code"]
    assert any("not right (2 tries left)" in s for s in ui.said)
    assert client.calls[0] == ("connect",) and client.calls[-1] == ("disconnect",)
    assert "11111" not in ui.everything_shown() and "24680" not in ui.everything_shown()
    assert "6789" not in ui.everything_shown() and NUMBER not in ui.everything_shown()


async def test_wrong_code_three_times_is_an_auth_error() -> None:
    client = FakeLoginClient(codes=("24680",))
    ui = ScriptedUI("+447700900123", "1", "2", "3", "24680")

    with pytest.raises(CodeInvalid, match="wrong 3 times") as caught:
        await login(client, ui)

    assert isinstance(caught.value, AuthError)
    assert _codes_tried(client) == ["1", "2", "3"]
    assert ui.answers == ["24680"]  # not asked a fourth time
    assert client.calls[-1] == ("disconnect",)


async def test_two_step_password_is_asked_hidden_and_retried() -> None:
    client = FakeLoginClient(password="correct horse")
    ui = ScriptedUI("+447700900123", "12345", "wrong pass", "correct horse")

    me = await login(client, ui)

    assert me == client.me
    assert ui.prompts[2] == ("Two-step verification password", True)
    assert ui.prompts[3] == ("Two-step verification password", True)
    assert not any(hidden for _, hidden in ui.prompts[:2])  # phone and code are not hidden
    shown = ui.everything_shown()
    assert "correct horse" not in shown and "wrong pass" not in shown and "12345" not in shown


async def test_wrong_password_three_times() -> None:
    client = FakeLoginClient(password="secret")
    ui = ScriptedUI("+447700900123", "12345", "a", "b", "c")

    with pytest.raises(PasswordInvalid, match="wrong 3 times") as caught:
        await login(client, ui)

    assert "a" not in str(caught.value).split() and "secret" not in str(caught.value)


async def test_expired_code_offers_a_new_one() -> None:
    client = FakeLoginClient(codes=("11111", "22222"), expire_first=True)
    ui = ScriptedUI(PHONE, "11111", "22222", confirms=(True,))

    me = await login(client, ui)

    assert me == client.me
    assert ui.questions == ["The code expired. Send a new one?"]
    assert [c for c in client.calls if c[0] == "send_code"] == [("send_code", NUMBER)] * 2
    assert client.calls[-2][3] == "hash-2"  # signed in with the new code's hash
    assert sum("sent a login code" in s for s in ui.said) == 2


async def test_expired_code_declined() -> None:
    client = FakeLoginClient(expire_first=True)
    ui = ScriptedUI(PHONE, "12345", confirms=(False,))

    with pytest.raises(CodeExpired, match="expired"):
        await login(client, ui)
    assert [c[0] for c in client.calls].count("send_code") == 1


async def test_flood_wait_is_raised_as_is() -> None:
    client = FakeLoginClient(flood_seconds=600)
    ui = ScriptedUI()

    with pytest.raises(FloodWait, match="try again in 10 min") as caught:
        await login(client, ui, phone="+447700900123")

    assert caught.value.seconds == 600
    assert ui.prompts == []  # --phone skipped the prompt, and no code was asked for
    assert client.calls[-1] == ("disconnect",)


async def test_invalid_phone() -> None:
    client = FakeLoginClient(invalid_phone=True)
    ui = ScriptedUI("+1 23")

    with pytest.raises(PhoneInvalid) as caught:
        await login(client, ui)

    assert "\n" not in str(caught.value) and "123" not in str(caught.value)
    assert not any(c[0] == "sign_in_code" for c in client.calls)


async def test_empty_phone_is_invalid_without_asking_telegram() -> None:
    client = FakeLoginClient()
    with pytest.raises(PhoneInvalid):
        await login(client, ScriptedUI("  "))
    assert not any(c[0] == "send_code" for c in client.calls)


async def test_already_logged_in_short_cut() -> None:
    client = FakeLoginClient(authorised=True, me=Me(id=7, name="Ann", username="ann"))
    ui = ScriptedUI()

    me = await login(client, ui)

    assert me == Me(id=7, name="Ann", username="ann")
    assert [c[0] for c in client.calls] == ["connect", "current_user", "disconnect"]
    assert ui.prompts == []


async def test_logout() -> None:
    client = FakeLoginClient(authorised=True)
    await logout(client)
    assert client.logged_out and not client.connected
