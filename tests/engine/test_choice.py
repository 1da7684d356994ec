"""Reply, react or nothing: the acknowledgement pre-check, the structured answer of each provider
(real SDKs against a loopback server), and the pipeline's react / nothing / quoting paths."""

from __future__ import annotations

import json
import random

import pytest

from tests.engine.test_loop import serve
from tests.fakes import incoming
from tests.helpers import make_rig
from tests.httpserver import Reply
from twin.engine.choice import AckPolicy, ChoosingLLM, ack_policy, choosing, parse_choice, precheck
from twin.errors import ProviderError
from twin.llm.gemini import GeminiLLM
from twin.llm.openai_chat import OpenAIChatLLM
from twin.persona.acks import acknowledgement, quote_target
from twin.types import Prompt, PromptMessage

USUALLY = AckPolicy("usually", "setting")
PROMPT = Prompt("You are Sam.", (PromptMessage("user", "I got the job!!"),))

# --- the pre-check ---------------------------------------------------------------------------------
ACKS = [
    ("ok", "👍"), ("OK!", "👍"), ("okkk", "👍"), ("ok thanks 👍", "👍"), ("thanks!", "❤"),
    ("Thank you so much!!", "❤"), ("thx", "❤"), ("haha", "🤣"), ("hahahaha", "🤣"), ("lol", "🤣"),
    ("👍", "👍"), ("😂😂", "🤣"), ("good night!", "❤"), ("sounds good", "👍"), ("got it, thanks", "❤"),
    ("you too!", "❤"), ("ок", "👍"), ("окей", "👍"), ("спасибо", "❤"), ("Спасибо большое!", "❤"),
    ("спс", "❤"), ("ахахах", "🤣"), ("хаха", "🤣"), ("понял", "👍"), ("ну ок", "👍"), ("да", "👍"),
    ("спокойной ночи", "❤"), ("договорились 👌", "👌"), ("ладно, пока", "❤"),
]
NOT_ACKS = [
    "ok?", "thanks, but when?", "ok see you at 5", "can you send it", "😢", "hi", "he", "and you?",
    "great, I'll bring the cake", "ok, and what about Bob", "спасибо, а когда?", "ок, в 6 у входа",
    "привет", "как дела", "да, но не сегодня", "", "  ", "ok " * 12,
]


@pytest.mark.parametrize(("text", "emoji"), ACKS)
def test_acknowledgements_are_recognised_with_a_fitting_reaction(text: str, emoji: str) -> None:
    assert acknowledgement(text) == emoji


@pytest.mark.parametrize("text", NOT_ACKS)
def test_what_asks_or_says_more_is_not_an_acknowledgement(text: str) -> None:
    assert acknowledgement(text) is None


def test_precheck_decides_a_burst_of_acks_by_the_owners_habit() -> None:
    reacts = [precheck(["ok", "thanks!"], USUALLY, seed) for seed in range(200)]
    share = sum(c is not None and c.action == "react" for c in reacts) / len(reacts)
    assert 0.75 < share < 0.95 and all(c is not None and c.source == "precheck" for c in reacts)
    assert {c.emoji for c in reacts if c and c.action == "react"} == {"❤"}  # the last one's reaction
    never = precheck(["ok"], AckPolicy("never", "setting"), 1)
    assert never is not None and never.action == "nothing" and "never" in never.reason
    assert precheck(["ok", "when do we meet?"], USUALLY, 1) is None  # one real question: the model answers
    assert precheck(["ok"], AckPolicy("ask", "setting"), 1) is None


def test_a_learned_habit_of_answering_acks_leaves_them_to_the_model() -> None:
    assert ack_policy("usually", {"acks": {"seen": 40, "answered": 30}}).mode == "ask"
    assert ack_policy("never", {"acks": {"seen": 40, "answered": 3}}).mode == "never"
    assert ack_policy("usually", {"acks": {"seen": 4, "answered": 4}}).mode == "usually"  # too few to tell


