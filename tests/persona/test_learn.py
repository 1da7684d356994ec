"""Learning from the owner's chats through the fake Telegram seam: pairs, profile, resume, FloodWait."""

from __future__ import annotations

import tomllib
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.fakes import T0, FakeClock, FakeTelegram
from twin.db.store import Store
from twin.db.tables import ExchangeRow, OwnerMessageRow
from twin.errors import FloodWait, TelegramError
from twin.persona.learn import LearnProgress, learn, learned_profile, pair_exchanges
from twin.persona.style import load_profile, merged_profile, profile_dict, profile_path, write_profile
from twin.session.base import Dialog
from twin.types import HistoryMessage

ALICE, MOM, BOSS = 101, 202, 303


def msg(mid: int, minutes: float, out: bool, text: str) -> HistoryMessage:
    return HistoryMessage(mid, T0 + timedelta(minutes=minutes), out, text)


def seeded() -> FakeTelegram:
    tg = FakeTelegram()
    tg.dialog_list = [
        Dialog(ALICE, "Alice", "private"),
        Dialog(900, "Weather bot", "private", is_bot=True),
        Dialog(MOM, "Мама", "private"),
        Dialog(901, "Team chat", "group"),
        Dialog(902, "News", "channel"),
        Dialog(1000, "Saved Messages", "private"),  # the owner's own id
        Dialog(777000, "Telegram", "private"),
        Dialog(BOSS, "Иван Петрович", "private"),
    ]
    tg.histories = {
        ALICE: [
            msg(1, 0, False, "hey! are you coming tonight?"),
            msg(2, 1, False, "the party starts at 8"),
            msg(3, 5, True, "hey, yes 😂"),
            msg(4, 6, True, "haha probably a bit late"),
            msg(5, 10, False, "cool"),
            msg(6, 11, True, "see you"),
            msg(7, 120, False, "did you watch the game?"),
            msg(8, 121, False, ""),  # a photo: part of the burst, no text
            msg(9, 180, True, "lol no, was working."),
            msg(10, 1440, False, "ping"),
            msg(11, 4320, True, "sorry, missed this!"),  # two days later: past the reply window
            msg(12, 4380, True, "Morning"),  # an hour later: a burst of its own
        ],
        MOM: [
            msg(21, 0, False, "Привет, как дела?"),
            msg(22, 3, True, "привет) всё хорошо"),
            msg(23, 4, True, "ну ты как?"),
            msg(24, 30, False, "Нормально. Ты придёшь в воскресенье?"),
            msg(25, 32, True, "ахахах конечно))"),
            msg(26, 600, False, "Позвони мне"),  # not answered yet: the tail
        ],
        BOSS: [
            msg(31, 0, False, "Добрый день. Можете прислать отчёт?"),
            msg(32, 20, True, "Добрый день, да, пришлю вам сегодня."),
        ],
    }
    return tg


def exchanges(store: Store) -> list[tuple[int, str, str, int, int, int, int]]:
    with store.session() as s:
        rows = s.scalars(sa.select(ExchangeRow).order_by(ExchangeRow.chat_id, ExchangeRow.first_message_id))
        return [(r.chat_id, r.contact_text, r.owner_text, r.first_message_id, r.last_message_id,
                 r.contact_messages, r.owner_messages) for r in rows]


EXPECTED_PAIRS = [
    (ALICE, "hey! are you coming tonight?\nthe party starts at 8", "hey, yes 😂\nhaha probably a bit late", 1, 4, 2, 2),
    (ALICE, "cool", "see you", 5, 6, 1, 1),
    (ALICE, "did you watch the game?", "lol no, was working.", 7, 9, 1, 1),
    (MOM, "Привет, как дела?", "привет) всё хорошо\nну ты как?", 21, 23, 1, 2),
    (MOM, "Нормально. Ты придёшь в воскресенье?", "ахахах конечно))", 24, 25, 1, 1),
    (BOSS, "Добрый день. Можете прислать отчёт?", "Добрый день, да, пришлю вам сегодня.", 31, 32, 1, 1),
]


