"""`twin stats`: replies per day and chat, skips by reason, reply delay, voice share, tokens and cost.

Whole UTC days are aggregated once and kept in turn_stats_days (see twin.db.derived: a trigger drops
a day's row when any of its turns changes); the partial days at either end are read directly.
Reply delays are counted in buckets (1 s under a minute, 10 s under 10 min, 1 min under 2 h,
10 min beyond), so the median and p90 are exact to half a bucket.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from twin.db.derived import STATS, ensure_derived_reader
from twin.db.reader import Reader, read_time
from twin.db.search import latest_title

# USD per million tokens (input, output). An ESTIMATE from public list prices in 2025; check your bill.
PRICES: dict[str, tuple[float, float]] = {
    "gemini-2.5-flash": (0.30, 2.50), "gemini-2.5-flash-lite": (0.10, 0.40), "gemini-2.5-pro": (1.25, 10.00),
    "gemini-2.0-flash": (0.10, 0.40), "gpt-4o-mini": (0.15, 0.60), "gpt-4o": (2.50, 10.00),
    "gpt-4.1-mini": (0.40, 1.60), "gpt-4.1": (2.00, 8.00),
}
PROVIDER_PRICES: dict[str, tuple[float, float]] = {"gemini": PRICES["gemini-2.5-flash"],
                                                   "openai": PRICES["gpt-4o-mini"], "local": (0.0, 0.0)}
_SQL = {
    "sqlite": {"hour": "substr(received_at, 1, 13)",
               "delay": "CAST(round((julianday(sent_at) - julianday(received_at)) * 86400) AS INTEGER)"},
    "postgresql": {"hour": "to_char(received_at, 'YYYY-MM-DD HH24')",
                   "delay": "CAST(round(EXTRACT(EPOCH FROM sent_at - received_at)) AS INTEGER)"},
}
_RANGE = "account = :a AND received_at >= :s AND received_at < :e"
_VOICE_IN = "CASE WHEN kind IN ('voice', 'audio', 'video_note') THEN 1 ELSE 0 END"
_BUCKET = ("CASE WHEN d < 0 THEN 0 WHEN d < 60 THEN d WHEN d < 600 THEN d / 10 * 10 "
           "WHEN d < 7200 THEN d / 60 * 60 ELSE d / 600 * 600 END")


@dataclass
class Agg:
    """Additive aggregates of the turns of one time range."""

    statuses: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)  # "status\treason" of turns not answered
    chats: Counter[str] = field(default_factory=Counter)  # chat id -> replies
    hours: Counter[str] = field(default_factory=Counter)  # "YYYY-MM-DD HH" (UTC) -> replies
    delays: Counter[str] = field(default_factory=Counter)  # bucket (s) -> replies
    tokens: dict[str, list[int]] = field(default_factory=dict)  # "provider\tmodel" -> [turns, in, out]
    voice_in: int = 0
    voice_out: int = 0

    def add(self, other: Agg) -> None:
        """Add another range's aggregates to these."""
        for name in ("statuses", "reasons", "chats", "hours", "delays"):
            getattr(self, name).update(getattr(other, name))
        for key, (n, t_in, t_out) in other.tokens.items():
            mine = self.tokens.setdefault(key, [0, 0, 0])
            mine[0] += n
            mine[1] += t_in
            mine[2] += t_out
        self.voice_in += other.voice_in
        self.voice_out += other.voice_out

    def dumps(self) -> str:
        """The aggregates as JSON (for the day cache)."""
        return json.dumps({k: v for k, v in vars(self).items()}, separators=(",", ":"))

    @classmethod
    def loads(cls, text: str) -> Agg:
        """Aggregates from dumps()."""
        data = json.loads(text)
        return cls(Counter(data["statuses"]), Counter(data["reasons"]), Counter(data["chats"]), Counter(data["hours"]),
                   Counter(data["delays"]), data["tokens"], data["voice_in"], data["voice_out"])


