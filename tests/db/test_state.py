"""twin_state on a real SQLite file: a JSON value per account and key, written whole."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from tests.fakes import T0
from twin.db.state import State
from twin.db.store import Store


def test_values_are_written_whole_per_account_and_kept_by_prefix(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'twin.db'}")
    mine, other = State(store, "me"), State(store, "other")
    assert mine.get("health:gemini|g") is None and mine.under("health:") == {}
    mine.put("health:gemini|g", {"down_since": None, "tries": 0}, T0)
    mine.put("health:gemini|g", {"tries": 2}, T0 + timedelta(seconds=1))  # replaced, not merged
    mine.put("health:local|l", {"tries": 1}, T0)
    mine.put("other:x", {"a": 1}, T0)
    other.put("health:gemini|g", {"tries": 9}, T0)
    assert mine.get("health:gemini|g") == {"tries": 2}
    assert mine.under("health:") == {"health:gemini|g": {"tries": 2}, "health:local|l": {"tries": 1}}
    mine.keep_only("health:", ["health:local|l"])
    assert mine.under("health:") == {"health:local|l": {"tries": 1}}
    assert mine.get("other:x") == {"a": 1} and other.get("health:gemini|g") == {"tries": 9}
    reopened = State(Store(store.url), "me")  # another process
    assert reopened.get("health:local|l") == {"tries": 1}
