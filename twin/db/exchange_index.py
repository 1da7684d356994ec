"""The full-text index over learned exchanges (raw DDL made when the store opens) and the ranked search over it.

SQLite: an FTS5 table `persona_exchanges_fts` (contact_text, scope) kept in sync by triggers; scope
holds one token for the account and one for the (account, chat) so both filters run inside the index.
A query keeps its rarest words (document counts capped at ROW_BUDGET) until about ROW_BUDGET rows match,
so BM25 ranks a bounded number of rows however common the words are (speed; common words weigh
little in BM25 anyway); when even the rarest word is that common, only the newest rows are ranked.
PostgreSQL: a generated column contact_tsv = to_tsvector('simple', contact_text) with a GIN index,
rows scored by BM25's idf of the words they contain. twin.persona.examples turns text into the words.
"""

from __future__ import annotations

import math
import weakref
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

FTS = "persona_exchanges_fts"
ROW_BUDGET = 1000  # about how many matching rows one SQLite query ranks at most
PG_STATS_REFRESH = 500  # searches between two reads of PostgreSQL's word statistics
_pg_stats: weakref.WeakKeyDictionary[Engine, tuple[int, dict[str, float], float]] = weakref.WeakKeyDictionary()
_SCOPE_SQL = ("'a' || hex({p}account) || ' k' || hex({p}account) || 'x' || "
              "replace(CAST({p}chat_id AS TEXT), '-', 'n')")
# ё is folded to е on both sides (unicode61 keeps it, and people type either).
_TEXT_SQL = "replace(replace({p}contact_text, 'ё', 'е'), 'Ё', 'Е')"
_PG_VECTOR = "to_tsvector('simple', translate(contact_text, 'ёЁ', 'еЕ'))"
_SQLITE_DDL = (
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS} USING fts5(contact_text, scope, "
    "tokenize='unicode61 remove_diacritics 2')",
    f"CREATE TRIGGER IF NOT EXISTS {FTS}_ai AFTER INSERT ON persona_exchanges BEGIN "
    f"INSERT INTO {FTS}(rowid, contact_text, scope) VALUES (new.id, {_TEXT_SQL.format(p='new.')}, "
    f"{_SCOPE_SQL.format(p='new.')}); END",
    f"CREATE TRIGGER IF NOT EXISTS {FTS}_ad AFTER DELETE ON persona_exchanges BEGIN "
    f"DELETE FROM {FTS} WHERE rowid = old.id; END",
    f"CREATE TRIGGER IF NOT EXISTS {FTS}_au AFTER UPDATE OF contact_text, account, chat_id "
    f"ON persona_exchanges BEGIN DELETE FROM {FTS} WHERE rowid = old.id; "
    f"INSERT INTO {FTS}(rowid, contact_text, scope) VALUES (new.id, {_TEXT_SQL.format(p='new.')}, "
    f"{_SCOPE_SQL.format(p='new.')}); END",
)
# A stored generated column rather than an expression index: scoring and counting then read the vector
# instead of re-parsing every candidate's text (about 10x faster on 100,000 rows).
_PG_DDL = (
    f"ALTER TABLE persona_exchanges ADD COLUMN IF NOT EXISTS contact_tsv tsvector GENERATED ALWAYS AS "
    f"({_PG_VECTOR}) STORED",
    "CREATE INDEX IF NOT EXISTS ix_persona_exchanges_tsv ON persona_exchanges USING gin (contact_tsv)",
)
_ensured: weakref.WeakSet[Engine] = weakref.WeakSet()


def ensure_exchange_index(engine: Engine) -> None:
    """create_exchange_index, once per engine."""
    if engine not in _ensured:
        create_exchange_index(engine)


def create_exchange_index(engine: Engine) -> None:
    """Create the index over exchanges if missing (FTS5 + triggers, or a PostgreSQL GIN index); idempotent."""
    dialect = engine.dialect.name
    with engine.begin() as conn:
        if dialect == "sqlite":
            existed = conn.execute(sa.text("SELECT 1 FROM sqlite_master WHERE name = :n"), {"n": FTS}).first()
            for ddl in _SQLITE_DDL:
                conn.execute(sa.text(ddl))
            if not existed:
                conn.execute(sa.text(f"INSERT INTO {FTS}(rowid, contact_text, scope) SELECT id, "
                                     f"{_TEXT_SQL.format(p='')}, {_SCOPE_SQL.format(p='')} FROM persona_exchanges"))
        elif dialect == "postgresql":
            for ddl in _PG_DDL:
                conn.execute(sa.text(ddl))
    _ensured.add(engine)


def rank_exchanges(engine: Engine, account: str, chat_id: int, tokens: list[str], *, pool: int) -> list[Any]:
    """(exchange id, chat id, relevance) of the best matches for the words, higher is better.

    Up to `pool` rows from this chat and `pool` from the whole account; a row may come twice.
    """
    if engine.dialect.name == "postgresql":
        return _search_postgres(engine, account, chat_id, tokens, pool)
    return _search_sqlite(engine, account, chat_id, tokens, pool)


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


def _search_sqlite(engine: Engine, account: str, chat_id: int, tokens: list[str], pool: int) -> list[Any]:
    sql = (f"SELECT f.rowid, e.chat_id, e.account, -f.score FROM (SELECT rowid, bm25({FTS}, 1.0, 0.0) AS score "
           f"FROM {FTS} WHERE {FTS} MATCH :q AND rowid >= :low ORDER BY score LIMIT :pool) AS f "
           "JOIN persona_exchanges e ON e.id = f.rowid")
    scope = account.encode().hex()
    with engine.connect() as conn:
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


def _pg_frequencies(engine: Engine, conn: sa.Connection) -> tuple[dict[str, float], float]:
    """The share of rows holding each common word (PostgreSQL's own statistics), and the share below them.

    Read from pg_stats (filled by ANALYZE / autovacuum) and cached for PG_STATS_REFRESH searches.
    """
    cached = _pg_stats.get(engine)
    if cached is not None and cached[0] < PG_STATS_REFRESH:
        _pg_stats[engine] = (cached[0] + 1, cached[1], cached[2])
        return cached[1], cached[2]
    row = conn.execute(sa.text(
        "SELECT most_common_elems::text::text[], most_common_elem_freqs FROM pg_stats "
        "WHERE tablename = 'persona_exchanges' AND attname = 'contact_tsv'")).first()
    freqs: dict[str, float] = {}
    floor = 0.0
    if row is not None and row[0] and row[1]:
        freqs = dict(zip(row[0], row[1], strict=False))  # the freqs array ends with min, max, null share
        floor = float(row[1][-3])
    _pg_stats[engine] = (0, freqs, floor)
    return freqs, floor


def _search_postgres(engine: Engine, account: str, chat_id: int, tokens: list[str], pool: int) -> list[Any]:
    # As on SQLite, the rarest words are kept until about ROW_BUDGET rows match (document counts are
    # estimated from PostgreSQL's statistics; unknown words count as rare), one plainto_tsquery each so
    # no input is ever syntax. When even the rarest word is common, only the newest 5 x ROW_BUDGET rows
    # are searched. A row scores the BM25 idf of each chosen word it contains (no tf, no length).
    with engine.connect() as conn:
        freqs, floor = _pg_frequencies(engine, conn)
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
