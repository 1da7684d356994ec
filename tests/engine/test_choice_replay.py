"""`twin eval --choices` decides each corpus case as the daemon decides a turn: the acknowledgement
pre-check first, then the structured choice through the responder's models wrapped in ChoosingLLM."""

from __future__ import annotations

import json
from collections import Counter

from tests.fakes import FakeClock, FakeLLM, provider_500
from tests.helpers import make_settings
from twin.engine.choice import ChoosingLLM
from twin.engine.choice_replay import HOW, case_seed, replay_chooser
from twin.engine.responder import Responder
from twin.persona.acks import pure_acknowledgements
from twin.persona.choice_eval import ChoiceCase, load_choice_corpus, run_choices
from twin.persona.guard import screen_incoming
from twin.persona.profile import load_persona


def _responder(tmp_path, llm: FakeLLM) -> Responder:
    settings = make_settings(tmp_path, **{"llm.retries": 0})
    return Responder(llm, load_persona(settings.persona_path), settings, FakeClock(), None)


def _guarded(responder: Responder, case: ChoiceCase) -> bool:
    first = not any(owner for owner, _ in case.context)
    return screen_incoming(case.text, responder.policy, first_reply=first).action != "answer"


def _json(action: str, text: str = "", emoji: str = "") -> str:
    return json.dumps({"action": action, "text": text, "emoji": emoji, "reason": f"scripted {action}"})


def _scripted(case: ChoiceCase, index: int) -> str:
    """What the corpus expects, except every fifth case the model reaches, where it replies regardless."""
    if case.expect == "reply" or index % 5 == 0:
        text = f"да, давай так ({index})" if case.lang == "ru" else f"sure, sounds good ({index})"
        return _json("reply", text)
    return _json("react", emoji=case.emoji or "👍") if case.expect == "react" else _json("nothing")


async def test_the_corpus_is_decided_on_the_daemons_path(tmp_path):
    corpus = load_choice_corpus()
    question = ChoiceCase("down", "en", ("when do you land tomorrow?",), "reply")
    cases = [*corpus, question]
    llm = FakeLLM(structured=True)
    responder = _responder(tmp_path, llm)
    guarded = {c.id for c in corpus if _guarded(responder, c)}  # the guard answers these itself (a deferral)
    asked = [c for c in corpus if pure_acknowledgements(c.messages) is None and c.id not in guarded]
    broken = asked[-1]  # answers with broken JSON and no text: nothing, recorded as malformed
    llm.enqueue(*[_scripted(c, i) for i, c in enumerate(asked[:-1])], '{"action": "reply", "emoji', provider_500())
    report = await run_choices(cases, replay_chooser(responder, "usually", FakeClock()), how=HOW)

    assert all(isinstance(m.llm, ChoosingLLM) for m in responder.chain.models)
    # an acknowledgement never reaches the model; every other case does, once, with the JSON instruction
    assert len(llm.prompts) == len(asked) + 1
    for case, prompt in zip([*asked, question], llm.prompts, strict=True):
        assert prompt.structured and "Answer with one JSON object" in prompt.system
        assert case.text in prompt.messages[-1].text
    sources = {r.case.id: r.choice.source for r in report.results}
    assert guarded and {sources[g] for g in guarded} == {"guard"}
    assert Counter(sources.values()) == {"precheck": len(corpus) - len(asked) - len(guarded), "guard": len(guarded),
                                         "model": len(asked) - 1, "malformed": 1, "failed": 1}
    assert report.sources["plain"] == 0 and "sources: precheck " in report.rule and HOW in report.rule
    for r in report.results:
        if r.choice.source == "precheck":  # a reaction (its emoji) or nothing, never a reply
            assert r.choice.kind in ("react", "nothing") and (r.choice.kind == "nothing") == (not r.choice.emoji)
    forced = {c.id for i, c in enumerate(asked[:-1]) if i % 5 == 0 and c.expect != "reply"}
    for r in report.results:
        if r.choice.source == "model":
            assert r.exact == (r.case.id not in forced), r.case.id
    made = next(r.choice for r in report.results if r.case.id == broken.id)
    assert (made.kind, made.source) == ("nothing", "malformed") and "not JSON" in made.reason
    down = report.results[-1].choice
    assert (down.kind, down.source) == ("nothing", "failed") and "HTTP 500" in down.reason
    # the agreement is the share of exact choices, per language too
    exact = sum(r.exact for r in report.results)
    assert report.agreement == round(100 * exact / len(cases), 1) and report.acceptable >= report.agreement
    assert set(report.by_language()) == {"en", "ru"}


async def test_a_provider_without_json_answers_in_plain_text_and_replies(tmp_path):
    cases = [c for c in load_choice_corpus() if pure_acknowledgements(c.messages) is None][:3]
    llm = FakeLLM("sure, sounds good", "maybe later then", "да, конечно", structured=False)
    report = await run_choices(cases, replay_chooser(_responder(tmp_path, llm), "usually", FakeClock()), how=HOW)
    assert [(r.choice.kind, r.choice.source) for r in report.results] == [("reply", "plain")] * 3
    assert not any(p.structured or "JSON" in p.system for p in llm.prompts)  # asked as it would be asked live


async def test_the_chat_so_far_and_the_folded_burst_reach_the_model(tmp_path):
    burst = next(c for c in load_choice_corpus() if len(c.messages) > 1 and c.context
                 and pure_acknowledgements(c.messages) is None)
    llm = FakeLLM(_json("reply", "ok, see you then, bring the charger"), structured=True)
    await run_choices([burst], replay_chooser(_responder(tmp_path, llm), "usually", FakeClock()))
    prompt = llm.prompts[0]
    assert "\n".join(burst.messages) in prompt.messages[-1].text
    assert [m.text for m in prompt.messages[:-1]] == [t for _, t in burst.context]


async def test_acknowledgements_follow_the_setting_and_the_seed(tmp_path):
    acks = [c for c in load_choice_corpus() if pure_acknowledgements(c.messages) is not None]
    assert acks and len({case_seed(c) for c in acks}) == len(acks)
    llm = FakeLLM(structured=True)
    never = await run_choices(acks, replay_chooser(_responder(tmp_path, llm), "never", FakeClock()))
    assert {(r.choice.kind, r.choice.source) for r in never.results} == {("nothing", "precheck")}
    usually = await run_choices(acks, replay_chooser(_responder(tmp_path, llm), "usually", FakeClock()))
    assert {r.choice.kind for r in usually.results} == {"react", "nothing"}  # mostly reactions, a few left
    assert sum(r.choice.kind == "react" for r in usually.results) > len(acks) // 2
    again = await run_choices(acks, replay_chooser(_responder(tmp_path, llm), "usually", FakeClock()))
    assert [r.choice for r in again.results] == [r.choice for r in usually.results]
    assert llm.prompts == []