def aggregate(reader: Reader, account: str, start: datetime, end: datetime) -> Agg:
    """Read the aggregates of [start, end) from the turns themselves."""
    sql = _SQL[reader.dialect]
    p = {"a": account, "s": reader.time(start), "e": reader.time(end)}
    agg = Agg()
    for status, reason, provider, model, voice, voice_in, n, t_in, t_out in reader.rows(
            f"SELECT status, CASE WHEN status = 'answered' THEN '' ELSE reason END, provider, model, voice, "
            f"{_VOICE_IN}, count(*), sum(tokens_in), sum(tokens_out) FROM turns WHERE {_RANGE} "
            "GROUP BY 1, 2, 3, 4, 5, 6", p):
        agg.statuses[status] += n
        if status != "answered":
            agg.reasons[f"{status}\t{reason}"] += n
        elif voice:
            agg.voice_out += n
        agg.voice_in += n if voice_in else 0
        if provider:
            mine = agg.tokens.setdefault(f"{provider}\t{model}", [0, 0, 0])
            mine[0] += n
            mine[1] += int(t_in or 0)
            mine[2] += int(t_out or 0)
    answered = f"{_RANGE} AND status = 'answered'"
    agg.chats.update({str(c): n for c, n in reader.rows(
        f"SELECT chat_id, count(*) FROM turns WHERE {answered} GROUP BY chat_id", p)})
    agg.hours.update({h: n for h, n in reader.rows(
        f"SELECT {sql['hour']}, count(*) FROM turns WHERE {answered} GROUP BY 1", p)})
    agg.delays.update({str(b): n for b, n in reader.rows(
        f"SELECT {_BUCKET} AS b, count(*) FROM (SELECT {sql['delay']} AS d FROM turns "
        f"WHERE {answered} AND sent_at IS NOT NULL) x GROUP BY 1", p)})
    return agg


def _day_agg(reader: Reader, account: str, day: date) -> Agg:
    """One whole UTC day, computed and cached under a lock that the invalidating trigger also takes."""
    start = datetime.combine(day, datetime.min.time(), UTC)
    with reader.transaction():
        if reader.dialect == "postgresql":
            reader.execute("SELECT pg_advisory_xact_lock(hashtext('twin-stats ' || :a || ' ' || :d))",
                           {"a": account, "d": day.isoformat()})
        agg = aggregate(reader, account, start, start + timedelta(days=1))
        reader.execute(f"INSERT INTO {STATS} (account, day, data) VALUES (:a, :d, :data) "
                       "ON CONFLICT (account, day) DO UPDATE SET data = excluded.data",
                       {"a": account, "d": day.isoformat(), "data": agg.dumps()})
    return agg


def collect(reader: Reader, account: str, start: datetime, end: datetime) -> tuple[Agg, int]:
    """Aggregates of [start, end): cached whole days plus the partial ends; returns (agg, days computed)."""
    first_day = (start + timedelta(days=1) - timedelta(microseconds=1)).astimezone(UTC).date()
    last_day = end.astimezone(UTC).date()  # exclusive
    total = Agg()
    if first_day >= last_day:
        return aggregate(reader, account, start, end), 0
    ensure_derived_reader(reader)
    day0 = datetime.combine(first_day, datetime.min.time(), UTC)
    day1 = datetime.combine(last_day, datetime.min.time(), UTC)
    if start < day0:
        total.add(aggregate(reader, account, start, day0))
    if day1 < end:
        total.add(aggregate(reader, account, day1, end))
    cached = dict(reader.rows(f"SELECT day, data FROM {STATS} WHERE account = :a AND day >= :d0 AND day < :d1",
                              {"a": account, "d0": first_day.isoformat(), "d1": last_day.isoformat()}))
    computed = 0
    day = first_day
    while day < last_day:
        text = cached.get(day.isoformat())
        if text is not None:
            total.add(Agg.loads(text))
        else:
            total.add(_day_agg(reader, account, day))
            computed += 1
        day += timedelta(days=1)
    return total, computed


@dataclass(frozen=True)
class ProviderUse:
    provider: str
    model: str
    turns: int
    tokens_in: int
    tokens_out: int
    cost_usd: float | None  # an estimate; None when the model's price is unknown


