"""How close a reply is to the one the owner really wrote: deterministic metrics, no I/O.

A style distance (length, emoji, casing, final punctuation, language; 0 is identical), a chrF-like
character n-gram F-score (0-100), and the cosine similarity of sentence embeddings when an embedder
is passed in (none is bundled: see Embedder). A case's score is 100 x the mean of chrF/100,
1 - style distance and (when present) the embedding similarity.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from twin.persona.features import detect_language, emoji_of, ending_of

# Texts in, one vector per text out (e.g. a sentence-transformers model's encode); optional.
Embedder = Callable[[Sequence[str]], Sequence[Sequence[float]]]


@dataclass(frozen=True, slots=True)
class StyleDistance:
    """How far a reply's form is from the owner's real one, each part 0 (same) to 1, total their mean."""

    length: float
    emoji: float
    casing: float
    punctuation: float
    language: float
    total: float


def style_distance(generated: str, reference: str) -> StyleDistance:
    """Length (log ratio, 4x apart = 1), emoji count, first-letter casing, final punctuation, language."""
    length = min(1.0, abs(math.log((len(generated) + 1) / (len(reference) + 1))) / math.log(4))
    emoji = abs(min(len(emoji_of(generated)), 3) - min(len(emoji_of(reference)), 3)) / 3
    g, r = generated.lstrip()[:1], reference.lstrip()[:1]
    casing = float(g.isalpha() and r.isalpha() and g.islower() != r.islower())
    punctuation = float(ending_of(generated) != ending_of(reference))
    lg, lr = detect_language(generated), detect_language(reference)
    language = float(bool(lg and lr and lg != lr))
    parts = (length, emoji, casing, punctuation, language)
    length, emoji, casing, punctuation, language = (round(p, 4) for p in parts)
    return StyleDistance(length, emoji, casing, punctuation, language, round(sum(parts) / len(parts), 4))


def _char_ngrams(text: str, n: int) -> Counter[str]:
    return Counter(text[i:i + n] for i in range(len(text) - n + 1))


def chrf(hypothesis: str, reference: str, *, order: int = 6, beta: float = 2.0) -> float:
    """Character n-gram F-score (chrF, spaces removed, case kept): the mean F-beta over orders 1..order, 0-100."""
    hyp, ref = "".join(hypothesis.split()), "".join(reference.split())
    if not hyp or not ref:
        return 100.0 if hyp == ref else 0.0
    total, orders = 0.0, 0
    for n in range(1, order + 1):
        h, r = _char_ngrams(hyp, n), _char_ngrams(ref, n)
        if not h or not r:
            continue
        orders += 1
        match = sum((h & r).values())
        precision, recall = match / sum(h.values()), match / sum(r.values())
        if precision + recall:
            total += (1 + beta**2) * precision * recall / (beta**2 * precision + recall)
    return round(100 * total / orders, 4) if orders else 0.0


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity of two vectors (0 when either is zero)."""
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


def embedding_similarity(embedder: Embedder | None, generated: str | None, reference: str) -> float | None:
    """The cosine of the two texts' embeddings; None without an embedder or a reply."""
    if embedder is None or not generated:
        return None
    vectors = embedder([generated, reference])
    return round(cosine(vectors[0], vectors[1]), 4)


def score_case(generated: str | None, reference: str, embedding: float | None = None) -> tuple[float, float, float]:
    """(chrF, style distance, overall score) of one reply; no reply scores 0 with the worst distance."""
    if not generated:
        return 0.0, 1.0, 0.0
    c, s = chrf(generated, reference), style_distance(generated, reference).total
    parts = [c / 100, 1 - s] + ([embedding] if embedding is not None else [])
    return c, s, round(100 * sum(parts) / len(parts), 4)
