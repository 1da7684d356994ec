"""Past exchanges as examples: stored once, found again by what the contact wrote (BM25 / full text).

SQLite: an FTS5 table `persona_exchanges_fts` (contact_text, scope) kept in sync by triggers; scope
holds one token for the account and one for the (account, chat) so both filters run inside the index.
A query keeps its rarest words (document counts capped at ROW_BUDGET) until about ROW_BUDGET rows match,
so BM25 ranks a bounded number of rows however common the words are (speed; common words weigh
little in BM25 anyway); when even the rarest word is that common, only the newest rows are ranked.
PostgreSQL: a generated column contact_tsv = to_tsvector('simple', contact_text) with a GIN index,
rows scored by BM25's idf of the words they contain. Both are raw DDL made
by twin.db.exchange_index when the store opens (the searches here make sure of it too).
"""

from __future__ import annotations

import math
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from twin.db.exchange_index import FTS, ensure_exchange_index
from twin.db.store import Store
from twin.db.tables import ExchangeRow
from twin.lru import LRU
from twin.persona import lexicon as lx

CHAT_BOOST = 2.0  # this chat's exchanges count double: its language, address and jokes fit best
MAX_QUERY_TOKENS = 24
ROW_BUDGET = 1000  # about how many matching rows one SQLite query ranks at most
PG_STATS_REFRESH = 500  # searches between two reads of PostgreSQL's word statistics
_pg_stats: weakref.WeakKeyDictionary[Engine, tuple[int, dict[str, float], float]] = weakref.WeakKeyDictionary()


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
    pool = 4 * k + len(held)
    if store.engine.dialect.name == "postgresql":
        scored = _search_postgres(store, account, chat_id, tokens, pool)
    else:
        scored = _search_sqlite(store, account, chat_id, tokens, pool)
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


def _plan_sqlite(conn: sa.Connection, tokens: list[str]) -> tuple[list[str], int]:
    """The rarest tokens that together match at most about ROW_BUDGET rows, and the lowest rowid to rank.

    Document counts are capped at ROW_BUDGET + 1 (cheap whatever the word); when even the rarest word
    is more common than that, only its ROW_BUDGET newest rows are ranked.
    """
    cap = ROW_BUDGET + 1
    counts = ", ".join(f"(SELECT count(*) FROM (SELECT 1 FROM {FTS} WHERE {FTS} MATCH :q{i} LIMIT {cap}))"
                       for i in range(len(tokens)))
    row = conn.execute(sa.text(f"SELECT {counts}"), {f"q{i}": _phrase(t) for i, t in enumerate(tokens)}).one()
    df = {t: n for t, n in zip(tokens, row, strict=True) if n}
    chosen: list[str] = []
    total = 0
    for term in sorted(df, key=lambda t: (df[t], t)):
        if chosen and total + df[term] > ROW_BUDGET:
            break
        chosen.append(term)
        total += df[term]
    if total <= ROW_BUDGET:
        return chosen, 0
    low = conn.execute(sa.text(f"SELECT rowid FROM {FTS} WHERE {FTS} MATCH :q ORDER BY rowid DESC "
                               f"LIMIT 1 OFFSET {ROW_BUDGET - 1}"), {"q": _phrase(chosen[0])}).scalar()
    return chosen, int(low or 0)


def _phrase(*tokens: str) -> str:
    return "contact_text : (" + " OR ".join(f'"{t}"' for t in tokens) + ")"  # tokens hold no quotes


def _search_sqlite(store: Store, account: str, chat_id: int, tokens: list[str], pool: int) -> list[Any]:
    sql = (f"SELECT f.rowid, e.chat_id, e.account, -f.score FROM (SELECT rowid, bm25({FTS}, 1.0, 0.0) AS score "
           f"FROM {FTS} WHERE {FTS} MATCH :q AND rowid >= :low ORDER BY score LIMIT :pool) AS f "
           "JOIN persona_exchanges e ON e.id = f.rowid")
    scope = account.encode().hex()
    with store.engine.connect() as conn:
        chosen, low = _plan_sqlite(conn, tokens)
        if not chosen:
            return []
        words = _phrase(*chosen)
        chat = f'scope : "k{scope}x{str(chat_id).replace("-", "n")}"'
        here = conn.execute(sa.text(sql), {"q": f"{words} AND {chat}", "pool": pool, "low": 0}).all()
        # Without the account filter the index has one posting list less to walk; other accounts'
        # rows are dropped after ranking, and only when they crowd the pool is the filter applied.
        everywhere = conn.execute(sa.text(sql), {"q": words, "pool": pool, "low": low}).all()
        mine = [r for r in everywhere if r[2] == account]
        if len(everywhere) == pool and len(mine) < pool:
            mine = list(conn.execute(sa.text(sql), {"q": f'{words} AND scope : "a{scope}"', "pool": pool,
                                                    "low": low}))
    return [(r[0], r[1], r[3]) for r in [*here, *mine]]


