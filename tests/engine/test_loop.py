"""The whole loop with fakes: incoming -> rules -> stored turn -> model -> send -> recorded."""

from __future__ import annotations

import asyncio

from tests.fakes import T0, incoming, provider_500
from tests.helpers import make_rig
from twin.errors import TelegramError
from twin.types import HistoryMessage


def turns_of(prompt):
    """The prompt's turns with the contact's delimiting tags taken off (they are untrusted text)."""
    out = []
    for m in prompt.messages:
        text = m.text
        if m.role == "user":
            assert text.startswith("<contact_message>\n") and text.endswith("\n</contact_message>"), text
            text = text[len("<contact_message>\n"):-len("\n</contact_message>")]
        out.append((m.role, text))
    return out


async def deliver(rig, *messages):
    rig.telegram.push(*messages)
    for _ in range(100):
        await asyncio.sleep(0)
        if rig.telegram._queue.empty():
            break
    await rig.daemon.idle()


async def serve(rig, *batches):
    """Run the daemon; each batch arrives at once, the next only after the queue drained."""
    stop = asyncio.Event()
    task = asyncio.create_task(rig.daemon.run(stop))
    await rig.daemon.connected.wait()
    for batch in batches:
        await deliver(rig, *(batch if isinstance(batch, list) else [batch]))
    await rig.daemon.idle()
    stop.set()
    await task


async def test_one_message_one_reply_one_turn(twin_home):
    rig = make_rig(twin_home, "hey! all good, you?")
    rig.telegram.histories[42] = [
        HistoryMessage(1, T0, False, "long time no see"),
        HistoryMessage(2, T0, True, "indeed"),
    ]
    await serve(rig, incoming("how are you?", message_id=3))

    assert [(s.chat_id, s.text) for s in rig.telegram.sent] == [(42, "hey! all good, you?")]
    (prompt,) = rig.llm.prompts
    assert turns_of(prompt) == [("user", "long time no see"), ("assistant", "indeed"), ("user", "how are you?")]
    assert "Sam" in prompt.system  # the embedded default persona
    (turn,) = rig.store.turns("default")
    assert turn.status == "answered"
    assert turn.incoming_ids == (3,) and turn.reply_ids == (rig.telegram.sent[0].message_id,)
    assert turn.provider == "fake" and turn.model == "fake-1"
    assert turn.sent_at is not None and turn.random_id == rig.telegram.sent[0].random_id
    # first contact fetched history once; a second message does not fetch again
    assert rig.telegram.history_calls == [(42, 20, 0)]


async def test_second_message_uses_stored_context(twin_home):
    rig = make_rig(twin_home, "first answer", "second answer")
    await serve(rig, incoming("one", message_id=10), incoming("two", message_id=12))
    assert [s.text for s in rig.telegram.sent] == ["first answer", "second answer"]
    second = rig.llm.prompts[1]
    assert turns_of(second) == [("user", "one"), ("assistant", "first answer"), ("user", "two")]
    assert len(rig.telegram.history_calls) == 1


async def test_provider_failure_waits_for_the_next_try_then_answers(twin_home):
    rig = make_rig(twin_home, *[provider_500()] * 4, "back again")
    await serve(rig, incoming("hello?"))
    assert [s.text for s in rig.telegram.sent if s.chat_id == 42] == ["back again"]
    (turn,) = rig.store.turns("default")
    assert (turn.status, turn.attempts) == ("answered", 2)  # back to waiting once, not failed
    assert len(rig.llm.prompts) == 5  # 1 try + 3 retries, then one probe at the next try
    said = [s.text for s in rig.telegram.sent if s.chat_id == rig.telegram.me.id]
    assert len(said) == 2 and "unavailable" in said[0] and "is back" in said[1]


async def test_empty_model_answer_sends_nothing_and_says_why(twin_home):
    rig = make_rig(twin_home, None)
    await serve(rig, incoming("hello?"))
    assert rig.telegram.sent == []
    (turn,) = rig.store.turns("default")
    assert turn.status == "skipped" and "returned nothing" in turn.reason


async def test_skipped_messages_are_recorded_with_the_rule(twin_home):
    rig = make_rig(twin_home)
    await serve(rig, [
        incoming("from a bot", chat_id=7, sender_is_bot=True),
        incoming("in a group", chat_id=-100, chat_kind="group", sender_id=8),
        incoming("channel post", chat_id=-200, chat_kind="channel", sender_id=9),
        incoming("", chat_id=11, kind="service"),
    ])
    assert rig.telegram.sent == []
    reasons = {t.chat_id: (t.status, t.reason) for t in rig.store.turns("default")}
    assert reasons[7] == ("skipped", "sender is a bot")
    assert reasons[-100][1].startswith("group chat not enabled")
    assert reasons[-200][1] == "channel post"
    assert reasons[11][1] == "service message"