async def test_learn_stores_owner_messages_and_joined_bursts(store):
    tg, clock = seeded(), FakeClock()
    seen: list[LearnProgress] = []
    report = await learn(tg, store, "default", clock=clock, self_id=1000, on_progress=seen.append)

    assert exchanges(store) == EXPECTED_PAIRS
    assert report.read == 3 and report.dialogs == 8
    assert report.skipped == {"bot": 1, "group": 1, "channel": 1, "saved messages": 1, "service": 1}
    assert report.messages == 20 and report.owner_messages == 10 and report.exchanges == 6
    with store.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(OwnerMessageRow)) == 10
    # only private chats with people were read, paced on the fake clock between requests
    assert [c[0] for c in tg.history_calls] == [ALICE, MOM, BOSS]
    assert clock.slept == [1.0, 1.0]
    assert [(p.index, p.total, p.chat_id, p.messages) for p in seen] == [(1, 3, ALICE, 12), (2, 3, MOM, 6),
                                                                         (3, 3, BOSS, 2)]


async def test_profile_figures_are_exact_on_the_known_corpus(store, tmp_path):
    await learn(seeded(), store, "default", clock=FakeClock(), self_id=1000)
    profile = learned_profile(store, "default")
    data = profile_dict(profile)
    assert data["messages"] == 10 and data["replies"] == 6
    assert data["languages"] == {"en": 0.6, "ru": 0.4}
    # replies in characters (messages of a burst added up): 34, 7, 20, 28, 16, 36
    assert data["reply_chars"] == {"median": 24.0, "p25": 17.0, "p75": 32.5}
    assert data["reply_messages"] == {"median": 1.0, "p25": 1.0, "p75": 1.8}
    assert data["emoji_per_message"] == 0.1 and data["messages_with_emoji"] == 0.1
    assert data["favourite_emoji"] == ["😂"]
    assert data["starts_lowercase"] == 0.8  # "Morning" and "Добрый день..." start upper case
    assert data["endings"] == {"none": 0.4, "!": 0.1, ".": 0.2, ")": 0.1, "?": 0.1, "emoji": 0.1}
    assert data["laughter"] == {"))": 1, "haha": 1, "lol": 1, "ахах": 1} and data["laughter_rate"] == 0.3
    assert data["fillers"] == {"ну": 1}
    assert data["greetings"] == {"добрый день": 1, "hey": 1, "morning": 1, "привет": 1}
    assert data["signoffs"] == {"see you": 1}
    assert data["chats"] == {
        str(ALICE): {"title": "Alice", "messages": 6, "language": "en", "address": "informal",
                     "reply_chars_median": 20.0},
        str(MOM): {"title": "Мама", "messages": 3, "language": "ru", "address": "informal",
                   "reply_chars_median": 22.0},
        str(BOSS): {"title": "Иван Петрович", "messages": 1, "language": "ru", "address": "formal",
                    "reply_chars_median": 36.0},
    }

    persona_file = tmp_path / "persona.toml"
    persona_file.write_text('name = "Sam"\n# my own words\n', encoding="utf-8")
    path = profile_path(persona_file)
    assert path == tmp_path / "persona.profile.toml"
    write_profile(path, profile, learned_at="2026-11-02")
    assert persona_file.read_text(encoding="utf-8") == 'name = "Sam"\n# my own words\n'
    assert tomllib.loads(path.read_text(encoding="utf-8")) == data
    assert load_profile(path) == data
    pinned = merged_profile(load_profile(path), {"languages": {"en": 1.0}, "favourite_emoji": ["🙂"]})
    assert pinned["languages"] == {"en": 1.0, "ru": 0.4} and pinned["favourite_emoji"] == ["🙂"]


async def test_second_run_reads_only_new_messages_and_extends_open_bursts(store):
    tg = seeded()
    await learn(tg, store, "default", clock=FakeClock(), self_id=1000)
    tg.history_calls.clear()
    tg.histories[MOM].append(msg(27, 610, True, "да, сейчас наберу"))  # answers the open tail
    tg.histories[BOSS].append(msg(33, 25, True, "Отчёт во вложении."))  # same burst as message 32

    report = await learn(tg, store, "default", clock=FakeClock(), self_id=1000)

    assert tg.history_calls == [(ALICE, 2000, 12), (MOM, 2000, 26), (BOSS, 2000, 32)]
    assert report.messages == 2 and report.owner_messages == 2
    pairs = exchanges(store)
    assert (MOM, "Позвони мне", "да, сейчас наберу", 26, 27, 1, 1) in pairs
    assert (BOSS, "Добрый день. Можете прислать отчёт?",
            "Добрый день, да, пришлю вам сегодня.\nОтчёт во вложении.", 31, 33, 1, 2) in pairs
    assert len(pairs) == 7  # one new, one extended in place

    tg.history_calls.clear()
    third = await learn(tg, store, "default", clock=FakeClock(), self_id=1000)
    assert third.messages == 0 and len(exchanges(store)) == 7
    assert tg.history_calls == [(ALICE, 2000, 12), (MOM, 2000, 27), (BOSS, 2000, 33)]


