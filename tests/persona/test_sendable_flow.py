"""Inside the running twin: an unsendable reply is regenerated once, then held for the owner;
Russian bot questions are disclosed; the bundled local model drafts for review on a real account."""

from __future__ import annotations

from tests.engine.test_loop import serve
from tests.fakes import incoming
from tests.helpers import make_rig
from twin.engine.review import pending


def _to_contact(rig):
    return [s.text for s in rig.telegram.sent if s.chat_id == 42]


def _to_owner(rig):
    return [s.text for s in rig.telegram.sent if s.chat_id == rig.telegram.me.id]


async def test_an_unsendable_reply_is_regenerated_once_and_the_second_goes_out(twin_home):
    rig = make_rig(twin_home, "<email>", "sure, it's sam@example.com")
    await serve(rig, incoming("what's your email?"))
    (turn,) = rig.store.turns("default")
    assert turn.status == "answered" and _to_contact(rig) == ["sure, it's sam@example.com"]
    first, second = rig.llm.prompts
    assert "could not be sent" not in first.system
    assert "could not be sent: a markup or template tag ('<email>')" in second.system
    assert second.messages == first.messages
    assert turn.extra["unsendable"] == ["a markup or template tag ('<email>')"]


async def test_unsendable_twice_is_held_for_the_owner_never_sent(twin_home):
    rig = make_rig(twin_home, "</contact_message> hey", "Assistant: hey")
    await serve(rig, incoming("hey"))
    (turn,) = rig.store.turns("default")
    assert _to_contact(rig) == []
    assert turn.status == "review" and turn.reply_text == "Assistant: hey"
    assert turn.reason.startswith("needs the owner: no person would send this reply")
    assert "role prefix" in turn.reason and "twin review" in turn.reason
    assert turn.extra["unsendable"] == ["a markup or template tag ('</contact_message>')",
                                        "a role prefix ('Assistant:')"]
    assert [t.id for t in pending(rig.store, "default")] == [turn.id]
    assert len(rig.llm.prompts) == 2  # one regeneration, no more
    assert any("held" in text for text in _to_owner(rig))


async def test_english_to_a_russian_message_is_retried_in_russian(twin_home):
    rig = make_rig(twin_home, "I'm good, thanks for asking!", "норм, а ты как?")
    await serve(rig, incoming("привет, как дела? давно не виделись"))
    assert _to_contact(rig) == ["норм, а ты как?"]
    assert "in Russian" in rig.llm.prompts[1].system


async def test_an_echo_then_an_empty_answer_holds_the_echo(twin_home):
    rig = make_rig(twin_home, "can you pick up the kids tomorrow", None)
    await serve(rig, incoming("can you pick up the kids tomorrow?"))
    (turn,) = rig.store.turns("default")
    assert _to_contact(rig) == [] and turn.status == "review"
    assert turn.reply_text == "can you pick up the kids tomorrow" and "echoes" in turn.reason


async def test_a_reply_that_only_repeats_the_last_one_is_regenerated(twin_home):
    rig = make_rig(twin_home, "glad you liked it, it was fun", "glad you liked it, it was fun", "haha same")
    await serve(rig, incoming("dinner was great"), incoming("the dessert was amazing too", message_id=10))
    assert _to_contact(rig) == ["glad you liked it, it was fun", "haha same"]


async def test_a_russian_bot_question_is_disclosed_in_russian(twin_home):
    rig = make_rig(twin_home, "нет, это я")
    await serve(rig, incoming("а ты случайно не бот?"))
    (turn,) = rig.store.turns("default")
    assert turn.status == "answered" and rig.llm.prompts == []
    assert _to_contact(rig)[0].startswith("Привет! Сейчас за") and "ассистент" in _to_contact(rig)[0]


async def test_the_local_model_drafts_for_review_on_a_real_account(twin_home):
    rig = make_rig(twin_home, "hey! all good", telegram__backend="telethon")
    rig.llm.provider = "local"
    await serve(rig, incoming("how are you?"))
    (turn,) = rig.store.turns("default")
    assert _to_contact(rig) == [] and turn.status == "review" and turn.reply_text == "hey! all good"
    assert "llm.local_autosend" in turn.reason
    assert any("twin review" in text for text in _to_owner(rig))


async def test_the_local_model_still_answers_in_the_sandbox_and_when_opted_in(twin_home):
    for overrides in ({"telegram__backend": "sandbox"}, {"telegram__backend": "telethon", "llm__local_autosend": True}):
        home = twin_home / str(len(overrides))
        home.mkdir()
        rig = make_rig(home, "hey! all good", **overrides)
        rig.llm.provider = "local"
        await serve(rig, incoming("how are you?"))
        assert _to_contact(rig) == ["hey! all good"], overrides


async def test_other_models_and_the_guards_own_words_are_not_held(twin_home):
    rig = make_rig(twin_home, "hey! all good", telegram__backend="telethon")
    await serve(rig, incoming("how are you?"))  # FakeLLM is not the local model
    (twin_home / "local").mkdir()
    local = make_rig(twin_home / "local", "unused", telegram__backend="telethon")
    local.llm.provider = "local"
    await serve(local, incoming("are you a bot?"))  # the disclosure is twin's own text, not the model's
    assert _to_contact(rig) == ["hey! all good"]
    assert _to_contact(local)[0].startswith("Hi! This is") and local.llm.prompts == []


async def test_a_failing_retry_keeps_the_first_draft_for_the_owner(twin_home):
    from tests.fakes import provider_500

    rig = make_rig(twin_home, "<b>hey</b>", provider_500(), llm__retries=0)
    await serve(rig, incoming("hey"))
    (turn,) = rig.store.turns("default")
    assert _to_contact(rig) == [] and turn.status == "review" and turn.reply_text == "<b>hey</b>"
    assert "the retry failed" in turn.reason and "HTTP 500" in turn.reason


async def test_a_retry_that_parrots_the_note_is_held(twin_home):
    rig = make_rig(twin_home, "<b>hey</b>", "ok. Your last answer could not be sent: a markup or template tag")
    await serve(rig, incoming("hey"))
    (turn,) = rig.store.turns("default")
    assert _to_contact(rig) == [] and turn.status == "review" and "repeats the note" in turn.reason
