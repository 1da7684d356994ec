"""Every implementation of a seam fits its protocol: the real adapters, the sandbox and the fakes in tests/fakes.py.

mypy checks twin/ against the protocols, but not the fakes, which live in tests/: this compares each
protocol member with each implementation (present, async alike, same parameters and defaults), so a
fake that drifts from the seam it stands for fails here rather than passing tests the real one would not.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from typing import Any, Protocol

import pytest

from tests.fakes import FakeClock, FakeLLM, FakeLoginClient, FakeSTT, FakeTelegram, FakeTTS
from tests.session.test_login import ScriptedUI
from twin.clock import Clock, SystemClock
from twin.llm.base import LLM
from twin.llm.gemini import GeminiLLM
from twin.llm.local import LocalLLM
from twin.llm.openai_chat import OpenAIChatLLM
from twin.session.base import LoginClient, Telegram
from twin.session.login import LoginUI
from twin.session.sandbox import SandboxTelegram
from twin.session.telethon import TelethonTelegram
from twin.voice.base import SpeechToText, TextToSpeech
from twin.voice.elevenlabs_tts import ElevenLabsTTS
from twin.voice.local_stt import LocalSTT
from twin.voice.local_tts import LocalTTS
from twin.voice.openai_stt import OpenAISTT

SEAMS: dict[type, tuple[type, ...]] = {
    Telegram: (TelethonTelegram, SandboxTelegram, FakeTelegram),
    LoginClient: (TelethonTelegram, SandboxTelegram, FakeLoginClient),
    LoginUI: (ScriptedUI,),
    LLM: (GeminiLLM, OpenAIChatLLM, LocalLLM, FakeLLM),
    SpeechToText: (OpenAISTT, LocalSTT, FakeSTT),
    TextToSpeech: (ElevenLabsTTS, LocalTTS, FakeTTS),
    Clock: (SystemClock, FakeClock),
}


def _members(protocol: type) -> dict[str, Any]:
    """The protocol's methods and data members (attribute name -> function, or None for data)."""
    found: dict[str, Any] = dict.fromkeys(getattr(protocol, "__annotations__", {}))
    found.update({n: f for n, f in vars(protocol).items() if inspect.isfunction(f) and not n.startswith("_")})
    return found


def _assigned_on_self(cls: type) -> set[str]:
    """Attributes a class sets as self.NAME = ... in any of its methods."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    return {t.attr for node in ast.walk(tree) if isinstance(node, ast.Assign | ast.AnnAssign)
            for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
            if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self"}


def _shape(function: Any) -> list[tuple[str, Any, Any]]:
    params = list(inspect.signature(function).parameters.values())[1:]  # self aside
    return [(p.name, p.kind, p.default) for p in params]


def gaps(protocol: type, cls: type) -> list[str]:
    """How cls differs from the protocol: missing members, sync/async mismatches, different parameters."""
    found: list[str] = []
    for name, wanted in _members(protocol).items():
        if wanted is None:
            declared = hasattr(cls, name) or name in getattr(cls, "__annotations__", {})
            if not (declared or name in _assigned_on_self(cls)):
                found.append(f"no attribute {name}")
            continue
        have = getattr(cls, name, None)
        if not callable(have):
            found.append(f"no method {name}")
            continue
        if inspect.iscoroutinefunction(wanted) != inspect.iscoroutinefunction(have):
            found.append(f"{name} is {'not ' if inspect.iscoroutinefunction(wanted) else ''}async")
        want, got = _shape(wanted), _shape(have)
        extra_ok = all(default is not inspect.Parameter.empty for _, _, default in got[len(want):])
        if got[:len(want)] != want or not extra_ok:
            found.append(f"{name}{inspect.signature(have)} differs from {name}{inspect.signature(wanted)}")
    return found


@pytest.mark.parametrize(("protocol", "cls"), [(p, c) for p, impls in SEAMS.items() for c in impls],
                         ids=lambda x: x.__name__)
def test_every_implementation_fits_its_seam(protocol, cls):
    assert gaps(protocol, cls) == []


def test_a_drifted_fake_is_caught():
    class Seam(Protocol):
        provider: str

        async def send(self, chat_id: int, text: str, *, random_id: int) -> int: ...

        def now(self) -> int: ...

    class Drifted:
        def send(self, chat_id: int, text: str, random_id: int, extra: int) -> int:
            return 0

    class Fits:
        def __init__(self) -> None:
            self.provider = "x"

        async def send(self, chat_id: int, text: str, *, random_id: int, reply_to: int | None = None) -> int:
            return 0

        def now(self) -> int:
            return 0

    assert gaps(Seam, Drifted) == [
        "no attribute provider", "send is not async",
        "send(self, chat_id: 'int', text: 'str', random_id: 'int', extra: 'int') -> 'int' differs from "
        "send(self, chat_id: 'int', text: 'str', *, random_id: 'int') -> 'int'", "no method now"]
    assert gaps(Seam, Fits) == []