@dataclass(frozen=True)
class Stats:
    """What `twin stats` shows."""

    since: datetime
    until: datetime
    turns: int
    replies: int
    per_day: list[tuple[date, int]]  # in the owner's time zone
    per_chat: list[tuple[int, str, int]]  # (chat id, title, replies), most first
    skips: list[tuple[str, str, int]]  # (status, reason, turns), most first
    delay_median_s: float | None
    delay_p90_s: float | None
    voice_in_share: float
    voice_out_share: float
    providers: list[ProviderUse]
    days_computed: int = 0

    def as_json(self) -> dict[str, Any]:
        """JSON-ready data with stable keys."""
        return {"since": self.since.isoformat(), "until": self.until.isoformat(), "turns": self.turns,
                "replies": self.replies, "per_day": [[d.isoformat(), n] for d, n in self.per_day],
                "per_chat": [{"chat_id": c, "chat": t, "replies": n} for c, t, n in self.per_chat],
                "skips": [{"status": s, "reason": r, "turns": n} for s, r, n in self.skips],
                "delay_median_s": self.delay_median_s, "delay_p90_s": self.delay_p90_s,
                "voice_in_share": self.voice_in_share, "voice_out_share": self.voice_out_share,
                "providers": [vars(p) for p in self.providers], "cost_is_estimate": True}


def percentile(buckets: Counter[str], q: float) -> float | None:
    """The q-quantile of bucketed delays, at the bucket's middle."""
    total = sum(buckets.values())
    if not total:
        return None
    seen = 0
    for low in sorted(int(b) for b in buckets):
        seen += buckets[str(low)]
        if seen >= q * total:
            width = 1 if low < 60 else 10 if low < 600 else 60 if low < 7200 else 600
            return float(low) if width == 1 else low + width / 2
    return None


def cost(provider: str, model: str, tokens_in: int, tokens_out: int) -> float | None:
    """Estimated USD for the tokens, from PRICES (None when the model is unknown)."""
    price = PRICES.get(model) or (PROVIDER_PRICES.get(provider) if not model or provider == "local" else None)
    return None if price is None else (tokens_in * price[0] + tokens_out * price[1]) / 1_000_000


def compute_stats(reader: Reader, account: str, *, since: datetime | None, until: datetime | None, now: datetime,
                  tz: tzinfo, top: int = 10) -> Stats:
    """Everything `twin stats` shows for [since, until) (since None: from the first turn; until at most now)."""
    until = min(until or now, now)
    if since is None:
        since = read_time(reader.value("SELECT min(received_at) FROM turns WHERE account = :a",
                                       {"a": account})) or until
    agg, computed = collect(reader, account, since, until)
    days: Counter[date] = Counter()
    for hour, n in agg.hours.items():  # "YYYY-MM-DD HH" in UTC (strptime is ten times slower)
        at = datetime(int(hour[:4]), int(hour[5:7]), int(hour[8:10]), int(hour[11:13]), tzinfo=UTC)
        days[at.astimezone(tz).date()] += n
    per_day: list[tuple[date, int]] = []
    if since < until:
        day, last = since.astimezone(tz).date(), (until - timedelta(microseconds=1)).astimezone(tz).date()
        while day <= last:
            per_day.append((day, days.get(day, 0)))
            day += timedelta(days=1)
    replies = agg.statuses.get("answered", 0)
    titles = _titles(reader, account, [int(c) for c, _ in agg.chats.most_common(top)])
    skips = [(key.partition("\t")[0], key.partition("\t")[2], n) for key, n in agg.reasons.most_common()]
    providers = [ProviderUse(p, m, n, t_in, t_out, cost(p, m, t_in, t_out))
                 for (p, m), (n, t_in, t_out) in ((k.split("\t", 1), v) for k, v in sorted(agg.tokens.items()))]
    turns = sum(agg.statuses.values())
    return Stats(since, until, turns, replies, per_day,
                 [(int(c), titles.get(int(c), ""), n) for c, n in agg.chats.most_common(top)],
                 skips, percentile(agg.delays, 0.5), percentile(agg.delays, 0.9),
                 agg.voice_in / turns if turns else 0.0, agg.voice_out / replies if replies else 0.0,
                 providers, computed)


def _titles(reader: Reader, account: str, chat_ids: list[int]) -> dict[int, str]:
    titles = {int(c): t for c, t in reader.rows("SELECT chat_id, title FROM chats WHERE account = :a", {"a": account})
              if t}
    for chat_id in (c for c in chat_ids if c not in titles):
        titles[chat_id] = latest_title(reader, account, chat_id)
    return titles
