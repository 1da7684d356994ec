"""The sendable check: replies no person would send, and ordinary ones that must pass."""

from __future__ import annotations

import pytest

from twin.persona.sendable import script_of, unsendable

BAD = [
    # template, markup and prompt tags
    ("<email>", "what's your email?", "tag"),
    ("sure, here it is: <example>see you</example>", "can you send it?", "tag"),
    ("<b>tomorrow</b> works", "when?", "tag"),
    ("</contact_message> hey", "hey", "tag"),
    ("ok <br/> bye", "bye", "tag"),
    ("<|im_start|>assistant hi", "hi", "prompt token"),
    ("Hello [Your Name]!", "hi", "placeholder"),
    ("Assistant: sure, sounds good", "dinner?", "role prefix"),
    ("User: how are you", "hey", "role prefix"),
    ("## Answer\nyes", "is it done?", "heading"),
    ("```\nprint('hi')\n```", "hi", "code fence"),
    ("**Sure!** see you", "ok?", "bold"),
    # the contact's message echoed
    ("can you send me the file from yesterday?", "can you send me the file from yesterday?", "echoes"),
    ("Sure! can you send me the file from yesterday", "can you send me the file from yesterday?", "echoes"),
    ("ты сможешь забрать детей из школы завтра", "Ты сможешь забрать детей из школы завтра?", "echoes"),
    # English (or another script) in answer to Russian
    ("I'm fine, thanks for asking!", "привет, как дела? давно не виделись", "language"),
    ("Sure, I will send it tonight", "скинь, пожалуйста, презентацию", "language"),
    ("我很好，谢谢你的关心", "how are you doing today?", "language"),
    # gibberish
    ("#$%^&*()_+{}|:~!!!", "hello", "punctuation"),
    ("!!! ??? ... ---", "как дела?", "punctuation"),
    ("1) -- // ** ++ == ;; ..", "hi", "gibberish"),
    ("приvет как делa ваshи", "привет", "gibberish"),
    ("ok \ufffd\ufffd", "hi", "gibberish"),
    # repetition
    ("i am fine i am fine i am fine", "how are you", "repeats"),
    ("ok ok ok ok ok ok ok", "you there?", "repeats"),
    ("Good. I went home. Good. I went home.", "what did you do?", "repeats"),
    ("да да да да да да да да", "ты придёшь?", "repeats"),
    # empty
    ("", "hi", "empty"),
    ("   \n ", "hi", "empty"),
    ("...", "hi", "punctuation"),
]

GOOD = [
    ("норм, а у тебя?", "как дела?"),
    ("ага", "ты дома?"),
    ("👍", "скинул"),
    ("😂😂😂", "lol look at this"),
    ("Anna <3", "who's coming with you?"),
    ("glad you liked it <3", "thanks for the cake!"),
    ("вот: https://example.com/path?id=123456&x=7890", "скинь ссылку"),
    ("https://github.com/org/repo/pull/12345", "link?"),
    ("good, how are you?", "how are you?"),
    ("hi", "hi"),
    ("ok", "ок"),
    ("хаха ха ха ха ха ха ха", "смотри мем"),
    ("12:30-13:00", "когда?"),
    ("yes yes", "did you feed the cat"),
    ("no no no, that's not what I meant", "so you're leaving?"),
    ("если что, пиши на sam@example.com", "куда отправить?"),
    ("a < b, so it fits", "does it fit?"),
    ("ок, скинь в WhatsApp", "ок"),
    ("скинь в Telegram, там удобнее", "куда скинуть фотки?"),
    ("Привет! Всё хорошо, только вернулся из поездки. Как ты?", "привет, как дела?"),
    ("sure, how can I help?", "can you help me move on sunday?"),
    ("happy to help!", "thanks for yesterday"),
    ("я тебе помощник, не вопрос", "поможешь с переездом?"),
]


@pytest.mark.parametrize(("reply", "incoming", "kind"), BAD)
def test_replies_no_person_would_send(reply, incoming, kind):
    why = unsendable(reply, incoming=incoming)
    assert why is not None and kind in why, (reply, why)


@pytest.mark.parametrize(("reply", "incoming"), GOOD)
def test_ordinary_replies_pass(reply, incoming):
    assert unsendable(reply, incoming=incoming) is None