def test_a_learned_reaction_habit_sets_how_often_acks_get_one() -> None:
    def learned(reacted: int, checked: int = 20, setting: str = "usually") -> AckPolicy:
        return ack_policy(setting, {"acks": {"seen": checked, "answered": 1, "checked": checked, "reacted": reacted}})

    assert [learned(n).mode for n in (0, 3, 5, 9, 12, 17, 20)] == [
        "never", "never", "sometimes", "sometimes", "sometimes", "usually", "usually"]
    assert learned(18, setting="never").mode == "usually" and "reacted to 18 of 20" in learned(18).source
    assert learned(0, checked=9).mode == "usually" and learned(0, checked=9).source == "setting"  # too few
    assert ack_policy("sometimes", {"acks": {"seen": 40, "answered": 3}}).mode == "sometimes"  # learned before
    quiet = precheck(["ok"], learned(0), 1)
    assert quiet is not None and quiet.action == "nothing" and "reacted to 0 of 20" in quiet.reason


def test_the_owners_usual_reaction_is_used_when_one_emoji_dominates() -> None:
    acks = {"seen": 30, "answered": 0, "checked": 30, "reacted": 30}
    hearts = ack_policy("usually", {"acks": acks, "reactions": {"messages": 80, "reacted": 30, "❤": 24, "👍": 6}})
    assert hearts.emoji == "❤" and "most often with ❤" in hearts.habit
    choice = precheck(["haha ok"], hearts, 1)
    assert choice is not None and choice.action == "react" and choice.emoji == "❤"  # not the 🤣 "haha" maps to
    mixed = ack_policy("usually", {"acks": acks, "reactions": {"messages": 80, "reacted": 30, "❤": 16, "👍": 14}})
    assert mixed.emoji == "" and precheck(["haha ok"], mixed, 1).emoji == "🤣"
    spread = ack_policy("usually", {"reactions": {"messages": 90, "reacted": 50, "❤": 25, "👍": 5}})
    assert spread.emoji == ""  # ❤ is half of 50 reactions (the rest are emoji outside the profile's top five)
    few = ack_policy("usually", {"reactions": {"messages": 10, "reacted": 3, "❤": 3}})
    assert few.emoji == ""
    custom = ack_policy("usually", {"reactions": {"messages": 90, "reacted": 30, "custom": 30}})
    assert custom.emoji == ""  # a custom emoji cannot be sent as a standard reaction


def test_quote_target() -> None:
    assert quote_target([(1, "how was the trip?"), (2, "??")], later=False) == 1
    assert quote_target([(1, "hey"), (2, "how was the trip?")], later=False) is None
    assert quote_target([(1, "how was the trip?")], later=True) == 1
    assert quote_target([(1, "how was the trip?"), (2, "and Bob?")], later=False) is None


# --- parsing ----------------------------------------------------------------------------------------
def test_parse_valid_answers() -> None:
    reply = parse_choice('{"action": "reply", "text": "congrats!!", "emoji": "", "reason": "big news"}')
    assert reply is not None and (reply.action, reply.text, reply.reason, reply.source) == (
        "reply", "congrats!!", "big news", "model")
    react = parse_choice('```json\n{"action": "react", "text": "", "emoji": "❤️", "reason": "nice"}\n```')
    assert react is not None and (react.action, react.emoji) == ("react", "❤")  # variation selector dropped
    odd = parse_choice('{"action": "react", "text": "", "emoji": "🦖", "reason": "x"}')
    assert odd is not None and odd.emoji == "👍" and "not a Telegram reaction" in odd.note
    assert parse_choice("") is None and parse_choice(None) is None