async def test_owner_messages_are_context_not_turns(twin_home):
    rig = make_rig(twin_home, "sure")
    await serve(rig, [incoming("hey, you there?", message_id=4)])
    # The owner writes from the phone: that is a takeover, and it is context for later.
    await serve(rig, [incoming("i'll be late", message_id=10, outgoing=True, sender_id=1000)])
    rig.store.save_chat("default", 42, paused_until=None)  # the owner ends the pause
    await serve(rig, [incoming("ok no problem, how late?", message_id=11)])
    turns = rig.store.turns("default")
    assert [t.incoming_ids for t in turns] == [(11,), (4,)]
    assert turns_of(rig.llm.prompts[-1]) == [
        ("user", "hey, you there?"), ("assistant", "sure\ni'll be late"), ("user", "ok no problem, how late?")]


async def test_long_reply_is_split_at_the_telegram_limit(twin_home):
    long_reply = " ".join(f"w{i}" for i in range(2000))  # ~11,000 characters, no loop (the sendable check)
    rig = make_rig(twin_home, long_reply)
    await serve(rig, incoming("tell me everything"))
    parts = [s.text for s in rig.telegram.sent]
    assert len(parts) == 3 and all(len(p) <= 4096 for p in parts)
    assert " ".join(parts) == long_reply
    assert len({s.random_id for s in rig.telegram.sent}) == 3


async def test_send_failure_is_recorded_and_daemon_keeps_running(twin_home):
    rig = make_rig(twin_home, "first", "second")
    rig.telegram.send_errors.append(TelegramError("USER_IS_BLOCKED"))
    await serve(rig, [incoming("a", chat_id=1), incoming("b", chat_id=2)])
    statuses = sorted((t.status, t.reason) for t in rig.store.turns("default"))
    assert statuses == [("answered", ""), ("failed", "send failed: USER_IS_BLOCKED")]


async def test_resume_after_crash_in_sending_does_not_send_twice(twin_home):
    rig = make_rig(twin_home, "only once")
    await serve(rig, incoming("hi"))
    (turn,) = rig.store.turns("default")
    # Simulate a crash after Telegram got the message but before we recorded it.
    rig.store.update_turn(turn.id, rig.clock.now(), status="sending", reply_ids=[])
    await serve(rig)
    assert len(rig.telegram.sent) == 1
    assert rig.store.turn(turn.id).status == "answered"


async def test_ten_thousand_character_message_is_answered_with_a_trimmed_prompt(twin_home):
    rig = make_rig(twin_home, "that's a lot")
    await serve(rig, incoming("x" * 10_000))
    (turn,) = rig.store.turns("default")
    assert turn.status == "answered"
    assert len(turn.incoming_text) == 10_000  # stored whole
    assert len(turns_of(rig.llm.prompts[0])[-1][1]) < 4100  # the model sees a trimmed copy


async def test_a_burst_is_answered_once(twin_home):
    rig = make_rig(twin_home, "answering all three")
    await serve(rig, [incoming("hey", message_id=1), incoming("how was the trip", message_id=2),
                      incoming("to porto?", message_id=3)])
    assert [s.text for s in rig.telegram.sent] == ["answering all three"]
    (turn,) = rig.store.turns("default")
    assert turn.incoming_ids == (1, 2, 3) and turn.incoming_text == "hey\nhow was the trip\nto porto?"
    assert turns_of(rig.llm.prompts[0])[-1] == ("user", "hey\nhow was the trip\nto porto?")


async def test_a_redelivered_message_is_not_a_second_turn(twin_home):
    rig = make_rig(twin_home, "once")
    await serve(rig, [incoming("hi", message_id=9)], [incoming("hi", message_id=9)])
    assert len(rig.store.turns("default")) == 1 and len(rig.telegram.sent) == 1


def test_clean_reply_drops_the_loops_small_models_fall_into():
    from twin.engine.responder import clean_reply

    looped = "How was porto?\n\nI hope it was fine. I'm happy to help.\n\n" + "I'm happy to help.\n\n" * 30 + "See you!"
    assert clean_reply(looped) == "How was porto?\n\nI hope it was fine. I'm happy to help.\n\nSee you!"
    assert clean_reply("no. no. no. fine") == "no. no. no. fine"  # short repeats are how people talk
    assert clean_reply('"<|im_start|>sure thing<|im_end|>"') == "sure thing"
