"""`twin status`: the daemon's state (pid lock + status file) and the queue, pauses and modes from the DB."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from twin.config import Settings
from twin.db.derived import ensure_derived_reader
from twin.db.reader import Reader, open_reader, read_json, read_time
from twin.db.search import latest_title
from twin.engine.hours import Hours, next_change
from twin.engine.steer import FOREVER, GLOBAL_CHAT
from twin.errors import TwinError
from twin.llm.health import MODEL_WAIT, view
from twin.service.process import memory_of, paths, read_status, running_pid

QUEUE_STATES = ("review", "waiting", "composing", "sending")


@dataclass(frozen=True)
class ChatOverride:
    """A chat (or, with chat_id 0, the whole account) with its own mode or a pause."""

    chat_id: int
    title: str
    mode: str | None
    paused_until: datetime | None


def overrides(reader: Reader, account: str) -> list[ChatOverride]:
    """Every chat row that sets a mode or a pause."""
    rows = reader.rows("SELECT chat_id, title, mode, paused_until FROM chats WHERE account = :a AND "
                       "(mode IS NOT NULL OR paused_until IS NOT NULL) ORDER BY chat_id", {"a": account})
    return [ChatOverride(int(c), t or (latest_title(reader, account, int(c)) if c else ""), m, read_time(p))
            for c, t, m, p in rows]


def hours_now(settings: Settings, now: datetime) -> dict[str, Any]:
    """Whether the owner's hours are open now and when that next changes (None: not within 3 weeks)."""
    try:
        is_open, when = next_change(Hours.from_settings(settings.hours), now)
    except TwinError as exc:
        return {"open": None, "next_change": None, "error": str(exc)}
    return {"open": bool(is_open), "next_change": when.isoformat() if when else None}


def _from_db(reader: Reader, settings: Settings, now: datetime) -> dict[str, Any]:
    account = settings.account
    names = ", ".join(f"'{s}'" for s in QUEUE_STATES)
    queue = dict.fromkeys(QUEUE_STATES, 0)
    queue.update({s: int(n) for s, n in reader.rows(
        f"SELECT status, count(*) FROM turns WHERE account = :a AND status IN ({names}) GROUP BY status",
        {"a": account})})
    needs_owner = reader.value("SELECT count(*) FROM turns WHERE account = :a AND received_at >= :s AND "
                               "status = 'needs_owner'", {"a": account, "s": reader.time(now - timedelta(days=1))})
    last = reader.rows("SELECT id, chat_id, chat_title, sent_at, reply_text FROM turns WHERE account = :a AND "
                       "status = 'answered' ORDER BY id DESC LIMIT 1", {"a": account})
    found = overrides(reader, account)
    overall = next((o for o in found if o.chat_id == GLOBAL_CHAT), None)
    pauses = [{"chat_id": o.chat_id, "chat": o.title if o.chat_id else "all chats",
               "until": None if o.paused_until >= FOREVER else o.paused_until.isoformat()}
              for o in found if o.paused_until is not None and o.paused_until > now]
    return {
        "mode": overall.mode if overall and overall.mode else settings.service.mode,
        "mode_source": "override" if overall and overall.mode else "settings",
        "chat_modes": [{"chat_id": o.chat_id, "chat": o.title, "mode": o.mode}
                       for o in found if o.mode and o.chat_id != GLOBAL_CHAT],
        "pauses": pauses,
        "queue": queue,
        "needs_owner_24h": int(needs_owner or 0),
        "last_reply": None if not last else {
            "turn": last[0][0], "chat_id": last[0][1], "chat": last[0][2],
            "sent_at": (read_time(last[0][3]) or now).isoformat(), "text": (last[0][4] or "")[:200]},
    }


def _waiting_for_model(reader: Reader, account: str) -> dict[str, Any]:
    """How many replies wait out a model outage, and the earliest next try among them."""
    rows = reader.rows("SELECT count(*), min(due_at) FROM turns WHERE account = :a AND status = 'waiting' "
                       "AND reason LIKE :p", {"a": account, "p": MODEL_WAIT + "%"})
    count, due = rows[0] if rows else (0, None)
    when = read_time(due) if count else None
    return {"count": int(count or 0), "next_try": when.isoformat() if when else None}


