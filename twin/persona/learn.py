"""`twin persona learn`: read the owner's private chats and keep their messages and exchanges.

Learning is local: it reads through the Telegram seam and writes to the database; no model is
called and nothing leaves the machine.

Bursts: consecutive messages from the same side form one burst, unless BURST_GAP passes between
two of them. An exchange is a contact burst followed by the owner's burst, when the owner began
within REPLY_WINDOW of the contact's last message. Non-text messages (photos, stickers) belong to
their burst but add no text; a burst with no text makes no exchange.

Resuming: per chat, the progress row keeps the last message id read and the "tail" (the last
contact burst and the owner's answer to it) that new messages may still extend; the next run asks
only for messages after that id and re-pairs the tail with them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any, TypeVar

import sqlalchemy as sa

from twin.clock import Clock
from twin.db.sent import SentParts
from twin.db.store import Store
from twin.db.tables import ExchangeRow, LearnProgressRow, OwnerMessageRow, TurnRow
from twin.errors import FloodWait
from twin.persona.acks import ack_replies, count_reactions, reaction_habit
from twin.persona.examples import Exchange, store_exchanges
from twin.persona.style import Sample, StyleProfile, build_profile
from twin.session.base import Dialog, Telegram
from twin.types import HistoryMessage

BURST_GAP = timedelta(minutes=30)
REPLY_WINDOW = timedelta(hours=12)
TELEGRAM_SERVICE_ID = 777000  # "Telegram" service notifications (login codes)
MAX_TAIL = 200  # messages kept in a chat's open tail
MAX_TEXT = 2000  # characters kept of each side of an exchange
MAX_FLOOD_RETRIES = 5
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class LearnProgress:
    """Where learning is: the dialog being read, or a flood wait being slept."""

    index: int  # 1-based position among the dialogs to read
    total: int
    chat_id: int
    title: str
    messages: int  # new messages read from this dialog
    waiting_s: float = 0.0


@dataclass
class LearnReport:
    """What a learning run read and stored."""

    dialogs: int = 0  # listed by Telegram
    read: int = 0  # private chats with people that were read
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> count
    messages: int = 0  # new messages read
    owner_messages: int = 0
    exchanges: int = 0  # stored or extended
    flood_waits: int = 0
    waited_s: float = 0.0


def skip_reason(dialog: Dialog, self_id: int | None) -> str | None:
    """Why a dialog is not learned from (bot, group, channel, self, service), or None."""
    if dialog.kind != "private":
        return dialog.kind
    if dialog.is_bot:
        return "bot"
    if dialog.chat_id == TELEGRAM_SERVICE_ID:
        return "service"
    if self_id is not None and dialog.chat_id == self_id:
        return "saved messages"
    return None


def bursts(messages: Sequence[HistoryMessage]) -> list[list[HistoryMessage]]:
    """Split oldest-first messages into same-side runs, cut where BURST_GAP passes."""
    runs: list[list[HistoryMessage]] = []
    for m in messages:
        last = runs[-1][-1] if runs else None
        if last is not None and last.outgoing == m.outgoing and m.date - last.date <= BURST_GAP:
            runs[-1].append(m)
        else:
            runs.append([m])
    return runs


def pair_exchanges(chat_id: int, messages: Sequence[HistoryMessage]) -> tuple[list[Exchange], list[HistoryMessage]]:
    """The exchanges in oldest-first messages, and the tail that later messages may still extend."""
    runs = bursts(messages)
    found: list[Exchange] = []
    for said, answer in zip(runs, runs[1:], strict=False):
        if said[0].outgoing or not answer[0].outgoing or answer[0].date - said[-1].date > REPLY_WINDOW:
            continue
        theirs = [m.words for m in said if m.words]
        ours = [m.words for m in answer if m.words]
        if theirs and ours:
            found.append(Exchange(
                chat_id=chat_id, contact_text="\n".join(theirs)[-MAX_TEXT:], owner_text="\n".join(ours)[:MAX_TEXT],
                date=answer[0].date, first_message_id=said[0].message_id, last_message_id=answer[-1].message_id,
                contact_messages=len(theirs), owner_messages=len(ours),
            ))
    tail: list[HistoryMessage] = []
    if runs and not runs[-1][0].outgoing:
        tail = runs[-1]
    elif len(runs) >= 2 and not runs[-2][0].outgoing and runs[-1][0].date - runs[-2][-1].date <= REPLY_WINDOW:
        tail = runs[-2] + runs[-1]  # the answer may still grow
    return found, tail[-MAX_TAIL:]


def _tail_json(tail: Sequence[HistoryMessage], acks: dict[str, int] | None = None,
               reactions: dict[str, int] | None = None) -> dict[str, Any]:
    def one(m: HistoryMessage) -> dict[str, Any]:
        extra = {k: v for k, v in (("kind", m.kind), ("media", m.media), ("reaction", m.reaction)) if v and v != "text"}
        return {"id": m.message_id, "date": m.date.isoformat(), "out": m.outgoing, "text": m.text, **extra}

    return {"messages": [one(m) for m in tail], **({"acks": acks} if acks else {}),
            **({"reactions": reactions} if reactions else {})}


def _count_acks(acks: dict[str, int], messages: Sequence[HistoryMessage]) -> dict[str, int]:
    """Add how the owner met the contact's acknowledgements in these messages (each burst counted once).

    "checked" counts the acknowledgements read with their reactions (rows learned before reactions were
    read have none), "reacted" those the owner reacted to.
    """
    found = ack_replies(bursts(messages), REPLY_WINDOW, int(acks.get("upto", 0)))
    counts = {"seen": found.seen, "answered": found.answered, "checked": found.seen, "reacted": found.reacted}
    return {**{k: int(acks.get(k, 0)) + v for k, v in counts.items()}, "upto": found.upto}


def _tail_messages(data: dict[str, Any]) -> list[HistoryMessage]:
    return [HistoryMessage(int(m["id"]), datetime.fromisoformat(m["date"]), bool(m["out"]), str(m["text"]), 0,
                           m.get("kind", "text"), str(m.get("media", "")), str(m.get("reaction", "")))
            for m in data.get("messages", [])]


async def _patient(call: Callable[[], Awaitable[T]], clock: Clock, report: LearnReport,
                   on_wait: Callable[[float], None]) -> T:
    """Run a Telegram call, sleeping out FloodWaits (on the clock) and trying again."""
    for attempt in range(MAX_FLOOD_RETRIES + 1):
        try:
            return await call()
        except FloodWait as exc:
            if attempt == MAX_FLOOD_RETRIES:
                raise
            report.flood_waits += 1
            report.waited_s += exc.seconds
            on_wait(float(exc.seconds))
            await clock.sleep(exc.seconds)
    raise AssertionError("unreachable")


async def learn(
    telegram: Telegram, store: Store, account: str, *, clock: Clock, max_dialogs: int = 200,
    max_messages: int = 2000, pace_s: float = 1.0, self_id: int | None = None,
    on_progress: Callable[[LearnProgress], None] | None = None,
) -> LearnReport:
    """Read new messages of the owner's private chats with people; store their messages and exchanges.

    Pass self_id (the logged-in owner's id) so Saved Messages are skipped. Requests are paced by
    pace_s on the clock; FloodWaits are slept out and the same request is made again. Progress is
    saved per chat, so an interrupted run resumes where it stopped.
    """
    report = LearnReport()
    notify = on_progress or (lambda _p: None)
    dialogs = await _patient(lambda: telegram.dialogs(max_dialogs), clock, report, lambda _s: None)
    report.dialogs = len(dialogs)
    chosen = []
    for dialog in dialogs:
        reason = skip_reason(dialog, self_id)
        if reason is None:
            chosen.append(dialog)
        else:
            report.skipped[reason] = report.skipped.get(reason, 0) + 1
    for index, dialog in enumerate(chosen, 1):
        with store.session() as s:
            row = s.get(LearnProgressRow, (account, dialog.chat_id))
            last_id = row.last_message_id if row else 0
            tail = _tail_messages(row.tail) if row else []
            acks = dict(row.tail.get("acks", {})) if row and row.tail else {}
            reactions = dict(row.tail.get("reactions", {})) if row and row.tail else {}
        if index > 1:
            await clock.sleep(pace_s)

        def waiting(seconds: float, d: Dialog = dialog, i: int = index) -> None:
            notify(LearnProgress(i, len(chosen), d.chat_id, d.title, 0, seconds))

        got = await _patient(partial(telegram.history, dialog.chat_id, max_messages, last_id),
                             clock, report, waiting)
        # The twin's own replies go out as the owner: learning from them would be learning from itself.
        twin_sent = sent_by_twin(store, account, dialog.chat_id)
        new = sorted((m for m in got if m.message_id > last_id and not (m.outgoing and m.message_id in twin_sent)),
                     key=lambda m: m.message_id)
        report.read += 1
        report.messages += len(new)
        if new:
            report.owner_messages += _save_owner_messages(store, account, dialog.chat_id, new)
            known = {m.message_id for m in new}
            joined = [m for m in tail if m.message_id not in known] + new
            exchanges, tail = pair_exchanges(dialog.chat_id, joined)
            report.exchanges += store_exchanges(store, account, exchanges)
            acks = _count_acks(acks, joined)
            reactions = count_reactions(reactions, new)
        _save_progress(store, account, dialog, new[-1].message_id if new else last_id, tail, len(new), clock.now(),
                       acks, reactions)
        notify(LearnProgress(index, len(chosen), dialog.chat_id, dialog.title, len(new)))
    return report


def sent_by_twin(store: Store, account: str, chat_id: int) -> set[int]:
    """Message ids the twin itself sent in a chat (its replies and away notes; each part once delivered)."""
    with store.session() as s:
        rows = s.scalars(sa.select(TurnRow.reply_ids).where(
            TurnRow.account == account, TurnRow.chat_id == chat_id, TurnRow.sent_at.is_not(None))).all()
    return {int(i) for ids in rows for i in (ids or ()) if i} | SentParts(store, account).ids(chat_id)


def _save_owner_messages(store: Store, account: str, chat_id: int, messages: Sequence[HistoryMessage]) -> int:
    # The owner's own words only: a photo's caption, never its "[photo]" line.
    rows = [{"account": account, "chat_id": chat_id, "message_id": m.message_id, "date": m.date, "text": m.words}
            for m in messages if m.outgoing and m.words]
    if not rows:
        return 0
    with store.session() as s, s.begin():
        known = set(s.scalars(sa.select(OwnerMessageRow.message_id).where(
            OwnerMessageRow.account == account, OwnerMessageRow.chat_id == chat_id,
            OwnerMessageRow.message_id.in_([r["message_id"] for r in rows]))))
        fresh = [r for r in rows if r["message_id"] not in known]
        if fresh:
            s.execute(sa.insert(OwnerMessageRow), fresh)
    return len(fresh)


def _save_progress(store: Store, account: str, dialog: Dialog, last_id: int, tail: Sequence[HistoryMessage],
                   read: int, now: datetime, acks: dict[str, int] | None = None,
                   reactions: dict[str, int] | None = None) -> None:
    with store.session() as s, s.begin():
        row = s.get(LearnProgressRow, (account, dialog.chat_id))
        if row is None:
            row = LearnProgressRow(account=account, chat_id=dialog.chat_id, messages_read=0)
            s.add(row)
        row.title = dialog.title[:255]
        row.last_message_id = last_id
        row.tail = _tail_json(tail, acks, reactions)
        row.messages_read = (row.messages_read or 0) + read
        row.updated_at = now


def load_samples(store: Store, account: str) -> tuple[list[Sample], list[Sample], dict[int, str]]:
    """The owner's messages, their replies (whole bursts), and chat titles, as style analysis takes them."""
    with store.session() as s:
        messages = [Sample(c, t) for c, t in s.execute(
            sa.select(OwnerMessageRow.chat_id, OwnerMessageRow.text).where(OwnerMessageRow.account == account)
            .order_by(OwnerMessageRow.chat_id, OwnerMessageRow.message_id))]
        replies = [Sample(c, t, n) for c, t, n in s.execute(
            sa.select(ExchangeRow.chat_id, ExchangeRow.owner_text, ExchangeRow.owner_messages)
            .where(ExchangeRow.account == account).order_by(ExchangeRow.chat_id, ExchangeRow.first_message_id))]
        titles = {c: t for c, t in s.execute(sa.select(LearnProgressRow.chat_id, LearnProgressRow.title)
                                             .where(LearnProgressRow.account == account))}
    return messages, replies, titles


def learned_profile(store: Store, account: str) -> StyleProfile:
    """The style profile of everything learned so far for this account."""
    with store.session() as s:
        tails = [t for t in s.scalars(sa.select(LearnProgressRow.tail).where(LearnProgressRow.account == account))
                 if isinstance(t, dict)]
    counted = [t["acks"] for t in tails if isinstance(t.get("acks"), dict)]
    acks = {k: sum(int(c.get(k, 0)) for c in counted) for k in ("seen", "answered", "checked", "reacted")}
    reactions: Counter[str] = Counter()
    for t in tails:
        reactions.update({k: int(v) for k, v in (t.get("reactions") or {}).items()})
    return replace(build_profile(*load_samples(store, account)), acks=acks, reactions=reaction_habit(reactions))

