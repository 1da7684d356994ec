"""Small durable state per account and key: one JSON value each, written whole on every change.

The engine keeps here what must outlive the process but is no turn or chat: each model's health
(a daemon restarted mid-outage keeps waiting for the planned next try and tells the owner nothing
twice). Reads at start, a write per change: a single-row upsert.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa

from twin.db.store import Store
from twin.db.tables import StateRow
from twin.errors import StoreError

S = cast(sa.Table, StateRow.__table__)


class State:
    """One account's keys in twin_state."""

    def __init__(self, store: Store, account: str) -> None:
        self.store = store
        self.account = account

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored value, or None when the key was never written."""
        with self.store.engine.connect() as conn:
            value = conn.execute(sa.select(S.c.value).where(S.c.account == self.account, S.c.key == key)).scalar()
        return dict(value) if isinstance(value, dict) else None

    def under(self, prefix: str) -> dict[str, dict[str, Any]]:
        """Every key that begins with `prefix`, with its value."""
        query = sa.select(S.c.key, S.c.value).where(S.c.account == self.account, S.c.key.startswith(prefix))
        with self.store.engine.connect() as conn:
            return {str(k): dict(v) for k, v in conn.execute(query) if isinstance(v, dict)}

    def put(self, key: str, value: dict[str, Any], now: datetime) -> None:
        """Write the value whole (one UPDATE, or an INSERT the first time); StoreError when the database fails."""
        try:
            with self.store.engine.begin() as conn:
                done = conn.execute(S.update().where(S.c.account == self.account, S.c.key == key)
                                    .values(value=value, updated_at=now))
                if not done.rowcount:
                    conn.execute(S.insert().values(account=self.account, key=key, value=value, updated_at=now))
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(f"cannot write {key}: {exc.__class__.__name__}") from None

    def keep_only(self, prefix: str, keys: Iterable[str]) -> None:
        """Forget the keys under `prefix` that are not in `keys` (a model no longer configured)."""
        wanted = list(keys)
        with self.store.engine.begin() as conn:
            conn.execute(S.delete().where(S.c.account == self.account, S.c.key.startswith(prefix),
                                          S.c.key.not_in(wanted)))
