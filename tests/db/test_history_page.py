"""`twin history`'s page query on SQLite: newest first, one account, and without sorting the whole table."""

from __future__ import annotations

from pathlib import Path

from tests.fakes import T0, incoming
from twin.db.reader import open_reader
from twin.db.search import HistoryFilter, find_turns
from twin.db.store import Store

STATUSES = ("answered", "skipped", "failed", "review")


def test_a_plain_page_walks_newest_first_and_sorts_nothing(tmp_path: Path):
    url = f"sqlite:///{tmp_path}/twin.db"
    store = Store(url)
    mine: list[int] = []
    for n in range(120):  # two accounts interleaved, statuses mixed (the (account, status) index would reorder)
        account = "default" if n % 3 else "work"
        turn = store.add_turn(account, [incoming(f"m{n}", chat_id=n % 7, message_id=n + 1)],
                              status=STATUSES[n % 4], now=T0)
        if account == "default":
            mine.append(turn)
    store.close()
    reader = open_reader(url)
    assert reader is not None
    seen: list[str] = []
    reader.conn.set_trace_callback(seen.append)
    with reader:
        pages = [[t.id for t in find_turns(reader, "default", HistoryFilter(limit=30, page=p))] for p in (1, 2, 3)]
        plan = [row[-1] for row in reader.rows("EXPLAIN QUERY PLAN " + seen[-1])]
        answered = [t.id for t in find_turns(reader, "default", HistoryFilter(statuses=("answered",), limit=5))]
        one_chat = [t.id for t in find_turns(reader, "default", HistoryFilter(chat=2, limit=5))]
    newest_first = sorted(mine, reverse=True)
    assert pages == [newest_first[:30], newest_first[30:60], newest_first[60:80]]
    assert not any("TEMP B-TREE" in step for step in plan) and any("SCAN t" in step for step in plan), plan
    # with another condition the indexes still serve: the same answer as filtering in Python
    by_status = {t: STATUSES[(t - 1) % 4] for t in mine}
    assert answered == [t for t in newest_first if by_status[t] == "answered"][:5]
    assert one_chat == [t for t in newest_first if (t - 1) % 7 == 2][:5]
