"""A bounded mapping for per-chat state held in memory: a daemon serving many chats must not grow with them."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, MutableMapping
from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


class LRU(MutableMapping[K, V]):
    """A dict that keeps at most `limit` keys: setting one past the limit drops the least recently used."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("an LRU needs a limit of at least 1")
        self.limit = limit
        self._data: OrderedDict[K, V] = OrderedDict()

    def __getitem__(self, key: K) -> V:
        value = self._data[key]
        self._data.move_to_end(key)
        return value

    def get(self, key: K, default: V | None = None) -> V | None:  # type: ignore[override]
        """The value (now the most recently used), or default; no exception raised inside for a miss."""
        if key not in self._data:
            return default
        return self[key]

    def __setitem__(self, key: K, value: V) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self.limit:
            self._data.popitem(last=False)

    def __delitem__(self, key: K) -> None:
        del self._data[key]

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[K]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"LRU(limit={self.limit}, size={len(self._data)})"
