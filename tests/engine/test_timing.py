"""Human timing: seeded, bounded, proportional, scalable to zero; replies split the way people write."""

from __future__ import annotations

from dataclasses import replace

import pytest

from twin.config import TimingSettings
from twin.engine.timing import MAX_TYPING_S, MIN_READ_S, human_parts, plan

DEFAULT = TimingSettings()
SEEDS = range(1, 301)


def test_same_seed_same_plan():
    first, again = plan(DEFAULT, 4242, 120), plan(DEFAULT, 4242, 120)
    assert first == again and first.seed == 4242
    assert first.typing_s(DEFAULT, 300) == again.typing_s(DEFAULT, 300)
    assert first.as_dict() == {"seed": 4242, "notice_s": round(first.notice_s, 3), "read_s": round(first.read_s, 3)}


def test_different_seeds_differ():
    plans = [plan(DEFAULT, seed, 120) for seed in range(1, 21)]
    assert len({p.notice_s for p in plans}) == 20
    assert len({p.read_s for p in plans}) == 20
    assert len({p.typing_s(DEFAULT, 300) for p in plans}) == 20


@pytest.mark.parametrize("settings, low, high", [
    (DEFAULT, 20.0, 180.0),
    (replace(DEFAULT, scale=0.5), 10.0, 90.0),
    (replace(DEFAULT, scale=2.0), 40.0, 360.0),
    (replace(DEFAULT, notice_min_s=60.0, notice_max_s=5.0), 5.0, 60.0),  # swapped bounds still bound it
    (replace(DEFAULT, notice_min_s=7.0, notice_max_s=7.0), 7.0, 7.0),
], ids=["default", "half-scale", "double-scale", "swapped-bounds", "fixed"])
def test_notice_within_scaled_bounds(settings, low, high):
    notices = [plan(settings, seed, 50).notice_s for seed in SEEDS]
    assert all(low <= n <= high for n in notices)
    width = high - low
    assert min(notices) <= low + 0.05 * width and max(notices) >= high - 0.05 * width  # uses the whole range


@pytest.mark.parametrize("chars", [500, 1000, 4000])
def test_reading_is_proportional_to_length_within_jitter(chars):
    base = chars / DEFAULT.read_cps
    reads = [plan(DEFAULT, seed, chars).read_s for seed in SEEDS]
    assert all(base * (1 - DEFAULT.jitter) <= r <= base * (1 + DEFAULT.jitter) for r in reads)
    assert min(reads) < base * 0.85 and max(reads) > base * 1.15  # the jitter is really there


@pytest.mark.parametrize("seed", [1, 7, 2024])
def test_same_seed_reads_twice_as_long_text_twice_as_long(seed):
    assert plan(DEFAULT, seed, 2000).read_s == pytest.approx(2 * plan(DEFAULT, seed, 1000).read_s)


@pytest.mark.parametrize("chars", [0, 1, 10, 25, 30])
@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_reading_takes_at_least_the_minimum(chars, scale):
    settings = replace(DEFAULT, scale=scale)
    assert all(plan(settings, seed, chars).read_s >= MIN_READ_S * scale for seed in SEEDS)


@pytest.mark.parametrize("chars, expected", [(0, MIN_READ_S), (10, MIN_READ_S), (250, 10.0), (1000, 40.0)],
                         ids=["empty", "short", "medium", "long"])
def test_reading_without_jitter_is_exact(chars, expected):
    assert plan(replace(DEFAULT, jitter=0.0), 5, chars).read_s == pytest.approx(expected)


@pytest.mark.parametrize("settings, reply_chars, expected", [
    (replace(DEFAULT, jitter=0.0), 60, 10.0),  # 6 characters a second
    (replace(DEFAULT, jitter=0.0), 120, 20.0),
    (replace(DEFAULT, jitter=0.0, type_cps=3.0), 60, 20.0),
    (replace(DEFAULT, jitter=0.0), 0, 0.0),
    (replace(DEFAULT, jitter=0.0), 10_000, MAX_TYPING_S),  # capped: long replies are split anyway
    (replace(DEFAULT, jitter=0.0, scale=0.5), 10_000, MAX_TYPING_S / 2),  # the cap is scaled too
    (replace(DEFAULT, jitter=0.0, scale=0.5), 60, 5.0),
], ids=["60-chars", "120-chars", "slow-typist", "empty", "capped", "capped-half-scale", "half-scale"])
def test_typing_without_jitter(settings, reply_chars, expected):
    assert plan(settings, 3, 10).typing_s(settings, reply_chars) == pytest.approx(expected)


@pytest.mark.parametrize("reply_chars", [30, 120, 400])
def test_typing_is_proportional_within_jitter(reply_chars):
    base = reply_chars / DEFAULT.type_cps
    typing = [plan(DEFAULT, seed, 10).typing_s(DEFAULT, reply_chars) for seed in SEEDS]
    assert all(base * (1 - DEFAULT.jitter) <= t <= base * (1 + DEFAULT.jitter) for t in typing)
    assert min(typing) < base * 0.85 and max(typing) > base * 1.15


def test_typing_never_exceeds_the_cap_even_with_jitter():
    assert all(plan(DEFAULT, seed, 10).typing_s(DEFAULT, 600) <= MAX_TYPING_S for seed in SEEDS)
    assert all(plan(DEFAULT, seed, 10).typing_s(DEFAULT, 4000) == MAX_TYPING_S for seed in SEEDS)


@pytest.mark.parametrize("seed", [1, 99, 2**31 - 1])
def test_scale_zero_gives_zeros(seed):
    settings = replace(DEFAULT, scale=0.0)
    timing = plan(settings, seed, 3000)
    assert (timing.notice_s, timing.read_s, timing.typing_s(settings, 3000)) == (0.0, 0.0, 0.0)


P = ["First thought.", "Second one,\nwith a line break.", "Third.", "Fourth.", "Fifth."]


@pytest.mark.parametrize("text, split, expected", [
    ("Just one line.", True, ["Just one line."]),
    ("One paragraph,\nthree lines,\nstill one message.", True, ["One paragraph,\nthree lines,\nstill one message."]),
    ("\n\n".join(P[:2]), True, P[:2]),
    ("\n\n".join(P[:3]), True, P[:3]),
    ("\n\n".join(P), True, [P[0], P[1], "\n\n".join(P[2:])]),  # the tail stays together
    ("\n\n\n".join(P[:2]) + "\n\n", True, P[:2]),  # extra blank lines do not make empty messages
    ("\n\n".join(P), False, ["\n\n".join(P)]),
    ("", True, [""]),
], ids=["one-line", "one-paragraph", "two-paragraphs", "three-paragraphs", "five-paragraphs",
        "extra-blank-lines", "split-off", "empty"])
def test_human_parts(text, split, expected):
    assert human_parts(text, split=split) == expected


def test_human_parts_max_parts():
    assert human_parts("\n\n".join(P), split=True, max_parts=2) == [P[0], "\n\n".join(P[1:])]
    assert human_parts("\n\n".join(P), split=True, max_parts=5) == P
