"""Provider health and the model chain: backoff, one probe at a time, fallbacks, notices once."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta

import pytest

from tests.fakes import T0, DownLLM, FakeClock, FakeLLM
from twin.errors import ProviderError
from twin.llm.base import complete_with_retries
from twin.llm.chain import Model, ModelChain, Unavailable, single, stagger
from twin.llm.health import BACKOFF_S, ProviderHealth, backoff_s, short_error
from twin.types import Prompt

PROMPT = Prompt("system", ())


def err503() -> ProviderError:
    return ProviderError("gemini: HTTP 503 unavailable: UNAVAILABLE: overloaded", retryable=True, status=503)


def health(clock: FakeClock, down_after: int = 1) -> ProviderHealth:
    return ProviderHealth("gemini", clock, down_after=down_after, rng=random.Random(3))


def chain_of(clock: FakeClock, *llms: FakeLLM, retries: int = 2) -> ModelChain:
    models = [Model(llm.provider, llm, ProviderHealth(llm.provider, clock, down_after=retries + 1,
                                                      rng=random.Random(i)))
              for i, llm in enumerate(llms)]
    return ModelChain(models, clock, retries=retries, rng=random.Random(5))


def test_backoff_grows_30s_1_2_5_10_30_min_jittered_and_capped() -> None:
    rng = random.Random(1)
    for step, base in enumerate([*BACKOFF_S, BACKOFF_S[-1], BACKOFF_S[-1]]):
        delays = [backoff_s(step, rng) for _ in range(50)]
        assert all(base * 0.8 <= d <= base * 1.2 for d in delays), (step, base)
        assert len({round(d, 3) for d in delays}) > 40  # jittered: turns do not retry in lockstep
    assert BACKOFF_S[:6] == (30, 60, 120, 300, 600, 1800)


def test_down_after_a_streak_then_one_probe_at_a_time_and_back_on_success() -> None:
    clock = FakeClock()
    h = health(clock, down_after=3)
    h.failure(err503())
    h.failure(err503())
    assert h.usable(clock.now()) == "up" and h.notices == []
    h.failure(err503())
    assert h.down and h.down_since == T0 and h.last_error == "HTTP 503"
    assert h.usable(clock.now()) == "wait"
    first_try = h.next_try
    assert first_try is not None and 24 <= (first_try - T0).total_seconds() <= 36
    (notice,) = h.notices
    assert notice.startswith("gemini is unavailable since 10:00 (last: HTTP 503)")

    clock.set(first_try)
    assert h.usable(clock.now()) == "probe"
    h.claim(clock.now())
    assert h.usable(clock.now()) == "wait"  # the others wait for the probe's answer
    assert h.retry_at(clock.now()) == clock.now() + timedelta(seconds=60)
    h.failure(err503(), probe=True)
    second_try = h.next_try
    assert second_try is not None and 48 <= (second_try - clock.now()).total_seconds() <= 72
    # A call that began before the outage was known does not push the plan further out.
    h.failure(err503())
    assert h.next_try == second_try and h.tries == 2

    clock.set(second_try)
    assert h.success() is True and not h.down and h.usable(clock.now()) == "up"
    assert h.notices[-1].startswith("gemini is back after 1 min")
    assert h.success() is False and len(h.notices) == 2  # told once


def test_a_probe_that_never_reports_expires() -> None:
    clock = FakeClock()
    h = health(clock)
    h.failure(err503())
    assert h.next_try is not None
    clock.set(h.next_try)
    h.claim(clock.now())
    clock.set(clock.now() + timedelta(minutes=6))
    assert h.usable(clock.now()) == "probe"


def test_a_bad_key_is_told_once_per_cause() -> None:
    clock = FakeClock()
    h = health(clock)
    bad = ProviderError("gemini: HTTP 401 unauthorized (check the API key)", status=401)
    for _ in range(5):
        h.refused(bad)
    assert len(h.notices) == 1 and "HTTP 401" in h.notices[0] and not h.down
    h.refused(ProviderError("gemini: HTTP 404 not found (check the model name)", status=404))
    assert len(h.notices) == 2


def test_short_error() -> None:
    assert short_error(err503()) == "HTTP 503"
    assert short_error(ProviderError("openai: connection reset (ConnectionResetError)", retryable=True)) \
        == "connection reset"


async def test_in_call_retries_then_unavailable_with_the_next_try() -> None:
    clock = FakeClock()
    llm = DownLLM(clock)
    llm.down = True
    chain = chain_of(clock, llm, retries=2)
    with pytest.raises(Unavailable) as caught:
        await chain.complete(PROMPT)
    assert len(llm.calls) == 3  # 1 try + 2 retries, then the provider is marked down
    health_ = chain.models[0].health
    assert health_.down and caught.value.retry_at == health_.next_try
    # Before the next try nobody calls it: the turn is told when to look again, at no cost.
    assert chain.hold_until(clock.now()) == health_.next_try
    with pytest.raises(Unavailable):
        await chain.complete(PROMPT)
    assert len(llm.calls) == 3
    # At the next try one probe, a single request; it fails and the wait grows.
    assert health_.next_try is not None
    clock.set(health_.next_try)
    with pytest.raises(Unavailable):
        await chain.complete(PROMPT)
    assert len(llm.calls) == 4 and health_.tries == 2
    llm.down = False
    assert health_.next_try is not None
    clock.set(health_.next_try)
    assert (await chain.complete(PROMPT)).text == "ok"
    assert chain.take_recovered() is True and chain.take_recovered() is False
    notices = chain.take_notices()
    assert [n.split(" ")[1:3] for n in notices] == [["is", "unavailable"], ["is", "back"]]
    assert chain.take_notices() == []


async def test_concurrent_turns_do_not_hammer_a_dead_provider() -> None:
    clock = FakeClock()
    llm = DownLLM(clock)
    llm.down = True
    chain = chain_of(clock, llm, retries=3)
    results = await asyncio.gather(*(chain.complete(PROMPT) for _ in range(10)), return_exceptions=True)
    assert all(isinstance(r, Unavailable) for r in results)
    # Ten turns at once: the fourth failure in a row (1 try + 3 retries' worth) marks it down, and from
    # then on no turn calls it, and none of those already retrying tries again.
    assert len(llm.calls) == 4


async def test_only_one_probe_when_many_turns_are_due_together() -> None:
    clock = FakeClock()
    llm = DownLLM(clock)
    llm.down = True
    chain = chain_of(clock, llm, retries=0)
    with pytest.raises(Unavailable):
        await chain.complete(PROMPT)
    next_try = chain.models[0].health.next_try
    assert next_try is not None
    clock.set(next_try)
    slow = asyncio.Event()
    original = llm.complete

    async def held(prompt: Prompt) -> object:
        await slow.wait()
        return await original(prompt)

    llm.complete = held  # type: ignore[method-assign]
    probe = asyncio.create_task(chain.complete(PROMPT))
    await asyncio.sleep(0)
    others = [await asyncio.gather(chain.complete(PROMPT), return_exceptions=True) for _ in range(5)]
    assert all(isinstance(o[0], Unavailable) for o in others)
    llm.down = False
    slow.set()
    assert (await probe).text == "ok"
    assert len(llm.calls) == 2  # the first failure and the probe


async def test_fallback_answers_while_the_primary_is_down_and_the_primary_is_probed_later() -> None:
    clock = FakeClock()
    primary = DownLLM(clock, provider="gemini")
    backup = FakeLLM("from local", "again local", "from local 3", default="x")
    backup.provider = "local"  # type: ignore[misc]
    primary.down = True
    chain = chain_of(clock, primary, backup, retries=1)
    first = await chain.answer(PROMPT)
    assert (first.completion.text, first.fallback) == ("from local", "local")
    assert "HTTP 503" in first.why or "connection reset" in first.why
    assert len(primary.calls) == 2
    second = await chain.answer(PROMPT)  # the primary is down: not called at all
    assert (second.completion.text, second.fallback, len(primary.calls)) == ("again local", "local", 2)
    assert "unavailable" in second.why
    primary.down = False
    next_try = chain.models[0].health.next_try
    assert next_try is not None
    clock.set(next_try)
    third = await chain.answer(PROMPT)
    assert (third.completion.text, third.fallback) == ("ok", "")


async def test_a_refusal_goes_to_the_fallback_and_a_bad_key_still_tells_the_owner() -> None:
    clock = FakeClock()
    blocked = FakeLLM(default=None)
    blocked.complete = _blocked(blocked)  # type: ignore[method-assign]
    backup = FakeLLM("fine")
    backup.provider = "local"  # type: ignore[misc]
    answer = await chain_of(clock, blocked, backup).answer(PROMPT)
    assert (answer.completion.text, answer.fallback) == ("fine", "local")
    assert "blocked: SAFETY" in answer.why

    bad_key = FakeLLM(*[ProviderError("gemini: HTTP 401 unauthorized (check the API key)", status=401)] * 3)
    backup2 = FakeLLM("a", "b", "c")
    backup2.provider = "local"  # type: ignore[misc]
    chain = chain_of(clock, bad_key, backup2)
    texts = [(await chain.answer(PROMPT)).completion.text for _ in range(3)]
    assert texts == ["a", "b", "c"]
    notices = chain.take_notices()
    assert len(notices) == 1 and "HTTP 401" in notices[0]  # once, not per message


async def test_a_bad_key_with_no_fallback_fails_the_turn_at_once() -> None:
    clock = FakeClock()
    llm = FakeLLM(ProviderError("gemini: HTTP 401 unauthorized", status=401))
    with pytest.raises(ProviderError) as caught:
        await single(llm, clock, retries=3).complete(PROMPT)
    assert not isinstance(caught.value, Unavailable) and not caught.value.retryable
    assert len(llm.prompts) == 1


async def test_complete_with_retries_leaves_retries_to_the_chain() -> None:
    clock = FakeClock()
    llm = DownLLM(clock)
    llm.down = True
    with pytest.raises(Unavailable):
        await complete_with_retries(single(llm, clock, retries=1), PROMPT, clock, retries=5)
    assert len(llm.calls) == 2


def test_release_is_spread_out_like_a_person_catching_up() -> None:
    offsets = [o.total_seconds() for o in stagger(10, random.Random(2), scale=1.0)]
    gaps = [b - a for a, b in zip([0.0, *offsets], offsets, strict=False)]
    assert all(10 <= g <= 30 for g in gaps)
    assert stagger(3, random.Random(2), scale=0.0) == [timedelta(0)] * 3


def _blocked(llm: FakeLLM):  # type: ignore[no-untyped-def]
    from twin.types import Completion

    async def complete(prompt: Prompt) -> Completion:
        llm.prompts.append(prompt)
        return Completion(None, llm.provider, llm.model, reason="blocked: SAFETY")

    return complete


def test_the_lasting_state_is_handed_over_on_each_change_and_taken_back_after_a_restart() -> None:
    clock = FakeClock()
    h = health(clock)
    written: list[dict[str, object]] = []
    h.on_change = written.append
    assert h.success() is False and written == []  # nothing changed: nothing written
    h.failure(err503())
    (state,) = written
    assert state["down_since"] == T0.isoformat() and state["tries"] == 1 and state["told"] == ["outage"]
    assert state["last_error"] == "HTTP 503" and state["next_try"] == h.next_try.isoformat()  # type: ignore[union-attr]
    h.failure(err503())  # a call that began before the outage was known: the plan (and the state) stands
    assert len(written) == 1

    later = health(clock)  # the next process
    later.restore(state)
    assert (later.down_since, later.next_try, later.tries, later.last_error) == (T0, h.next_try, 1, "HTTP 503")
    assert later.usable(clock.now()) == "wait" and later.notices == []
    assert later.snapshot() == h.snapshot()
    clock.set(h.next_try)  # type: ignore[arg-type]
    assert later.usable(clock.now()) == "probe"
    later.failure(err503(), probe=True)
    assert later.tries == 2 and later.notices == []  # the outage goes on: the owner was told already
    clock.set(T0 + timedelta(minutes=4))
    assert later.success() is True
    assert later.notices == ["gemini is back after 4 min; waiting replies go out now."]


def test_an_unreadable_stored_state_starts_up() -> None:
    h = health(FakeClock())
    h.restore({"down_since": "yesterday", "tries": "many", "told": "x"})
    assert not h.down and h.tries == 0 and h.usable(T0) == "up"
    h.restore(None)
    assert not h.down


def test_short_error_blanks_key_shaped_text_and_stays_short() -> None:
    leak = ProviderError("gemini: unexpected ValueError: key=AIzaSyA1b2C3d4E5f6G7h8 rejected; token sk-proj-abcdef12")
    assert short_error(leak) == "unexpected ValueError: *** rejected; token ***"
    long = ProviderError("openai: " + "word " * 60)
    assert len(short_error(long)) <= 120 and short_error(long).endswith("…")
    assert short_error(ProviderError("x: connection reset (ConnectionResetError)", retryable=True)) == \
        "connection reset"