def _pg_frequencies(store: Store, conn: sa.Connection) -> tuple[dict[str, float], float]:
    """The share of rows holding each common word (PostgreSQL's own statistics), and the share below them.

    Read from pg_stats (filled by ANALYZE / autovacuum) and cached for PG_STATS_REFRESH searches.
    """
    cached = _pg_stats.get(store.engine)
    if cached is not None and cached[0] < PG_STATS_REFRESH:
        _pg_stats[store.engine] = (cached[0] + 1, cached[1], cached[2])
        return cached[1], cached[2]
    row = conn.execute(sa.text(
        "SELECT most_common_elems::text::text[], most_common_elem_freqs FROM pg_stats "
        "WHERE tablename = 'persona_exchanges' AND attname = 'contact_tsv'")).first()
    freqs: dict[str, float] = {}
    floor = 0.0
    if row is not None and row[0] and row[1]:
        freqs = dict(zip(row[0], row[1], strict=False))  # the freqs array ends with min, max, null share
        floor = float(row[1][-3])
    _pg_stats[store.engine] = (0, freqs, floor)
    return freqs, floor


def _search_postgres(store: Store, account: str, chat_id: int, tokens: list[str], pool: int) -> list[Any]:
    # As on SQLite, the rarest words are kept until about ROW_BUDGET rows match (document counts are
    # estimated from PostgreSQL's statistics; unknown words count as rare), one plainto_tsquery each so
    # no input is ever syntax. When even the rarest word is common, only the newest 5 x ROW_BUDGET rows
    # are searched. A row scores the BM25 idf of each chosen word it contains (no tf, no length).
    with store.engine.connect() as conn:
        freqs, floor = _pg_frequencies(store, conn)
        newest = int(conn.execute(sa.text("SELECT max(id) FROM persona_exchanges")).scalar() or 0)
        if freqs and newest > 20 * ROW_BUDGET:
            df = {t: max(1.0, freqs.get(t, floor / 2) * newest) for t in tokens}
        else:  # no statistics yet, or a small table: count (at most ROW_BUDGET + 1 rows per word)
            counts = ", ".join(
                f"(SELECT count(*) FROM (SELECT 1 FROM persona_exchanges WHERE account = :account AND "
                f"contact_tsv @@ plainto_tsquery('simple', :t{i}) LIMIT {ROW_BUDGET + 1}) AS c{i})"
                for i in range(len(tokens)))
            row = conn.execute(sa.text(f"SELECT {counts}"),
                               {"account": account, **{f"t{i}": t for i, t in enumerate(tokens)}}).one()
            df = {t: float(n) for t, n in zip(tokens, row, strict=True) if n}
            tokens = [t for t in tokens if t in df]
            if not tokens:
                return []
        chosen: list[str] = []
        matched = 0.0
        for token in sorted(tokens, key=lambda t: (df[t], t)):
            if chosen and matched + df[token] > ROW_BUDGET:
                break
            chosen.append(token)
            matched += df[token]
        low = newest - 5 * ROW_BUDGET if matched > ROW_BUDGET else 0
        words = {f"t{i}": t for i, t in enumerate(chosen)}
        query = {k: f"plainto_tsquery('simple', :{k})" for k in words}
        score = " + ".join(f"CASE WHEN contact_tsv @@ {query[k]} THEN "
                           f"{math.log(1 + (newest - df[t] + 0.5) / (df[t] + 0.5))!r} ELSE 0 END"
                           for k, t in words.items())
        sql = (f"SELECT id, chat_id, {score} AS s FROM (SELECT id, chat_id, contact_tsv FROM persona_exchanges "
               f"WHERE account = :account AND id > :low AND contact_tsv @@ ({' || '.join(query.values())}) "
               f"{{chat}} ORDER BY id DESC LIMIT {ROW_BUDGET}) AS m ORDER BY s DESC, id DESC LIMIT :pool")
        params = {**words, "account": account, "pool": pool, "chat_id": chat_id, "low": low}
        here = conn.execute(sa.text(sql.format(chat="AND chat_id = :chat_id")), {**params, "low": 0}).all()
        everywhere = conn.execute(sa.text(sql.format(chat="")), params).all()
    return [(i, c, float(v)) for i, c, v in [*here, *everywhere]]


def _latest_in_chat(store: Store, account: str, chat_id: int, k: int, held: set[int]) -> list[Example]:
    query = (sa.select(ExchangeRow)
             .where(ExchangeRow.account == account, ExchangeRow.chat_id == chat_id, ExchangeRow.id.not_in(held))
             .order_by(ExchangeRow.date.desc(), ExchangeRow.id.desc()).limit(k))
    with store.session() as s:
        return [Example(_to_exchange(r), 0.0, True) for r in s.scalars(query)]
