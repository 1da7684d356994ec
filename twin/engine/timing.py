"""Human timing: notice, reading and typing delays, seeded per reply so they can be explained."""

from __future__ import annotations

import random
from dataclasses import dataclass

from twin.config import TimingSettings

MAX_TYPING_S = 90.0  # nobody types one message for longer; long replies are split anyway
MIN_READ_S = 1.0


@dataclass(frozen=True)
class Timing:
    """The delays of one reply, all in seconds, from one seed."""

    seed: int
    notice_s: float
    read_s: float

    def typing_s(self, settings: TimingSettings, reply_chars: int) -> float:
        """Typing time for the reply: characters per second with jitter, capped."""
        rng = random.Random(self.seed * 7919 + reply_chars)
        base = reply_chars / max(settings.type_cps, 0.1)
        return settings.scale * min(MAX_TYPING_S, base * _jitter(rng, settings.jitter))

    def as_dict(self) -> dict[str, float | int]:
        return {"seed": self.seed, "notice_s": round(self.notice_s, 3), "read_s": round(self.read_s, 3)}


def _jitter(rng: random.Random, amount: float) -> float:
    amount = min(max(amount, 0.0), 0.9)  # a delay never turns negative, whatever the setting
    return 1.0 + rng.uniform(-amount, amount)


def plan(settings: TimingSettings, seed: int, incoming_chars: int) -> Timing:
    """Notice delay (uniform in bounds) and reading time (proportional to length), scaled."""
    rng = random.Random(seed)
    low, high = sorted((settings.notice_min_s, settings.notice_max_s))
    notice = rng.uniform(low, high)
    read = max(MIN_READ_S, incoming_chars / max(settings.read_cps, 0.1) * _jitter(rng, settings.jitter))
    return Timing(seed, settings.scale * notice, settings.scale * read)


def human_parts(text: str, *, split: bool, max_parts: int = 3) -> list[str]:
    """A reply as people send it: one message, or its paragraphs as up to three messages."""
    if not split:
        return [text]
    paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
    if len(paragraphs) <= 1:
        return [text]
    head, tail = paragraphs[: max_parts - 1], paragraphs[max_parts - 1 :]
    return head + ["\n\n".join(tail)] if tail else head
