"""Past exchanges as examples: stored once, found again by what the contact wrote (BM25 / full text).

The index and its ranked search (SQLite FTS5 or PostgreSQL full text) live in twin.db.exchange_index;
here the contact's words become a query, the held-out exchanges are left out and this chat's count more.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from twin.db.exchange_index import ensure_exchange_index, rank_exchanges
from twin.db.store import Store
from twin.db.tables import ExchangeRow
from twin.lru import LRU
from twin.persona import lexicon as lx

CHAT_BOOST = 2.0  # this chat's exchanges count double: its language, address and jokes fit best
MAX_QUERY_TOKENS = 24


@dataclass(frozen=True, slots=True)
class Exchange:
    """What a contact said (a burst) and what the owner answered (the next burst)."""

    chat_id: int
    contact_text: str
    owner_text: str
    date: datetime
    first_message_id: int
    last_message_id: int
    contact_messages: int = 1
    owner_messages: int = 1
    id: int = 0


@dataclass(frozen=True, slots=True)
class Example:
    """A retrieved exchange with its relevance (higher is better)."""

    exchange: Exchange
    score: float
    same_chat: bool


def query_tokens(text: str) -> list[str]:
    """The words to search for: no stopwords (unless nothing else is left), no duplicates, no syntax."""
    tokens = list(dict.fromkeys(lx.words(text)))
    content = [t for t in tokens if t not in lx.STOPWORDS]
    return (content or tokens)[:MAX_QUERY_TOKENS]


def _to_exchange(row: ExchangeRow) -> Exchange:
    return Exchange(row.chat_id, row.contact_text, row.owner_text, row.date, row.first_message_id,
                    row.last_message_id, row.contact_messages, row.owner_messages, row.id)


def store_exchanges(store: Store, account: str, exchanges: Sequence[Exchange]) -> int:
    """Insert exchanges, or update the ones already stored (same chat and first message); returns how many."""
    if not exchanges:
        return 0
    _HELD.clear()  # newer exchanges change which ones are held out
    ensure_exchange_index(store.engine)
    with store.session() as s, s.begin():
        for chat_id in sorted({e.chat_id for e in exchanges}):
            firsts = [e.first_message_id for e in exchanges if e.chat_id == chat_id]
            existing = {r.first_message_id: r for r in s.scalars(sa.select(ExchangeRow).where(
                ExchangeRow.account == account, ExchangeRow.chat_id == chat_id,
                ExchangeRow.first_message_id.in_(firsts)))}
            fresh = []
            for e in (e for e in exchanges if e.chat_id == chat_id):
                values = {"contact_text": e.contact_text, "owner_text": e.owner_text, "date": e.date,
                          "last_message_id": e.last_message_id, "contact_messages": e.contact_messages,
                          "owner_messages": e.owner_messages}
                row = existing.get(e.first_message_id)
                if row is None:
                    fresh.append({"account": account, "chat_id": chat_id,
                                  "first_message_id": e.first_message_id, **values})
                else:
                    for key, value in values.items():
                        if getattr(row, key) != value:
                            setattr(row, key, value)
            if fresh:
                s.execute(sa.insert(ExchangeRow), fresh)
    return len(exchanges)


def recent_exchanges(store: Store, account: str, n: int) -> list[Exchange]:
    """The n most recent exchanges, newest first: the held-out set of `twin eval`."""
    if n <= 0:
        return []
    query = (sa.select(ExchangeRow).where(ExchangeRow.account == account)
             .order_by(ExchangeRow.date.desc(), ExchangeRow.id.desc()).limit(n))
    with store.session() as s:
        return [_to_exchange(r) for r in s.scalars(query)]


_HELD: LRU[tuple[int, str, int], tuple[float, set[int]]] = LRU(16)  # per (database, account, size)
HELD_TTL_S = 60.0  # the held-out set only changes when `twin persona learn` stores newer exchanges


def _recent_ids(store: Store, account: str, n: int) -> set[int]:
    if n <= 0:
        return set()
    key = (id(store.engine), account, n)
    cached = _HELD.get(key)
    if cached is not None and time.monotonic() - cached[0] < HELD_TTL_S:
        return cached[1]
    query = (sa.select(ExchangeRow.id).where(ExchangeRow.account == account)
             .order_by(ExchangeRow.date.desc(), ExchangeRow.id.desc()).limit(n))
    with store.engine.connect() as conn:
        ids = set(conn.scalars(query))
    _HELD[key] = (time.monotonic(), ids)
    return ids


def exchanges_before(store: Store, account: str, chat_id: int, before: Exchange, limit: int) -> list[Exchange]:
    """The chat's exchanges that came before one, oldest first (an eval case's history)."""
    query = (sa.select(ExchangeRow)
             .where(ExchangeRow.account == account, ExchangeRow.chat_id == chat_id,
                    ExchangeRow.first_message_id < before.first_message_id)
             .order_by(ExchangeRow.first_message_id.desc()).limit(limit))
    with store.session() as s:
        return [_to_exchange(r) for r in reversed(s.scalars(query).all())]


def similar_exchanges(
    store: Store, account: str, chat_id: int, text: str, k: int, *, held_out: int = 0
) -> list[Example]:
    """The k past exchanges whose contact text is most like `text`, this chat's preferred (CHAT_BOOST).

    The `held_out` most recent exchanges of the account are never returned (they are `twin eval`'s).
    When the text has no words (emoji only), the chat's latest exchanges are returned instead.
    """
    if k <= 0:
        return []
    ensure_exchange_index(store.engine)
    held = _recent_ids(store, account, held_out)
    tokens = query_tokens(text)
    if not tokens:
        return _latest_in_chat(store, account, chat_id, k, held)
    scored = rank_exchanges(store.engine, account, chat_id, tokens, pool=4 * k + len(held))
    ranked: dict[int, tuple[float, int]] = {}
    for row_id, row_chat, score in scored:
        if row_id not in held:
            ranked[row_id] = (score * (CHAT_BOOST if row_chat == chat_id else 1.0), row_chat)
    best = sorted(ranked.items(), key=lambda kv: (-kv[1][0], -kv[0]))[:k]
    if not best:
        return []
    with store.session() as s:
        rows = {r.id: r for r in s.scalars(sa.select(ExchangeRow).where(ExchangeRow.id.in_([i for i, _ in best])))}
    return [Example(_to_exchange(rows[i]), round(score, 6), c == chat_id) for i, (score, c) in best]


def _latest_in_chat(store: Store, account: str, chat_id: int, k: int, held: set[int]) -> list[Example]:
    query = (sa.select(ExchangeRow)
             .where(ExchangeRow.account == account, ExchangeRow.chat_id == chat_id, ExchangeRow.id.not_in(held))
             .order_by(ExchangeRow.date.desc(), ExchangeRow.id.desc()).limit(k))
    with store.session() as s:
        return [Example(_to_exchange(r), 0.0, True) for r in s.scalars(query)]
