"""The choice corpus (reply, react or nothing) and its scoring through `twin eval --choices`."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.httpserver import Recorded, Reply, ScriptedServer
from tests.test_cli import twin
from twin.errors import ConfigError
from twin.persona.choice_eval import (
    CHOICES,
    DEFAULT_CORPUS,
    Choice,
    load_choice_corpus,
    score_choices,
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


def test_scoring_takes_choices_as_values():
    cases = load_choice_corpus()[:3]
    structured = [Choice("react", emoji="👍", source="precheck"), Choice("nothing", source="model"),
                  Choice("reply", text="hi", source="model")]
    report = score_choices(cases, structured, how="scripted")
    assert [r.exact for r in report.results] == [c.expect == s.kind for c, s in zip(cases, structured, strict=True)]
    assert report.sources == {"precheck": 1, "model": 2, "plain": 0, "malformed": 0, "guard": 0, "empty": 0,
                              "failed": 0}
    assert report.rule == "scripted; sources: precheck 1, model 2, plain 0, malformed 0"
    odd = score_choices(cases[:1], [Choice("nothing", source="")])
    assert odd.rule == "sources: precheck 0, model 0, plain 0, malformed 0, unknown 1"
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


CORPUS = """
[[case]]
id = "q"
lang = "en"
messages = ["are you around tonight?"]
expect = "reply"

[[case]]
id = "thanks"
lang = "en"
context = [{ owner = "sent it" }]
messages = ["thanks!"]
expect = "react"
emoji = "👍"
also = ["nothing"]

[[case]]
id = "ok"
lang = "ru"
messages = ["ок"]
expect = "nothing"
also = ["react"]

[[case]]
id = "view"
lang = "en"
messages = ["the view from the top this morning"]
expect = "react"
also = ["reply"]

[[case]]
id = "trip"
lang = "en"
messages = ["so how was the trip in the end"]
expect = "reply"
"""

ANSWERS = {  # the contact's words -> what the scripted model answers (the JSON the instruction asks for)
    "tonight": '{"action": "reply", "text": "yes, why? want to grab dinner", "emoji": "", "reason": "a question"}',
    "view": '{"action": "react", "emoji": "🔥", "text": "", "reason": "a photo to admire"}',
    "trip": '{"action": "reply", "text": "it was great, the mountains!", "reason": "a question',  # cut off
}


def test_twin_eval_choices_takes_the_daemons_path_through_an_openai_compatible_server(twin_home,
                                                                                      server: ScriptedServer):
    corpus = twin_home / "choices.toml"
    corpus.write_text(CORPUS, encoding="utf-8")

    def answer(request: Recorded) -> Reply:
        last = str(request.json()["messages"][-1]["content"])  # type: ignore[index]
        text = next((a for k, a in ANSWERS.items() if k in last), '{"action": "nothing"}')
        return Reply(body={"choices": [{"message": {"role": "assistant", "content": text}}]})

    server.default = answer
    out = twin(twin_home, "eval", "--choices", "--corpus", str(corpus),
               env={"TWIN_LLM_PROVIDER": "openai", "TWIN_LLM_BASE_URL": server.url + "/v1", "TWIN_LLM_RETRIES": "0",
                    "TWIN_PERSONA_REACT_TO_ACKS": "never"})
    assert out.returncode == 0, out.stderr
    said = " ".join(out.stdout.split())
    # q reply, view react, trip reply (its text salvaged) agree; "thanks!" left unanswered is acceptable only
    assert "80.0% exact agreement (en 75.0%, ru 100.0%); 100.0% acceptable; 5 cases" in said
    assert "as the daemon decides" in said and "sources: precheck 2, model 2, plain 0, malformed 1" in said
    assert "derived" not in said and "it was great, the mountains!" in said  # the malformed answer's text
    # the acknowledgements were decided before any model: only three cases reached the server
    assert len(server.requests) == 3
    for request in server.requests:
        body = request.json()
        assert isinstance(body, dict)
        assert body["response_format"]["type"] == "json_schema"
        system = str(body["messages"][0]["content"])
        assert "Answer with one JSON object" in system and "leave them without an answer" in system
        assert not any(w in str(body["messages"][-1]["content"]) for w in ("thanks!", "ок"))