class FloodingTelegram(FakeTelegram):
    """Raises FloodWait once, on the n-th history request."""

    def __init__(self, flood_on: int, seconds: int = 42) -> None:
        super().__init__()
        self.flood_on, self.seconds, self.calls = flood_on, seconds, 0

    async def history(self, chat_id, limit, min_id=0):
        self.calls += 1
        if self.calls == self.flood_on:
            self.history_calls.append((chat_id, limit, min_id))
            raise FloodWait(self.seconds)
        return await super().history(chat_id, limit, min_id)


async def test_flood_wait_midway_is_slept_on_the_clock_and_reading_resumes(store):
    tg = FloodingTelegram(flood_on=2)
    plain = seeded()
    tg.dialog_list, tg.histories = plain.dialog_list, plain.histories
    clock = FakeClock()
    report = await learn(tg, store, "default", clock=clock, self_id=1000, pace_s=0.5)

    assert exchanges(store) == EXPECTED_PAIRS
    assert report.flood_waits == 1 and report.waited_s == 42
    assert clock.slept == [0.5, 42, 0.5]
    assert tg.history_calls == [(ALICE, 2000, 0), (MOM, 2000, 0), (MOM, 2000, 0), (BOSS, 2000, 0)]
    assert clock.now() == T0 + timedelta(seconds=43)


class BreakingTelegram(FakeTelegram):
    async def history(self, chat_id, limit, min_id=0):
        if chat_id == MOM:
            raise TelegramError("connection lost")
        return await super().history(chat_id, limit, min_id)


async def test_an_interrupted_run_resumes_where_it_stopped(store):
    broken = BreakingTelegram()
    plain = seeded()
    broken.dialog_list, broken.histories = plain.dialog_list, plain.histories
    with pytest.raises(TelegramError):
        await learn(broken, store, "default", clock=FakeClock(), self_id=1000)
    assert [p[0] for p in exchanges(store)] == [ALICE, ALICE, ALICE]

    await learn(plain, store, "default", clock=FakeClock(), self_id=1000)
    assert plain.history_calls == [(ALICE, 2000, 12), (MOM, 2000, 0), (BOSS, 2000, 0)]
    assert exchanges(store) == EXPECTED_PAIRS


def test_burst_rule_gap_and_reply_window():
    messages = [
        msg(1, 0, False, "a"), msg(2, 40, False, "b"),  # 40 min apart: two contact bursts
        msg(3, 41, True, "x"),
        msg(4, 42, False, "c"), msg(5, 60 * 13 + 42, True, "late"),  # answered 13 h later: no pair
    ]
    pairs, tail = pair_exchanges(7, messages)
    assert [(p.contact_text, p.owner_text, p.first_message_id) for p in pairs] == [("b", "x", 2)]
    assert tail == []


def test_notes_and_persona_assignment(store):
    from twin.persona.notes import all_notes, assign_persona, chat_note, chat_persona, notes_for, set_note
    from twin.persona.profile import Persona

    persona = Persona(name="Sam", chats={str(MOM): {"note": "my mother; Russian", "persona": "family"},
                                         str(ALICE): "old friend"})
    set_note(store, "default", MOM, "  calls on sundays  ", now=T0)
    assign_persona(store, "default", BOSS, "work", now=T0)
    assert notes_for(persona, MOM, chat_note(store, "default", MOM)) == ["my mother; Russian", "calls on sundays"]
    assert notes_for(persona, ALICE, chat_note(store, "default", ALICE)) == ["old friend"]
    assert chat_persona(store, "default", persona, BOSS) == "work"
    assert chat_persona(store, "default", persona, MOM) == "family"  # from the persona file
    assert chat_persona(store, "default", persona, ALICE) is None
    set_note(store, "default", MOM, "", now=T0)
    assign_persona(store, "default", BOSS, None, now=T0)
    assert [(n.chat_id, n.note, n.persona) for n in all_notes(store, "default")] == [(MOM, "", None), (BOSS, "", None)]
    assert all_notes(store, "other") == []


