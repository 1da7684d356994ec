"""Jittered exponential backoff for reconnects: grows on each failure, resets on success."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Delays min_s, min_s*factor, ... up to max_s, each with +-jitter; reset() after a success."""

    min_s: float = 1.0
    max_s: float = 300.0
    factor: float = 2.0
    jitter: float = 0.1
    rng: random.Random = field(default_factory=random.Random)
    attempts: int = 0

    def next(self) -> float:
        """The delay before the next attempt (and count this attempt)."""
        base = min(self.max_s, self.min_s * self.factor ** min(self.attempts, 60))
        self.attempts += 1
        return max(0.0, base * (1 + self.rng.uniform(-self.jitter, self.jitter)))

    def reset(self) -> None:
        """Back to the shortest delay (call after a successful connect)."""
        self.attempts = 0