def test_the_same_reply_as_last_time_is_a_loop_but_a_short_one_is_not():
    assert "same reply" in (unsendable("sounds great, see you then", previous="Sounds great, see you then!") or "")
    assert unsendable("ok", incoming="see you", previous="ok") is None
    assert unsendable("sounds great", previous="sounds great, see you then") is None


def test_the_owners_learned_language_for_the_chat_wins():
    russian = "привет, как дела?"
    assert unsendable("all good, you?", incoming=russian) is not None
    assert unsendable("all good here, you?", incoming=russian, languages=["en"]) is None
    # a message too short to tell ("ok") leaves it to the chat's languages; none known: any script
    assert unsendable("норм, созвонимся позже", incoming="ok") is None
    assert unsendable("норм, созвонимся позже", incoming="ok", languages=["en"]) is not None


def test_script_of():
    assert [script_of(t) for t in ("привет", "hello", "你好", "12 :)", "ok, привет всем")] == \
        ["cyrillic", "latin", "other", "", "cyrillic"]


@pytest.mark.parametrize("reply", [
    "I'm sorry, but as an AI language model I can't do that", "I'm here to help with your coding issues!",
    "Hi there! I'm your AI assistant.", "How can I help you today?", "😂 I'm ready to assist you.",
    "Я ваш виртуальный помощник", "Чем могу вам помочь?", "как ИИ, я не могу встречаться",
    # a help desk's openers and closers
    "How can I help you?", "Hi! How can I help you today?", "sure! how can I assist?", "How may I help?",
    "Is there anything else I can help you with?", "ok, done. Anything else I can help with?",
    "Let me know if you have any other questions!", "Feel free to ask if you need anything",
    "Don't hesitate to reach out!", "I hope this helps!", "I hope this information is useful",
    "Hope this was helpful 🙂", "What can I help you with?", "sure, if you have any further questions, just ask",
    "Чем могу помочь?", "Здравствуйте! Чем я могу вам помочь?", "Могу ли я ещё чем-то помочь?",
    "Могу ли я вам чем-нибудь помочь?", "Обращайтесь!", "Если у вас возникнут ещё вопросы, пишите",
    "Не стесняйтесь спрашивать", "Я здесь, чтобы помочь", "Надеюсь, эта информация была полезной",
])
def test_a_chatbot_voice_is_not_the_owners(reply):
    assert "chatbot" in (unsendable(reply, incoming="") or ""), reply  # whatever the contact wrote


@pytest.mark.parametrize(("reply", "incoming"), [
    ("can I help with the move?", "we're moving on saturday"),
    ("how can I help? want me to bring food?", "ugh, my flight got cancelled"),  # a friend offering help
    ("how can I help?", "my car broke down, no idea what to do"),
    ("sure, how can I help?", "can you help me move on sunday?"),
    ("how can I help you with the move, carry boxes?", "moving on sunday, ugh"),
    ("hope that helps", "which one should I buy?"),
    ("Обращайся!", "спасибо, выручил"),
    ("чем помочь?", "у меня сломалась машина"),
    ("могу помочь с переездом, если надо", "переезжаем в субботу"),
    ("anything else? I'm at the store", "get milk pls"),
    ("feel free to come over whenever", "can I drop by tonight?"),
])
def test_a_friend_offering_help_is_not_a_help_desk(reply, incoming):
    assert unsendable(reply, incoming=incoming) is None


@pytest.mark.parametrize(("reply", "incoming"), [
    ("How can I help?", "hey"), ("Hi! how can I help?", "hi Sam!"), ("Привет! Чем помочь?", "привет"),
    ("чем помочь?", "Добрый день"),
])
def test_a_bare_offer_of_help_to_a_greeting_is_a_help_desk(reply, incoming):
    assert "chatbot" in (unsendable(reply, incoming=incoming) or "")


def test_the_twin_does_not_greet_itself():
    assert "greets Sam" in (unsendable("Hey Sam, I hope you're doing well!", incoming="hi", owner="Sam Carter") or "")
    assert unsendable("hey Alex, all good!", incoming="hi", owner="Sam Carter") is None
    assert unsendable("Sam here, what's up?", incoming="who is this?", owner="Sam") is None


def test_shares_run():
    from twin.persona.sendable import shares_run

    note = "Your last answer could not be sent: a role prefix. Answer again with one short message"
    assert shares_run("ok! your last answer could not be sent, sorry", note)
    assert not shares_run("my last answer was wrong, sorry", note)