async def test_the_twins_own_replies_are_not_learned_as_the_owners_style(tmp_path):
    from tests.fakes import FakeClock, FakeTelegram, incoming
    from twin.db.store import Store
    from twin.persona.learn import learn
    from twin.session.base import Dialog
    from twin.types import HistoryMessage

    store = Store(f"sqlite:///{tmp_path}/t.db")
    t = FakeClock().now()
    turn = store.add_turn("default", [incoming("hi", chat_id=5, message_id=1)], status="waiting", now=t)
    store.update_turn(turn, t, status="answered", reply_ids=[2], sent_at=t)
    telegram = FakeTelegram(dialog_list=[Dialog(5, "Eve", "private")], histories={5: [
        HistoryMessage(1, t, False, "hi"), HistoryMessage(2, t, True, "Hello! How can I assist you today?"),
        HistoryMessage(3, t, False, "you ok?"), HistoryMessage(4, t, True, "ya all good lol"),
    ]})
    await learn(telegram, store, "default", clock=FakeClock(), self_id=1000)
    from twin.persona.learn import load_samples

    owner, _, _ = load_samples(store, "default")
    assert [s.text for s in owner] == ["ya all good lol"]


async def test_learning_from_telegram_messages_keeps_words_and_counts_the_owners_reactions(store, tmp_path):
    """Real TL messages through to_history: media lines are never the owner's words; reactions make the habit."""
    from telethon.tl import types

    from twin.session.convert import to_history

    photo = types.MessageMediaPhoto(photo=types.Photo(id=1, access_hash=2, file_reference=b"", date=T0, dc_id=2,
                                                      sizes=[types.PhotoSize(type="m", w=320, h=240, size=2000)]))
    heart = types.MessageReactions(results=[
        types.ReactionCount(reaction=types.ReactionEmoji(emoticon="❤"), count=1, chosen_order=0)])
    theirs_only = types.MessageReactions(results=[types.ReactionCount(reaction=types.ReactionEmoji("🔥"), count=1)])

    def tl(mid: int, minutes: float, out: bool, text: str, **kw: object) -> HistoryMessage:
        found = to_history(types.Message(id=mid, peer_id=types.PeerUser(ALICE), date=T0 + timedelta(minutes=minutes),
                                         message=text, out=out, **kw), 1000)
        assert found is not None
        return found

    tg = FakeTelegram()
    tg.dialog_list = [Dialog(ALICE, "Alice", "private")]
    tg.histories = {ALICE: [
        tl(1, 0, False, "where are you?"),
        tl(2, 1, True, "", media=photo),  # the owner answers with a photo only
        tl(3, 2, True, "at the lake", media=photo),  # and a photo with a caption
        tl(4, 3, False, "thanks!", reactions=heart),  # the owner reacts ❤ and says nothing
        tl(5, 600, False, "nice", reactions=theirs_only),  # only Alice's own reaction on it
        tl(6, 601, True, "so, dinner?"),
        tl(7, 602, False, "ok", reactions=heart),  # the last burst: its habit is counted when more comes
    ]}
    await learn(tg, store, "default", clock=FakeClock(), self_id=1000)
    with store.session() as s:
        owner = [t for (t,) in s.execute(sa.select(OwnerMessageRow.text).order_by(OwnerMessageRow.message_id))]
        exchanges = [(c, o) for c, o in s.execute(sa.select(ExchangeRow.contact_text, ExchangeRow.owner_text))]
    assert owner == ["at the lake", "so, dinner?"]  # never "[photo]"
    assert exchanges == [("where are you?", "at the lake"), ("nice", "so, dinner?")]
    profile = learned_profile(store, "default")
    assert profile.acks == {"seen": 2, "answered": 1, "checked": 2, "reacted": 1}
    assert profile.reactions == {"messages": 4, "reacted": 2, "❤": 2}

    tg.histories[ALICE].append(tl(8, 3000, False, "morning!"))  # "ok" (kept in the tail with its ❤) is decided
    await learn(tg, store, "default", clock=FakeClock(), self_id=1000)
    profile = learned_profile(store, "default")
    assert profile.acks == {"seen": 3, "answered": 1, "checked": 3, "reacted": 2}
    assert profile.reactions == {"messages": 5, "reacted": 2, "❤": 2}

    path = tmp_path / "profile.toml"
    write_profile(path, profile)
    assert load_profile(path)["reactions"] == {"messages": 5, "reacted": 2, "❤": 2}
