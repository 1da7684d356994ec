"""The twin's own sends, part by part: the durable answer to "is this outgoing message the twin's?".

Every part of a reply (text, or one voice note) is stored with its random_id before the first
send, and each part's message id the moment Telegram gives it. An outgoing message is the twin's
when its id is stored here, or when it matches a part that was attempted and whose id is still
unknown; each part matches once, so a second identical message is the owner's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa

from twin.db.store import Store
from twin.db.tables import MessageRow, SentPartRow, TurnRow

ECHO_SLACK = timedelta(minutes=2)  # Telegram's clock and this machine's differ a little
CLAIM_WINDOW = timedelta(days=2)  # an echo of a part attempted longer ago is no longer awaited
P = cast(sa.Table, SentPartRow.__table__)
M = cast(sa.Table, MessageRow.__table__)
T = cast(sa.Table, TurnRow.__table__)


@dataclass(frozen=True)
class Part:
    """One planned part of a reply and what is known of its delivery."""

    turn_id: int
    chat_id: int
    index: int
    kind: str  # text | voice
    text: str
    random_id: int
    message_id: int | None
    source: str  # sent (Telegram's answer) | history (found in the chat) | echo (an outgoing message matched it)
    planned_at: datetime
    attempted_at: datetime | None

    @property
    def confirmed(self) -> bool:
        """Telegram itself said this part is delivered: it is never sent again."""
        return self.message_id is not None and self.source in ("sent", "history")


def _part(row: Any) -> Part:
    return Part(int(row.turn_id), int(row.chat_id), int(row.part), row.kind, row.text, int(row.random_id),
                None if row.message_id is None else int(row.message_id), row.source, row.planned_at,
                row.attempted_at)


def same_text(a: str, b: str) -> bool:
    """Telegram trims what it stores; compare as it would."""
    return a.strip() == b.strip()


class SentParts:
    """The sent-parts ledger of one account (each method one transaction)."""

    def __init__(self, store: Store, account: str) -> None:
        self.store = store
        self.account = account
        self._insert_message = store.insert_ignore(MessageRow)

    def parts(self, turn_id: int) -> list[Part]:
        """The stored plan of a turn, in order (empty when nothing was planned yet)."""
        with self.store.engine.connect() as conn:
            rows = conn.execute(sa.select(P).where(P.c.account == self.account, P.c.turn_id == turn_id)
                                .order_by(P.c.part)).all()
        return [_part(r) for r in rows]

    def plan(self, turn_id: int, chat_id: int, planned: Sequence[tuple[str, str]], random_id: int,
             now: datetime, *, replace: bool = False) -> list[Part]:
        """Store the parts (kind, text) before the first send, random_id + index each.

        A stored plan is kept (a resend sends what was planned); with replace, its parts that were
        never delivered give way to these.
        """
        with self.store.engine.begin() as conn:
            if replace:
                conn.execute(sa.delete(P).where(P.c.account == self.account, P.c.turn_id == turn_id,
                                                P.c.message_id.is_(None)))
            kept = {int(r.part) for r in conn.execute(sa.select(P.c.part).where(
                P.c.account == self.account, P.c.turn_id == turn_id))}
            rows = [{"account": self.account, "chat_id": chat_id, "turn_id": turn_id, "part": i, "kind": kind,
                     "text": text, "random_id": random_id + i, "message_id": None, "source": "",
                     "planned_at": now, "attempted_at": None}
                    for i, (kind, text) in enumerate(planned) if i not in kept and (replace or not kept)]
            if rows:
                conn.execute(sa.insert(P), rows)
        return self.parts(turn_id)

    def attempt(self, part: Part, now: datetime | None) -> None:
        """Note the first send attempt of a part (an echo of it can only exist after that); None undoes it."""
        if now is not None and part.attempted_at is not None:
            return
        with self.store.engine.begin() as conn:
            if now is None:  # the first attempt was refused: nothing went out
                conn.execute(sa.update(P).where(*self._key(part), P.c.message_id.is_(None)).values(attempted_at=None))
            else:
                conn.execute(sa.update(P).where(*self._key(part), P.c.attempted_at.is_(None)).values(
                    attempted_at=now))

    def delivered(self, part: Part, message_id: int, source: str, now: datetime) -> int | None:
        """Store the id Telegram gave a part; returns the id an echo had matched to it wrongly (the owner's)."""
        with self.store.engine.begin() as conn:
            row = conn.execute(sa.select(P.c.message_id, P.c.source).where(*self._key(part))).first()
            displaced = None
            if row is not None and row.message_id is not None and int(row.message_id) != message_id:
                if row.source != "echo":
                    return None  # Telegram's own answer stands
                displaced = int(row.message_id)
            conn.execute(sa.update(P).where(*self._key(part)).values(message_id=message_id, source=source))
            if displaced is not None:  # that message was the owner's: forget it was counted as a reply
                conn.execute(sa.delete(M).where(M.c.account == self.account, M.c.chat_id == part.chat_id,
                                                M.c.message_id == displaced))
            self._remember(conn, part, message_id, now)
        return displaced

    def owns(self, chat_id: int, message_id: int) -> bool:
        """Whether this message id is known to be one the twin sent."""
        with self.store.engine.connect() as conn:
            return conn.execute(sa.select(P.c.id).where(
                P.c.account == self.account, P.c.chat_id == chat_id, P.c.message_id == message_id)).first() is not None

    def claim(self, chat_id: int, message_id: int, kind: str, text: str, date: datetime,
              now: datetime) -> Part | None:
        """An outgoing message of unknown id: the first attempted part it matches (now its id), or None."""
        voice = kind == "voice"
        query = sa.select(P).where(
            P.c.account == self.account, P.c.chat_id == chat_id, P.c.message_id.is_(None),
            P.c.attempted_at.is_not(None), P.c.attempted_at >= now - CLAIM_WINDOW,
            P.c.attempted_at <= date + ECHO_SLACK, P.c.kind == ("voice" if voice else "text"),
        ).order_by(P.c.turn_id, P.c.part)
        with self.store.engine.begin() as conn:
            for row in conn.execute(query).all():
                part = _part(row)
                if voice or same_text(part.text, text):
                    conn.execute(sa.update(P).where(*self._key(part)).values(message_id=message_id, source="echo"))
                    self._remember(conn, part, message_id, now)
                    return part
        return None

    def forget_untried(self, turn_id: int) -> None:
        """A reply that stops here: parts never tried are dropped (a part tried whose answer was lost stays:
        Telegram may have it, and its echo must still be known)."""
        with self.store.engine.begin() as conn:
            conn.execute(sa.delete(P).where(P.c.account == self.account, P.c.turn_id == turn_id,
                                            P.c.message_id.is_(None), P.c.attempted_at.is_(None)))

    def ids(self, chat_id: int) -> set[int]:
        """Every message id the twin is known to have sent in a chat."""
        with self.store.engine.connect() as conn:
            return {int(i) for i in conn.execute(sa.select(P.c.message_id).where(
                P.c.account == self.account, P.c.chat_id == chat_id, P.c.message_id.is_not(None))).scalars()}

    def owner_ids(self, chat_id: int) -> set[int]:
        """Outgoing messages of a chat already taken for the owner's (stored, and not the twin's)."""
        with self.store.engine.connect() as conn:
            stored = {int(i) for i in conn.execute(sa.select(M.c.message_id).where(
                M.c.account == self.account, M.c.chat_id == chat_id, M.c.outgoing.is_(True))).scalars()}
        return stored - self.ids(chat_id)

    def _key(self, part: Part) -> tuple[Any, ...]:
        return P.c.account == self.account, P.c.turn_id == part.turn_id, P.c.part == part.index

    def _remember(self, conn: sa.Connection, part: Part, message_id: int, now: datetime) -> None:
        """The part becomes chat context; a finished turn's reply ids are brought up to date."""
        conn.execute(self._insert_message, {"account": self.account, "chat_id": part.chat_id,
                                            "message_id": message_id, "date": now, "outgoing": True,
                                            "text": part.text if part.kind == "text" else ""})
        status = conn.execute(sa.select(T.c.status).where(T.c.id == part.turn_id)).scalar()
        if status is not None and status != "sending":
            ids = conn.execute(sa.select(P.c.message_id).where(P.c.account == self.account,
                                                               P.c.turn_id == part.turn_id).order_by(P.c.part))
            conn.execute(sa.update(T).where(T.c.id == part.turn_id).values(
                reply_ids=[int(i or 0) for i in ids.scalars()]))