def stored_models(reader: Reader, account: str) -> list[dict[str, Any]]:
    """Each model's health as the daemon last stored it (primary first): what status shows while it is down."""
    if not reader.has_table("twin_state"):
        return []
    rows = reader.rows("SELECT value FROM twin_state WHERE account = :a AND key LIKE 'health:%'", {"a": account})
    states = [v for v in (read_json(r[0]) for r in rows) if isinstance(v, dict)]
    states.sort(key=lambda v: int(v.get("order") or 0))
    return [{**view(v), "model": v.get("model"), "fallback": bool(v.get("order"))} for v in states]


def model_lines(report: dict[str, Any], tz: tzinfo) -> list[str]:
    """'gemini unavailable since 12:04 (last: HTTP 503), 7 replies waiting, next try 12:09', per model down."""
    def hm(iso: object) -> str:
        return datetime.fromisoformat(str(iso)).astimezone(tz).strftime("%H:%M")

    models = [m for m in report.get("models") or [] if isinstance(m, dict)]
    waiting = report.get("waiting_for_model") or {"count": 0, "next_try": None}
    up = [str(m["name"]) for m in models if m.get("available")]
    lines = []
    for m in models:
        if m.get("available"):
            continue
        line = f"{m['name']} unavailable since {hm(m['since'])} (last: {m.get('last_error') or '?'})"
        if report.get("models_source") == "database":
            line += " when the twin last ran"
        if up:
            line += f", answering with {up[0]}"
        if waiting["count"]:
            line += f", {waiting['count']} replies waiting"
        next_try = m.get("next_try") or waiting["next_try"]
        lines.append(line + (f", next try {hm(next_try)}" if next_try else ""))
    if not lines and waiting["count"]:
        lines.append(f"{waiting['count']} replies waiting for the model"
                     + (f", next try {hm(waiting['next_try'])}" if waiting["next_try"] else ""))
    return lines


def _footprint(pid: object, file: dict[str, Any]) -> dict[str, Any]:
    """The running daemon's memory, read now from /proc, and the heavy modules it reported loading."""
    memory = memory_of(pid) if isinstance(pid, int) and pid > 0 else None
    modules = file.get("modules")
    return {"rss_mb": memory["rss_mb"] if memory else None, "peak_rss_mb": memory["peak_rss_mb"] if memory else None,
            "modules": list(modules) if memory and isinstance(modules, list) else None}


def status_report(settings: Settings, now: datetime) -> dict[str, Any]:
    """Everything `twin status` shows, as JSON-ready data with stable keys."""
    where = paths(settings)
    pid = running_pid(where.pid)
    file = read_status(where.status) or {}
    running = pid is not None
    started = read_time(file.get("started_at")) if running else None
    daemon_pid = (pid or file.get("pid")) if running else None
    report: dict[str, Any] = {
        "account": settings.account,
        "running": running,
        "pid": daemon_pid,
        "state": file.get("state", "starting") if running else "not running",
        "last_state": None if running else file.get("state"),
        "connected": bool(file.get("connected")) and running,
        "me": file.get("me"),
        "started_at": started.isoformat() if started else None,
        "uptime_s": round((now - started).total_seconds()) if started else None,
        "status_updated_at": file.get("updated_at"),
        "last_error": file.get("last_error") or "",
        # When the running twin last asked Telegram for missed updates (after a reconnect, or its safety net).
        "last_catch_up": file.get("last_catch_up") if running else None,
        "hours": hours_now(settings, now),
        "models": file.get("providers") or [] if running else [],
        "models_source": "daemon" if running else "database",
        "waiting_for_model": {"count": 0, "next_try": None},
        **_footprint(daemon_pid, file),
    }
    reader = open_reader(settings.database_url)
    if reader is None:
        report.update({"mode": settings.service.mode, "mode_source": "settings", "chat_modes": [], "pauses": [],
                       "queue": dict.fromkeys(QUEUE_STATES, 0), "needs_owner_24h": 0, "last_reply": None})
        return report
    with reader:
        ensure_derived_reader(reader)  # the (account, status) index the queue counts need; cheap when present
        report.update(_from_db(reader, settings, now))
        report["waiting_for_model"] = _waiting_for_model(reader, settings.account)
        if not running:
            report["models"] = stored_models(reader, settings.account)
    return report
