"""The choice corpus (reply, react or nothing) and its scoring through `twin eval --choices`."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.fakes import FakeClock, FakeLLM, provider_500
from tests.httpserver import Recorded, Reply, ScriptedServer
from tests.test_cli import twin
from twin.errors import ConfigError
from twin.persona.choice_eval import (
    CHOICES,
    DEFAULT_CORPUS,
    Choice,
    choice_from_text,
    load_choice_corpus,
    run_choices,
    score_choices,
    text_chooser,
)
from twin.persona.profile import Persona

PERSONA = Persona(name="Sam", about="A developer in Berlin.", style="short, lowercase", language="en")
ACKS = {"ok", "ок", "thanks!", "спасибо!", "👍", "haha", "hahaha", "ахахах", "понял", "спс", "k", "ага"}


def test_the_corpus_has_enough_short_exchanges_in_english_and_russian():
    cases = load_choice_corpus()
    assert DEFAULT_CORPUS.parent.name == "data" and len(cases) >= 60
    assert len({c.id for c in cases}) == len(cases)
    per_language = Counter(c.lang for c in cases)
    assert set(per_language) == {"en", "ru"} and min(per_language.values()) >= 25
    for lang in ("en", "ru"):
        assert {c.expect for c in cases if c.lang == lang} == set(CHOICES), lang
    for case in cases:
        if case.text.lower() in ACKS:  # acknowledgements and closings: a reaction or nothing, never a reply
            assert case.expect != "reply" and "reply" not in case.also, case.id
        if case.messages[-1].rstrip().endswith("?") and not case.messages[-1].startswith("right"):
            assert case.expect == "reply", case.id  # a question gets an answer
        assert case.expect not in case.also, case.id
        assert case.emoji == "" or case.expect == "react", case.id
    assert next(c for c in cases if c.id == "en-ok-thanks").text == "ok thanks 👍"


@pytest.mark.parametrize(("text", "kind", "emoji"), [
    (None, "nothing", ""), ("", "nothing", ""), ("  \n", "nothing", ""), ("👍", "react", "👍"),
    ("😂😂", "react", "😂"), ("❤️", "react", "❤️"), ("ok 👍", "reply", ""), ("sure, at 7", "reply", ""),
    ("ок", "reply", ""),
])
def test_the_derived_rule(text, kind, emoji):
    choice = choice_from_text(text)
    assert (choice.kind, choice.emoji) == (kind, emoji)


def _answer(case, index):
    """A scripted model: it does what the corpus expects, except that every fourth case it replies."""
    if index % 4 == 0 or case.expect == "reply":
        return f"sure — about '{case.messages[-1][:10]}'"
    return (case.emoji or "👍") if case.expect == "react" else None


async def test_a_scripted_model_is_scored_case_by_case():
    cases = load_choice_corpus()
    llm = FakeLLM(*[_answer(c, i) for i, c in enumerate(cases)], provider_500(), default=None)
    report = await run_choices(cases + cases[:1], text_chooser(llm, PERSONA, clock=FakeClock(), retries=0),
                               provider=llm.provider, model=llm.model)
    forced = [c for i, c in enumerate(cases) if i % 4 == 0 and c.expect != "reply"]
    assert report.results[-1].choice == Choice("nothing", reason="model failed: fake provider: HTTP 500")
    n = len(cases) + 1
    wrong = len(forced) + (cases[0].expect != "nothing")
    assert report.agreement == round(100 * (n - wrong) / n, 1)
    assert report.confusion[("react", "reply")] == sum(c.expect == "react" for c in forced)
    assert report.confusion[("nothing", "reply")] == sum(c.expect == "nothing" for c in forced)
    assert sum(report.confusion.values()) == n and report.confusion[("reply", "react")] == 0
    assert report.acceptable >= report.agreement
    assert set(report.by_language()) == {"en", "ru"}
    # the model saw the chat so far and the contact's burst folded into one message
    burst = next(i for i, c in enumerate(cases) if len(c.messages) > 1)
    prompt = llm.prompts[burst]
    assert "\n".join(cases[burst].messages) in prompt.messages[-1].text
    assert [m.text for m in prompt.messages[:-1]] == [t for _, t in cases[burst].context]
    assert [m.role for m in prompt.messages[:-1]] == ["assistant" if o else "user" for o, _ in cases[burst].context]


def test_scoring_takes_choices_as_values():
    cases = load_choice_corpus()[:3]
    structured = [Choice("react", emoji="👍"), Choice("nothing"), Choice("reply", text="hi")]
    report = score_choices(cases, structured, rule="structured")
    assert [r.exact for r in report.results] == [c.expect == s.kind for c, s in zip(cases, structured, strict=True)]
    with pytest.raises(ValueError):
        score_choices(cases, structured[:2])


def test_a_malformed_corpus_names_the_case(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[[case]]\nid = "x1"\nmessages = ["ok"]\nexpect = "maybe"\n')
    with pytest.raises(ConfigError, match="x1.*one of reply, react, nothing"):
        load_choice_corpus(bad)
    bad.write_text('[[case]]\nid = "x2"\nmessages = ["ok"]\nexpect = "reply"\ncontext = [{ boss = "hi" }]\n')
    with pytest.raises(ConfigError, match="x2.*owner"):
        load_choice_corpus(bad)
    with pytest.raises(ConfigError, match="no choice corpus"):
        load_choice_corpus(tmp_path / "missing.toml")


def test_twin_eval_choices_through_an_openai_compatible_server(twin_home, server: ScriptedServer):
    corpus = twin_home / "choices.toml"
    corpus.write_text(
        '[[case]]\nid = "q"\nlang = "en"\nmessages = ["are you around tonight?"]\nexpect = "reply"\n\n'
        '[[case]]\nid = "thanks"\nlang = "en"\ncontext = [{ owner = "sent it" }]\nmessages = ["thanks!"]\n'
        'expect = "react"\nemoji = "👍"\nalso = ["nothing"]\n\n'
        '[[case]]\nid = "ok"\nlang = "ru"\nmessages = ["ок"]\nexpect = "nothing"\nalso = ["react"]\n',
        encoding="utf-8")

    def answer(request: Recorded) -> Reply:
        last = str(request.json()["messages"][-1]["content"])  # type: ignore[index]
        text = "yes, why?" if "tonight" in last else "👍"
        return Reply(body={"choices": [{"message": {"role": "assistant", "content": text}}]})

    server.default = answer
    out = twin(twin_home, "eval", "--choices", "--corpus", str(corpus),
               env={"TWIN_LLM_PROVIDER": "openai", "TWIN_LLM_BASE_URL": server.url + "/v1", "TWIN_LLM_RETRIES": "0"})
    assert out.returncode == 0, out.stderr
    assert "66.7% exact agreement (en 100.0%, ru 0.0%); 100.0% acceptable; 3 cases" in out.stdout
    assert "derived from the plain reply" in out.stdout
    assert len(server.requests) == 3