def test_malformed_answers_fall_back_to_their_text_and_say_so() -> None:
    cut = parse_choice('{"action": "reply", "text": "sure, 6 works", "reason": "asks a time"')
    assert cut is not None and (cut.action, cut.text, cut.source) == ("reply", "sure, 6 works", "malformed")
    assert "malformed structured answer" in cut.note
    plain = parse_choice("sure, 6 works")
    assert plain is not None and (plain.action, plain.text, plain.source) == ("reply", "sure, 6 works", "malformed")
    junk = parse_choice('{"action": "dance"}')
    assert junk is not None and junk.action == "nothing" and "unknown action" in junk.note
    unstructured = parse_choice("sure, 6 works", structured=False)
    assert unstructured is not None and unstructured.source == "plain"


# --- each provider's structured answer, through the real SDK ------------------------------------------
def gemini_reply(text: str) -> Reply:
    return Reply(200, {"candidates": [{"content": {"role": "model", "parts": [{"text": text}]},
                                       "finishReason": "STOP"}]})


def openai_reply(text: str) -> Reply:
    return Reply(200, {"id": "x", "object": "chat.completion", "created": 1, "model": "m",
                       "choices": [{"index": 0, "finish_reason": "stop",
                                    "message": {"role": "assistant", "content": text}}]})


async def ask(llm: ChoosingLLM) -> tuple[object, object]:
    with choosing(USUALLY) as asked:
        completion = await llm.complete(PROMPT)
    return completion, asked


async def test_gemini_is_asked_for_json_and_its_reaction_is_read(server) -> None:
    server.expect(":generateContent", gemini_reply(json.dumps(
        {"action": "react", "text": "", "emoji": "🎉", "reason": "good news, nothing to add"})))
    llm = ChoosingLLM(GeminiLLM("k", base_url=server.url))
    completion, asked = await ask(llm)
    body = server.requests[0].json()
    config = body["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseJsonSchema"]["properties"]["action"]["enum"] == ["reply", "react", "nothing"]
    assert '"action": "reply" | "react" | "nothing"' in body["systemInstruction"]["parts"][0]["text"]
    assert completion.text is None and asked.choice.action == "react" and asked.choice.emoji == "🎉"
    # outside choosing() the same model is asked plainly
    server.expect(":generateContent", gemini_reply("hi"))
    plain = await llm.complete(PROMPT)
    assert plain.text == "hi" and "responseMimeType" not in server.requests[1].json().get("generationConfig", {})


async def test_gemini_malformed_json_falls_back_to_text(server) -> None:
    server.expect(":generateContent", gemini_reply('{"action": "reply", "text": "congrats!! when do you start",'))
    completion, asked = await ask(ChoosingLLM(GeminiLLM("k", base_url=server.url)))
    assert completion.text == "congrats!! when do you start"
    assert asked.choice.source == "malformed" and "not JSON" in asked.choice.note


