"""`[llm] fallback`: settings, and the chain through the real SDKs against loopback servers."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes import FakeClock
from tests.helpers import make_settings
from tests.httpserver import Reply, ScriptedServer, closed_port, scripted_server
from twin import config
from twin.errors import ConfigError
from twin.llm.chain import ModelChain, Unavailable
from twin.sections import FallbackModel, Secret
from twin.service.app import make_llm
from twin.types import Prompt, PromptMessage

GEMINI_KEY = "AIzaTEST-secret-key-123456"
OPENAI_KEY = "sk-test-secret-key-123456"
PROMPT = Prompt("You are Alex.", (PromptMessage("user", "dinner tonight?"),))
GEMINI_ROUTE = ":generateContent"
OPENAI_ROUTE = "/v1/chat/completions"


def gemini_ok(text: str) -> Reply:
    return Reply(200, {"candidates": [{"content": {"role": "model", "parts": [{"text": text}]},
                                       "finishReason": "STOP"}]})


def gemini_error(code: int, status: str, message: str = "nope") -> Reply:
    return Reply(code, {"error": {"code": code, "message": message, "status": status}})


def openai_ok(text: str) -> Reply:
    return Reply(200, {"id": "c1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
                       "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                    "finish_reason": "stop"}]})


def openai_error(code: int) -> Reply:
    return Reply(code, {"error": {"message": "overloaded", "type": "server_error", "code": None, "param": None}})


@pytest.fixture
def backup() -> Iterator[ScriptedServer]:
    with scripted_server() as s:
        yield s


def write_toml(home: Path, text: str) -> None:
    (home / "twin.toml").write_text(text, encoding="utf-8")


# --- settings -------------------------------------------------------------------------------

def test_fallback_tables_and_shorthand(twin_home: Path) -> None:
    write_toml(twin_home, '[llm]\nprovider = "gemini"\nfallback = [\n'
                          '  {provider = "openai", model = "gpt-4o-mini", base_url = "http://127.0.0.1:9/v1"},\n'
                          '  "local",\n]\n')
    settings = config.load(home=twin_home, env={})
    assert settings.llm.fallback == (
        FallbackModel("openai", "gpt-4o-mini", "http://127.0.0.1:9/v1"), FallbackModel("local"))


@pytest.mark.parametrize(("toml", "message"), [
    ('fallback = [{provider = "openai", modle = "x"}]', "unknown setting 'llm.fallback[0].modle' in twin.toml"),
    ('fallback = [{provider = "claude"}]', "'llm.fallback[0].provider' in twin.toml must be one of gemini, openai"),
    ('fallback = [{provider = "local", model = 3}]', "'llm.fallback[0].model' in twin.toml must be a string"),
    ("fallback = 3", "'llm.fallback' in twin.toml must be a list of tables"),
    ("fallback = {provider = 'local'}", "'llm.fallback' in twin.toml must be a list of tables"),
    ("fallback = [1]", "'llm.fallback[0]' in twin.toml must be a table"),
])
def test_bad_fallback_names_the_key(twin_home: Path, toml: str, message: str) -> None:
    write_toml(twin_home, f"[llm]\n{toml}\n")
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        config.load(home=twin_home, env={})


def test_fallback_from_the_environment_and_the_key_stays_secret(twin_home: Path) -> None:
    env = {"TWIN_LLM_FALLBACK": '[{"provider": "openai", "api_key": "sk-env-secret-1234"}]'}
    settings = config.load(home=twin_home, env=env)
    (entry,) = settings.llm.fallback
    assert entry.provider == "openai" and entry.api_key == Secret("sk-env-secret-1234")
    assert "sk-env-secret" not in repr(settings)
    assert config.load(home=twin_home, env={"TWIN_LLM_FALLBACK": "local,gemini"}).llm.fallback == (
        FallbackModel("local"), FallbackModel("gemini"))


def test_a_fallback_without_its_key_is_a_config_error_at_start(twin_home: Path) -> None:
    settings = make_settings(twin_home, **{"llm.provider": "local", "llm.fallback": [{"provider": "gemini"}]})
    with pytest.raises(ConfigError, match=r"llm.fallback\[0\]: GEMINI_API_KEY is not set"):
        make_llm(settings)


# --- the chain through the real SDKs --------------------------------------------------------

def gemini_then_openai(home: Path, primary: ScriptedServer, fallback: ScriptedServer, clock: FakeClock,
                       retries: int = 1) -> ModelChain:
    settings = make_settings(home, **{
        "llm.provider": "gemini", "llm.api_key": GEMINI_KEY, "llm.base_url": primary.url, "llm.timeout_s": 5,
        "llm.retries": retries,
        "llm.fallback": [{"provider": "openai", "api_key": OPENAI_KEY, "base_url": fallback.url + "/v1"}]})
    return make_llm(settings, clock)


async def test_gemini_503_then_openai_answers_and_gemini_is_left_alone(
        twin_home: Path, server: ScriptedServer, backup: ScriptedServer) -> None:
    clock = FakeClock()
    server.default = lambda _: gemini_error(503, "UNAVAILABLE", "The model is overloaded")
    backup.expect(OPENAI_ROUTE, openai_ok("8 works"), openai_ok("see you"))
    chain = gemini_then_openai(twin_home, server, backup, clock)

    first = await chain.answer(PROMPT)
    assert (first.completion.text, first.completion.provider, first.fallback) == ("8 works", "openai", "openai")
    assert "gemini: HTTP 503" in first.why
    assert len(server.requests) == 2  # one try and one retry, then gemini is marked down
    assert backup.requests[0].headers["authorization"] == f"Bearer {OPENAI_KEY}"

    second = await chain.answer(PROMPT)  # gemini is down until its next try: not asked at all
    assert (second.completion.text, len(server.requests), len(backup.requests)) == ("see you", 2, 2)
    (notice,) = chain.take_notices()
    assert notice.startswith("gemini is unavailable since") and "HTTP 503" in notice
    assert GEMINI_KEY not in notice


async def test_openai_primary_down_gemini_fallback_answers(
        twin_home: Path, server: ScriptedServer, backup: ScriptedServer) -> None:
    clock = FakeClock()
    backup.default = lambda _: openai_error(502)
    server.expect(GEMINI_ROUTE, gemini_ok("yes!"))
    settings = make_settings(twin_home, **{
        "llm.provider": "openai", "llm.api_key": OPENAI_KEY, "llm.base_url": backup.url + "/v1", "llm.retries": 0,
        "llm.fallback": [{"provider": "gemini", "api_key": GEMINI_KEY, "base_url": server.url}]})
    answer = await make_llm(settings, clock).answer(PROMPT)
    assert (answer.completion.text, answer.completion.provider, answer.fallback) == ("yes!", "gemini", "gemini")
    assert server.requests[0].headers["x-goog-api-key"] == GEMINI_KEY
    assert len(backup.requests) == 1


async def test_quota_goes_to_the_fallback_without_retrying(
        twin_home: Path, server: ScriptedServer, backup: ScriptedServer) -> None:
    clock = FakeClock()
    server.expect(GEMINI_ROUTE, gemini_error(429, "RESOURCE_EXHAUSTED", "You exceeded your current quota"))
    backup.expect(OPENAI_ROUTE, openai_ok("fine"))
    answer = await gemini_then_openai(twin_home, server, backup, clock, retries=3).answer(PROMPT)
    assert (answer.completion.text, answer.fallback, len(server.requests)) == ("fine", "openai", 1)


async def test_a_safety_block_goes_to_the_fallback(
        twin_home: Path, server: ScriptedServer, backup: ScriptedServer) -> None:
    server.expect(GEMINI_ROUTE, Reply(200, {"promptFeedback": {"blockReason": "SAFETY"}}))
    backup.expect(OPENAI_ROUTE, openai_ok("sure"))
    answer = await gemini_then_openai(twin_home, server, backup, FakeClock()).answer(PROMPT)
    assert (answer.completion.text, answer.fallback, answer.why) == ("sure", "openai", "gemini: blocked: SAFETY")


async def test_a_bad_key_tells_the_owner_once_even_though_the_fallback_answered(
        twin_home: Path, server: ScriptedServer, backup: ScriptedServer) -> None:
    server.default = lambda _: gemini_error(400, "INVALID_ARGUMENT", "API key not valid")
    backup.default = lambda _: openai_ok("answered anyway")
    chain = gemini_then_openai(twin_home, server, backup, FakeClock())
    for _ in range(3):
        assert (await chain.answer(PROMPT)).fallback == "openai"
    assert len(server.requests) == 3  # a final error is never retried
    (notice,) = chain.take_notices()
    assert "gemini: HTTP 400" in notice and "API key not valid" in notice and GEMINI_KEY not in notice


async def test_both_down_is_unavailable_with_the_earliest_next_try(
        twin_home: Path, server: ScriptedServer, backup: ScriptedServer) -> None:
    clock = FakeClock()
    server.default = lambda _: gemini_error(503, "UNAVAILABLE")
    settings = make_settings(twin_home, **{
        "llm.provider": "gemini", "llm.api_key": GEMINI_KEY, "llm.base_url": server.url, "llm.retries": 0,
        "llm.fallback": [{"provider": "openai", "api_key": OPENAI_KEY,
                          "base_url": f"http://127.0.0.1:{closed_port()}/v1"}]})
    chain = make_llm(settings, clock)
    with pytest.raises(Unavailable) as caught:
        await chain.answer(PROMPT)
    assert "gemini: HTTP 503" in str(caught.value) and "openai: connection refused" in str(caught.value)
    tries = [m.health.next_try for m in chain.models]
    assert all(t is not None for t in tries) and caught.value.retry_at == min(t for t in tries if t)
    assert chain.hold_until(clock.now()) == caught.value.retry_at


def test_the_fallback_sdk_is_imported_only_when_needed(twin_home: Path) -> None:
    code = f"""
import asyncio, sys
from pathlib import Path
from tests.fakes import FakeClock
from tests.helpers import make_settings
from tests.httpserver import Reply, scripted_server
from twin.service.app import make_llm
from twin.types import Prompt, PromptMessage
with scripted_server() as s:
    s.expect(":generateContent", Reply(200, {{"candidates": [{{"content": {{"parts": [{{"text": "hi"}}]}}}}]}}))
    settings = make_settings(Path({str(twin_home)!r}), **{{"llm.provider": "gemini", "llm.api_key": "k-123456",
        "llm.base_url": s.url, "llm.fallback": [{{"provider": "openai", "api_key": "sk-123456",
                          "base_url": "http://127.0.0.1:{closed_port()}/v1"}}]}})
    chain = make_llm(settings, FakeClock())
    print("before:", "google.genai" in sys.modules, "openai" in sys.modules)
    answer = asyncio.run(chain.answer(Prompt("s", (PromptMessage("user", "hi"),))))
    print("after:", answer.completion.text, "google.genai" in sys.modules, "openai" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).parents[2])
    assert out.stdout.split("\n")[:2] == ["before: False False", "after: hi True False"]
