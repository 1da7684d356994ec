"""Edits, deletions and typing against the running twin (fakes at the seams, a real SQLite store)."""

from __future__ import annotations

from datetime import timedelta

from tests.engine.test_loop import serve, turns_of
from tests.fakes import T0, incoming
from tests.helpers import make_rig
from twin.types import ContactTyping, MessageEdited, MessagesDeleted


def contact_texts(rig, prompt_index: int = -1) -> list[str]:
    return [text for role, text in turns_of(rig.llm.prompts[prompt_index]) if role == "user"]


async def test_an_edit_before_the_reply_is_answered_in_its_new_wording(twin_home):
    rig = make_rig(twin_home, "loud and great")
    await serve(rig, [incoming("how was the concert?", message_id=1),
                      MessageEdited(42, 1, "how was the concert on friday?", T0 + timedelta(seconds=3))])
    assert contact_texts(rig)[-1] == "how was the concert on friday?" and len(rig.llm.prompts) == 1
    (turn,) = rig.store.turns("default")
    assert turn.incoming_text == "how was the concert on friday?" and turn.extra["changes"][0]["when"] == "before"
    assert [s.text for s in rig.telegram.sent] == ["loud and great"]


async def test_an_edit_while_composing_composes_again_once(twin_home):
    rig = make_rig(twin_home)
    answers = iter(["so good", "friday was even better"])
    original = rig.llm.complete

    async def edit_while_thinking(prompt):
        if len(rig.llm.prompts) == 0:  # the contact edits while the first answer is being written
            rig.daemon.change(MessageEdited(42, 1, "how was the concert on friday?", T0))
        rig.llm.enqueue(next(answers))
        return await original(prompt)

    rig.llm.complete = edit_while_thinking  # type: ignore[method-assign]
    await serve(rig, incoming("how was the concert?", message_id=1))
    assert len(rig.llm.prompts) == 2 and contact_texts(rig, 1)[-1] == "how was the concert on friday?"
    assert [s.text for s in rig.telegram.sent] == ["friday was even better"]
    (turn,) = rig.store.turns("default")
    assert turn.status == "answered" and turn.extra["recomposed"]["why"]
    assert [c["when"] for c in turn.extra["changes"]] == ["composing"]


async def test_an_edit_while_sending_does_not_touch_the_reply(twin_home):
    rig = make_rig(twin_home, "so good")
    original = rig.telegram.send_text

    async def edit_then_send(chat_id, text, **kw):
        rig.daemon.change(MessageEdited(42, 1, "how was the concert on friday?", T0))
        return await original(chat_id, text, **kw)

    rig.telegram.send_text = edit_then_send  # type: ignore[method-assign]
    await serve(rig, incoming("how was the concert?", message_id=1))
    (turn,) = rig.store.turns("default")
    assert [s.text for s in rig.telegram.sent] == ["so good"] and len(rig.llm.prompts) == 1
    assert turn.status == "answered" and turn.incoming_text == "how was the concert?"
    assert turn.extra["changes"][0]["when"] == "sending"  # recorded, kept through the finish


async def test_a_message_deleted_before_the_reply_cancels_it(twin_home):
    rig = make_rig(twin_home, "sure!")
    await serve(rig, [incoming("can you call me", message_id=4), MessagesDeleted(None, (4,))])
    (turn,) = rig.store.turns("default")
    assert turn.status == "cancelled" and "deleted" in turn.reason
    assert rig.telegram.sent == [] and rig.llm.prompts == []
    assert rig.store.recent_messages("default", 42, 10) == []  # no longer context


async def test_deleting_one_message_of_a_folded_burst_answers_the_rest(twin_home):
    rig = make_rig(twin_home, "yes, got it")
    await serve(rig, [incoming("did you get my email?", message_id=4),
                      incoming("ugh wrong chat, ignore", message_id=5), MessagesDeleted(None, (5,))])
    (turn,) = rig.store.turns("default")
    assert turn.incoming_ids == (4,) and turn.incoming_text == "did you get my email?"
    assert contact_texts(rig) == ["did you get my email?"]
    assert [s.text for s in rig.telegram.sent] == ["yes, got it"] and turn.status == "answered"


async def test_edits_and_deletions_after_the_reply_are_only_recorded(twin_home):
    rig = make_rig(twin_home, "sure!")
    await serve(rig, incoming("can you call me", message_id=4),
                [MessageEdited(None, 4, "can you call me tonight", T0), MessagesDeleted(None, (4,))])
    (turn,) = rig.store.turns("default")
    assert turn.status == "answered" and turn.incoming_text == "can you call me"
    assert [(c["kind"], c["when"]) for c in turn.extra["changes"]] == [("edit", "after"), ("delete", "after")]
    assert len(rig.telegram.sent) == 1 and len(rig.llm.prompts) == 1


async def test_deletions_in_another_chat_or_unknown_ids_change_nothing(twin_home):
    rig = make_rig(twin_home)
    rig.daemon.me = rig.telegram.me
    turn_id = await rig.daemon.handle(incoming("hello?", message_id=4))
    rig.daemon.change(MessagesDeleted(-1001234, (4,)))  # a channel's message 4 is another message
    rig.daemon.change(MessagesDeleted(None, (99,)))
    turn = rig.store.turn(turn_id)
    assert turn.status == "waiting" and turn.incoming_ids == (4,)


async def test_typing_holds_the_waiting_reply_a_little_and_bounded(twin_home):
    rig = make_rig(twin_home)
    rig.daemon.me = rig.telegram.me
    turn_id = await rig.daemon.handle(incoming("so about tomorrow", message_id=4))
    start = rig.clock.now()
    rig.store.update_turn(turn_id, start, due_at=start)  # due now
    rig.daemon.change(ContactTyping(42, 42))
    assert rig.store.turn(turn_id).due_at == start + timedelta(seconds=6)
    for _ in range(30):  # they keep typing: the wait never passes a minute after they began
        rig.clock.set(rig.clock.now() + timedelta(seconds=5))
        rig.daemon.change(ContactTyping(42, 42))
    assert rig.store.turn(turn_id).due_at == start + timedelta(seconds=60)
    rig.daemon.change(ContactTyping(42, 42, active=False))
    folded = await rig.daemon.handle(incoming("are we still on?", message_id=5))
    turn = rig.store.turn(turn_id)
    assert folded == turn_id and turn.incoming_ids == (4, 5)
    assert rig.store.turn(turn_id).extra["typing_holds"] == 12


async def test_typing_with_no_reply_waiting_changes_nothing(twin_home):
    rig = make_rig(twin_home, timing__scale=1.0)
    rig.daemon.change(ContactTyping(42, 42))
    assert rig.store.turns("default") == []
