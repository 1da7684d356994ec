"""Retrieval of past exchanges: BM25 over FTS5 (and PostgreSQL full text when a URL is given)."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.fakes import T0
from twin.db.exchange_index import create_exchange_index
from twin.db.store import Store
from twin.db.tables import Base, ExchangeRow
from twin.persona.examples import (
    Exchange,
    query_tokens,
    recent_exchanges,
    similar_exchanges,
    store_exchanges,
)

A, B, C = 42, 43, 44


def backends() -> list[object]:
    url = os.environ.get("TWIN_TEST_DATABASE_URL", "")
    pg = pytest.param(url, marks=pytest.mark.postgres, id="postgresql")
    skip = pytest.param("", marks=[pytest.mark.postgres, pytest.mark.skip(reason="TWIN_TEST_DATABASE_URL not set")],
                        id="postgresql")
    return ["sqlite", pg if url.startswith("postgresql") else skip]


@pytest.fixture(params=backends())
def store(request, tmp_path):
    url = f"sqlite:///{tmp_path}/t.db" if request.param == "sqlite" else request.param
    s = Store(url, migrate=False)
    Base.metadata.drop_all(s.engine)
    Base.metadata.create_all(s.engine)
    create_exchange_index(s.engine)
    yield s
    if s.engine.dialect.name == "postgresql":
        Base.metadata.drop_all(s.engine)
    s.close()


CORPUS = [
    (A, "do you want to grab pizza tonight?", "sure, pizza sounds great"),
    (A, "how was the dentist?", "painful lol"),
    (A, "did you finish the report?", "almost, tomorrow"),
    (B, "pizza tonight at Mario's?", "can't tonight"),
    (B, "the dentist called about your appointment", "thanks!"),
    (C, "Пойдём в кино в субботу?", "давай"),
    (C, "Как прошёл день?", "нормально, устал"),
]


def seed(store: Store, account: str = "default", noise: int = 40) -> None:
    rows = [((A, B, C)[i % 3], f"random chat number {i} about the weather and the news", "ok") for i in range(noise)]
    rows += CORPUS
    store_exchanges(store, account, [Exchange(chat, said, answer, T0 + timedelta(minutes=i), 10 * i + 1, 10 * i + 2)
                                     for i, (chat, said, answer) in enumerate(rows)])


def firsts(found) -> list[str]:
    return [e.exchange.contact_text for e in found]


def test_ranks_the_expected_exchange_first(store):
    seed(store)
    found = similar_exchanges(store, "default", 99, "any news from the dentist about my appointment?", 3)
    assert firsts(found)[0] == "the dentist called about your appointment"
    assert firsts(found)[1] == "how was the dentist?"
    ru = similar_exchanges(store, "default", 99, "в субботу пойдем в кино?", 2)
    assert firsts(ru)[0] == "Пойдём в кино в субботу?"  # ё and е match both ways


def test_this_chat_is_preferred(store):
    seed(store)
    in_a = similar_exchanges(store, "default", A, "pizza tonight?", 2)
    in_b = similar_exchanges(store, "default", B, "pizza tonight?", 2)
    assert firsts(in_a) == ["do you want to grab pizza tonight?", "pizza tonight at Mario's?"]
    assert firsts(in_b) == ["pizza tonight at Mario's?", "do you want to grab pizza tonight?"]
    assert [e.same_chat for e in in_a] == [True, False]
    assert in_a[0].score > in_a[1].score > 0


def test_held_out_exchanges_are_never_returned(store):
    seed(store)
    newest = recent_exchanges(store, "default", 1)[0]
    assert newest.contact_text == "Как прошёл день?"
    assert firsts(similar_exchanges(store, "default", C, "как прошел день", 1)) == ["Как прошёл день?"]
    found = similar_exchanges(store, "default", C, "как прошел день", 3, held_out=1)
    assert "Как прошёл день?" not in firsts(found)


def test_other_accounts_are_invisible(store):
    seed(store)
    store_exchanges(store, "work", [Exchange(A, "pizza pizza pizza tonight", "no", T0, 5000, 5001)])
    assert "pizza pizza pizza tonight" not in firsts(similar_exchanges(store, "default", A, "pizza tonight", 5))
    assert firsts(similar_exchanges(store, "work", A, "pizza tonight", 5)) == ["pizza pizza pizza tonight"]


@pytest.mark.parametrize("text", [
    'pizza" OR * NEAR(dentist', "contact_text: pizza", "scope : a00", "pizza AND NOT ^", "-- ;DROP TABLE x",
    "pizza' || '1", "{contact_text scope}: pizza",
])
def test_query_syntax_in_the_text_is_only_words(store, text):
    seed(store)
    found = similar_exchanges(store, "default", A, text, 3)
    assert all(e.exchange.contact_text for e in found)
    assert all(t.replace("'", "").isalnum() for t in query_tokens(text))


def test_emoji_only_text_falls_back_to_the_chats_latest(store):
    seed(store)
    found = similar_exchanges(store, "default", A, "😂👍", 2)
    assert firsts(found) == ["did you finish the report?", "how was the dentist?"]


def test_stored_exchanges_are_updated_in_place_and_the_index_follows(store):
    seed(store, noise=0)
    store_exchanges(store, "default", [Exchange(A, "do you want to grab sushi tonight?", "yes", T0, 1, 9)])
    with store.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(ExchangeRow)) == len(CORPUS)
    assert firsts(similar_exchanges(store, "default", A, "sushi", 1)) == ["do you want to grab sushi tonight?"]
    assert similar_exchanges(store, "default", A, "grab pizza", 1)[0].exchange.contact_text != (
        "do you want to grab pizza tonight?")


def test_index_created_after_the_rows_is_filled(tmp_path):
    s = Store(f"sqlite:///{tmp_path}/late.db", migrate=False)
    Base.metadata.create_all(s.engine)
    with s.session() as session, session.begin():
        session.add(ExchangeRow(account="default", chat_id=A, contact_text="late pizza", owner_text="ok",
                                date=T0, first_message_id=1, last_message_id=2))
    create_exchange_index(s.engine)
    create_exchange_index(s.engine)  # idempotent
    assert firsts(similar_exchanges(s, "default", A, "pizza", 1)) == ["late pizza"]
    s.close()


def test_a_crowd_from_another_account_does_not_hide_this_accounts_rows(store):
    seed(store, noise=0)
    store_exchanges(store, "work", [Exchange(A, "pizza pizza pizza", "no", T0, 9000 + i, 9001 + i)
                                    for i in range(0, 60, 2)])
    found = similar_exchanges(store, "default", 99, "pizza", 1)
    assert firsts(found) == ["pizza tonight at Mario's?"]


@pytest.mark.parametrize("budget", [1, 3, 10_000])
def test_common_words_are_dropped_before_rare_ones(store, monkeypatch, budget):
    from twin.db import exchange_index

    monkeypatch.setattr(exchange_index, "ROW_BUDGET", budget)
    seed(store)  # "the", "weather", "news" are in 40 rows; "dentist" in 2, "appointment" in 1
    found = similar_exchanges(store, "default", 99, "the weather news dentist appointment", 2)
    assert firsts(found)[0] == "the dentist called about your appointment"
    # only common words: with a tiny budget the newest rows are ranked, and something is still found
    assert similar_exchanges(store, "default", 99, "weather news", 1)