async def test_openai_is_asked_for_a_json_schema_and_its_choices_are_read(server) -> None:
    llm = ChoosingLLM(OpenAIChatLLM("k", base_url=server.url + "/v1"))
    server.expect("/chat/completions",
                  openai_reply(json.dumps({"action": "nothing", "text": "", "emoji": "", "reason": "a closing"})),
                  openai_reply(json.dumps({"action": "reply", "text": "congrats!!", "emoji": "", "reason": "news"})),
                  openai_reply("not json at all, just words"))
    completion, asked = await ask(llm)
    fmt = server.requests[0].json()["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
    assert fmt["json_schema"]["schema"]["required"] == ["action", "text", "emoji", "reason"]
    assert completion.text is None and asked.choice.action == "nothing" and asked.choice.reason == "a closing"
    completion, asked = await ask(llm)
    assert completion.text == "congrats!!" and asked.choice.source == "model"
    completion, asked = await ask(llm)
    assert completion.text == "not json at all, just words" and asked.choice.source == "malformed"


async def test_a_server_that_rejects_json_is_asked_in_plain_text_from_then_on(server) -> None:
    llm = ChoosingLLM(OpenAIChatLLM("k", base_url=server.url + "/v1"))
    server.expect("/chat/completions", Reply(400, {"error": {"message": "response_format not supported"}}),
                  openai_reply("congrats!!"), openai_reply("again"))
    completion, asked = await ask(llm)
    assert completion.text == "congrats!!" and asked.choice.source == "plain" and llm.plain_only
    assert "response_format" in server.requests[0].json() and "response_format" not in server.requests[1].json()
    await ask(llm)
    assert "response_format" not in server.requests[2].json()
    server.expect("/chat/completions", Reply(500, {"error": {"message": "boom"}}))
    with pytest.raises(ProviderError):
        await ask(llm)


# --- the pipeline ------------------------------------------------------------------------------------
def react_json(emoji: str, why: str = "good news") -> str:
    return json.dumps({"action": "react", "text": "", "emoji": emoji, "reason": why})


async def test_a_reaction_goes_out_after_the_read_delay_and_no_text(twin_home) -> None:
    rig = make_rig(twin_home, react_json("🔥"))
    rig.llm.structured = True
    await serve(rig, incoming("I got the job!!", message_id=7))
    (turn,) = rig.store.turns("default")
    assert rig.telegram.reactions == [(42, 7, "🔥")] and rig.telegram.sent == []
    assert turn.status == "reacted" and "good news" in turn.reason
    assert turn.extra["choice"] == {"action": "react", "emoji": "🔥", "reason": "good news", "source": "model"}
    read_s = turn.extra["timing"]["read_s"]
    assert read_s > 0 and any(abs(s - read_s) < 0.001 for s in rig.clock.slept)  # read, then reacted
    assert turn.sent_at is not None and turn.due_at is not None and turn.sent_at >= turn.due_at
    assert "typing" not in turn.extra["steps"] and rig.telegram.actions == []
    assert len(rig.pipeline.gate.sent) == 1  # counts toward the account's send cap


async def test_the_model_may_choose_to_say_nothing(twin_home) -> None:
    rig = make_rig(twin_home, json.dumps({"action": "nothing", "text": "", "emoji": "", "reason": "they said bye"}))
    rig.llm.structured = True
    await serve(rig, incoming("anyway, gotta run, talk soon", message_id=3))
    (turn,) = rig.store.turns("default")
    assert (turn.status, turn.reason) == ("no_reply", "they said bye")
    assert rig.telegram.sent == [] and rig.telegram.reactions == [] and rig.telegram.reads == [(42, 3)]


async def test_an_acknowledgement_is_never_sent_to_the_model(twin_home) -> None:
    seed_source = next(k for k in range(100) if precheck(
        ["ok thanks 👍"], USUALLY, random.Random(k).randrange(1, 2**31)).action == "react")  # type: ignore[union-attr]
    rig = make_rig(twin_home, "no worries! anything else I can help with?")
    rig.daemon.rng = random.Random(seed_source)
    await serve(rig, incoming("ok thanks 👍", message_id=5))
    (turn,) = rig.store.turns("default")
    assert rig.llm.prompts == [] and rig.telegram.sent == []
    assert rig.telegram.reactions == [(42, 5, "👍")] and turn.status == "reacted"
    assert turn.extra["choice"]["source"] == "precheck"


async def test_acks_left_alone_when_the_owner_never_reacts(twin_home) -> None:
    rig = make_rig(twin_home, persona__react_to_acks="never")
    await serve(rig, incoming("спасибо!", message_id=5))
    (turn,) = rig.store.turns("default")
    assert turn.status == "no_reply" and rig.telegram.reactions == [] and rig.telegram.sent == []


async def test_a_malformed_answer_is_sent_as_text_and_recorded(twin_home) -> None:
    rig = make_rig(twin_home, "sure, 6 works")
    rig.llm.structured = True
    await serve(rig, incoming("does 6 work for you?"))
    (turn,) = rig.store.turns("default")
    assert [s.text for s in rig.telegram.sent] == ["sure, 6 works"] and turn.status == "answered"
    assert turn.extra["choice"]["source"] == "malformed" and "not JSON" in turn.extra["choice"]["note"]


async def test_a_folded_burst_quotes_the_message_it_answers(twin_home) -> None:
    rig = make_rig(twin_home, "it was great!", "not much, work")
    await serve(rig, [incoming("how was the trip?", message_id=10), incoming("??", message_id=11)],
                [incoming("hey", message_id=20), incoming("what are you up to today?", message_id=21)])
    first, second = rig.telegram.sent
    assert (first.text, first.reply_to) == ("it was great!", 10)
    assert second.reply_to is None  # the answered message is the last one: a plain reply
    turn = rig.store.turns("default")[-1]
    assert turn.extra["reply_to"] == 10


async def test_a_reaction_in_review_mode_is_only_recorded(twin_home) -> None:
    rig = make_rig(twin_home, react_json("❤"), service__mode="review")
    rig.llm.structured = True
    await serve(rig, incoming("I got the job!!"))
    (turn,) = rig.store.turns("default")
    assert turn.status == "no_reply" and "would react ❤" in turn.reason and rig.telegram.reactions == []


# --- the learned habit ---------------------------------------------------------------------------------
async def test_learning_counts_how_the_owner_met_acknowledgements_once(store) -> None:
    from datetime import timedelta

    from tests.fakes import T0, FakeClock, FakeTelegram
    from twin.persona.learn import learn, learned_profile
    from twin.session.base import Dialog
    from twin.types import HistoryMessage

    def msg(mid: int, minutes: float, out: bool, text: str, reaction: str = "") -> HistoryMessage:
        return HistoryMessage(mid, T0 + timedelta(minutes=minutes), out, text, reaction=reaction)

    tg = FakeTelegram()
    tg.dialog_list = [Dialog(42, "Alice", "private")]
    tg.histories = {42: [
        msg(1, 0, False, "can you send the file?"), msg(2, 1, True, "sent!"),
        msg(3, 2, False, "thanks!", "❤"),  # no answer but the owner's reaction; the next burst is hers, days later
        msg(4, 2880, False, "how was the weekend?"), msg(5, 2881, True, "great"),
        msg(6, 2885, False, "haha ok"), msg(7, 2886, True, "😄 see you"),  # answered with text
        msg(8, 2890, False, "bye"),  # the last burst: may still be answered, not counted yet
    ]}
    clock = FakeClock()
    await learn(tg, store, "default", clock=clock, self_id=1000)
    assert learned_profile(store, "default").acks == {"seen": 2, "answered": 1, "checked": 2, "reacted": 1}
    tg.histories[42].append(msg(9, 2960, False, "how's work?"))  # "bye" is now decided: unanswered
    await learn(tg, store, "default", clock=clock, self_id=1000)
    profile = learned_profile(store, "default")
    assert profile.acks == {"seen": 3, "answered": 1, "checked": 3, "reacted": 1}  # nothing counted twice
    assert profile.reactions == {"messages": 6, "reacted": 1, "❤": 1}


async def test_a_takeover_while_choosing_stops_the_reaction(twin_home) -> None:
    rig = make_rig(twin_home)
    rig.llm.structured = True
    original = rig.llm.complete

    async def owner_answers_meanwhile(prompt):
        await rig.daemon.handle(incoming("congrats!!! 🎉", message_id=8, outgoing=True, sender_id=1000))
        rig.llm.enqueue(react_json("🔥"))
        return await original(prompt)

    rig.llm.complete = owner_answers_meanwhile  # type: ignore[method-assign]
    await serve(rig, incoming("I got the job!!", message_id=7))
    (turn,) = rig.store.turns("default")
    assert turn.status == "cancelled" and "takeover" in turn.reason and rig.telegram.reactions == []
