"""The models in order, the primary and then `[llm] fallback`, each with its own shared health.

The chain owns the in-call retries: a retryable failure is retried with jittered backoff while
the provider is up; once its health says down, no turn calls it before the next try, and then
only one probe does. A provider that is down, or refuses (a safety block, a quota), hands the
prompt to the next model. When none can answer now the chain raises Unavailable with the time
to try again; the turn waits for it instead of failing.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from twin.clock import Clock
from twin.errors import ConfigError, ProviderError
from twin.llm.base import LLM
from twin.llm.health import ProviderHealth
from twin.types import Completion, Prompt

REFUSALS = ("blocked", "refused")


class Unavailable(ProviderError):
    """No model can answer now (an outage): try again at `retry_at`."""

    def __init__(self, message: str, *, retry_at: datetime, status: int | None = None) -> None:
        super().__init__(message, retryable=True, status=status)
        self.retry_at = retry_at


@dataclass
class Model:
    """One model of the chain: its adapter (the SDK loads on first call) and its health."""

    label: str  # how the owner knows it: "gemini", "local", "openai gpt-4o-mini"
    llm: LLM
    health: ProviderHealth


@dataclass(frozen=True)
class Answer:
    """A completion and who gave it: `fallback` is "" for the primary, else that model's label."""

    completion: Completion
    fallback: str = ""
    why: str = ""  # what happened to the models before it


class ModelChain:
    """Primary first, then each fallback; implements the LLM protocol (retries included)."""

    owns_retries = True  # complete_with_retries calls it once

    def __init__(self, models: Sequence[Model], clock: Clock, *, retries: int, base_delay_s: float = 1.0,
                 rng: random.Random | None = None) -> None:
        if not models:
            raise ValueError("a model chain needs at least one model")
        self.models = list(models)
        self.clock = clock
        self.retries = retries
        self.base_delay_s = base_delay_s
        self.rng = rng or random.Random()
        self.recovered = False  # set when a model that was down answered: waiting turns may go
        self.provider = self.models[0].llm.provider  # the LLM protocol names the primary
        self.model = self.models[0].llm.model
        self.vision = bool(getattr(self.models[0].llm, "vision", False))  # images are prepared for the primary

    async def complete(self, prompt: Prompt) -> Completion:
        """The LLM protocol: the answering model's completion."""
        return (await self.answer(prompt)).completion

    async def answer(self, prompt: Prompt) -> Answer:
        """Ask the models in order; Unavailable when none can answer now, the error when none ever will."""
        problems: list[str] = []
        waiting: list[Model] = []
        fatal: ProviderError | None = None
        refusal: Answer | None = None
        for index, model in enumerate(self.models):
            usable = model.health.usable(self.clock.now())
            if usable == "wait":
                waiting.append(model)
                problems.append(f"{model.label}: unavailable ({model.health.last_error or 'down'})")
                continue
            try:
                completion = await self._call(model, prompt, probe=usable == "probe")
            except ProviderError as exc:
                problems.append(str(exc))
                if exc.retryable:
                    waiting.append(model)
                else:
                    model.health.refused(exc)
                    fatal = fatal or exc
                continue
            answer = Answer(completion, model.label if index else "", "; ".join(problems))
            if completion.text is None and completion.reason.startswith(REFUSALS) and index < len(self.models) - 1:
                refusal = refusal or answer
                problems.append(f"{model.label}: {completion.reason}")
                continue
            return answer
        if refusal is not None:
            return refusal
        if waiting:
            now = self.clock.now()
            retry_at = min(m.health.retry_at(now) for m in waiting)
            raise Unavailable("; ".join(problems), retry_at=retry_at)
        assert fatal is not None
        raise fatal

    async def _call(self, model: Model, prompt: Prompt, *, probe: bool) -> Completion:
        """One model with in-call retries; a probe of a model that is down gets a single try."""
        health = model.health
        if probe:
            health.claim(self.clock.now())
        attempt = 0
        try:
            while True:
                try:
                    completion = await model.llm.complete(prompt)
                except ConfigError as exc:  # a local model that is not installed, found on first use
                    raise ProviderError(f"{model.label}: {exc}") from None
                except ProviderError as exc:
                    if not exc.retryable:
                        raise
                    quota = exc.status == 429 and "quota" in str(exc).lower()  # no use asking again soon
                    health.failure(exc, probe=probe, now_down=quota)
                    if probe or health.down or attempt >= self.retries:
                        raise
                    delay = self.base_delay_s * (2**attempt) * (0.5 + self.rng.random())
                    attempt += 1
                    await self.clock.sleep(min(delay, 60.0))
                    if health.down:  # another turn found it down meanwhile: stop knocking
                        raise
                    continue
                if health.success():
                    self.recovered = True
                return completion
        finally:
            if probe:
                health.unclaim()

    def hold_until(self, now: datetime) -> datetime | None:
        """None when some model may be called now; else when the first may be tried again."""
        if any(m.health.usable(now) != "wait" for m in self.models):
            return None
        return self.retry_at(now)

    def retry_at(self, now: datetime) -> datetime:
        """When a turn held back now should look again (after the next probe, if one is due)."""
        return min(m.health.retry_at(now) for m in self.models)

    def all_down(self) -> bool:
        """Every model is down: only a probe may call one."""
        return all(m.health.down for m in self.models)

    def trouble(self) -> str:
        """Why no model answers: "gemini unavailable since 12:04 (last: HTTP 503)"."""
        return "; ".join(m.health.describe() for m in self.models if m.health.down) or "the model is unavailable"

    def take_notices(self) -> list[str]:
        """What the owner should hear since the last call (outage begun or over, a bad key)."""
        out: list[str] = []
        for model in self.models:
            out.extend(model.health.notices)
            model.health.notices.clear()
        return out

    def take_recovered(self) -> bool:
        """Whether a model came back since the last call (then the turns that waited may go)."""
        recovered, self.recovered = self.recovered, False
        return recovered

    def snapshot(self) -> list[dict[str, object]]:
        """Each model's health, primary first, for `twin status`."""
        return [{**m.health.snapshot(), "model": m.llm.model, "fallback": i > 0} for i, m in enumerate(self.models)]

    def down_since(self) -> datetime | None:
        """Since when no model could answer (the primary's outage when every model is down)."""
        if all(m.health.down for m in self.models):
            return min(m.health.down_since for m in self.models if m.health.down_since is not None)
        return None


def single(llm: LLM, clock: Clock, *, retries: int, label: str = "", rng: random.Random | None = None) -> ModelChain:
    """A chain of one model (what a plain LLM is wrapped in)."""
    health = ProviderHealth(label or llm.provider, clock, down_after=retries + 1, rng=rng or random.Random())
    return ModelChain([Model(label or llm.provider, llm, health)], clock, retries=retries, rng=rng)


def stagger(count: int, rng: random.Random, *, scale: float, gap_s: tuple[float, float] = (10.0, 30.0)) -> list[
        timedelta]:
    """Offsets for `count` replies released after an outage: one after another, like a person catching up."""
    offsets: list[timedelta] = []
    total = 0.0
    for _ in range(count):
        total += rng.uniform(*gap_s) * scale
        offsets.append(timedelta(seconds=total))
    return offsets
