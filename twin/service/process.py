"""Running as a service: a pid file held with flock, a status file, start (detached) and stop.

data/<account>.pid        the pid, locked (flock, exclusive) for the daemon's whole life: a
                          second `twin run` or `twin start` for the account is refused.
data/<account>.status.json what the daemon reports (StatusWriter), atomically replaced.
data/<account>.log        the detached daemon's log and stdout/stderr, rotated.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from twin.config import Settings
from twin.errors import TwinError


@dataclass(frozen=True)
class ServicePaths:
    pid: Path
    status: Path
    log: Path


def paths(settings: Settings) -> ServicePaths:
    """Where an account's pid, status and log files live."""
    base = settings.data_dir / settings.account
    return ServicePaths(base.with_suffix(".pid"), base.with_suffix(".status.json"), base.with_suffix(".log"))


# The heavy packages worth seeing in `twin status --json`: what the daemon has loaded so far.
HEAVY_MODULES = ("telethon", "google.genai", "sqlalchemy", "alembic", "openai", "elevenlabs", "typer", "rich",
                 "click", "pygments", "pydantic", "httpx", "httpx2", "llama_cpp", "faster_whisper", "piper")


def memory_of(pid: int) -> dict[str, float] | None:
    """A process's resident memory now and at its peak (VmRSS, VmHWM) in MB, or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    found: dict[str, float] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = round(int(value.split()[0]) / 1024, 1)
    if "VmRSS" not in found:
        return None
    return {"rss_mb": found["VmRSS"], "peak_rss_mb": found.get("VmHWM", found["VmRSS"])}


def loaded_modules() -> list[str]:
    """Which of HEAVY_MODULES this process has imported."""
    return [name for name in HEAVY_MODULES if name in sys.modules]


def _read_pid(fd: int) -> int:
    text = os.pread(fd, 32, 0).decode(errors="replace").strip()
    return int(text) if text.isdigit() else 0


class PidLock:
    """The pid file, locked while a daemon runs; released (and removed) on exit."""

    def __init__(self, path: Path, account: str) -> None:
        self.path = path
        self.account = account
        self._fd: int | None = None

    def acquire(self, wait_s: float = 0.5) -> None:
        """Take the lock or raise TwinError naming the pid that holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + wait_s  # rides out a `twin status` probing the lock right now
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pid = _read_pid(fd)
                os.close(fd)
                if time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
                raise TwinError(f"twin is already running for account '{self.account}'"
                                + (f" (pid {pid})" if pid else "") + "; `twin stop` stops it") from None
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if not same:  # the previous owner removed the file between our open and flock
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            self._fd = fd
            return

    def release(self) -> None:
        """Remove the pid file and drop the lock."""
        if self._fd is None:
            return
        self.path.unlink(missing_ok=True)  # still holding the lock, so nobody else owns this file
        os.close(self._fd)
        self._fd = None


def running_pid(path: Path) -> int | None:
    """The pid of the daemon holding the lock (0 if it has not written it yet), or None when none runs."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_pid(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


class StatusWriter:
    """Writes the daemon's status file atomically; update() merges new fields into the last ones."""

    def __init__(self, path: Path, *, account: str, pid: int | None = None) -> None:
        self.path = path
        self.data: dict[str, Any] = {"account": account, "pid": pid or os.getpid(), "state": "starting",
                                     "started_at": datetime.now(UTC).isoformat(), "last_error": ""}
        self.write()

    def update(self, snapshot: Mapping[str, object] | None = None, **fields: object) -> None:
        """Merge a daemon snapshot (and/or fields) and write the file."""
        self.data.update(snapshot or {})
        self.data.update(fields)
        self.write()

    def write(self) -> None:
        """Replace the file in one step: readers never see half of it."""
        self.data["updated_at"] = datetime.now(UTC).isoformat()
        if self.data["pid"] == os.getpid():
            self.data.update(memory_of(os.getpid()) or {}, modules=loaded_modules())
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.data, default=str, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, self.path)


def read_status(path: Path) -> dict[str, Any] | None:
    """The last status file written, or None."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def start(settings: Settings, command: Sequence[str], *, wait_s: float = 60.0) -> int:
    """Start `command` (a `twin run`) detached; return its pid once it reports connected."""
    where = paths(settings)
    pid = running_pid(where.pid)
    if pid is not None:
        raise TwinError(f"twin is already running for account '{settings.account}'" + (f" (pid {pid})" if pid else ""))
    where.status.unlink(missing_ok=True)
    where.log.parent.mkdir(parents=True, exist_ok=True)
    with open(where.log, "ab") as out:
        proc = subprocess.Popen(list(command), stdin=subprocess.DEVNULL, stdout=out, stderr=out, cwd=settings.home,
                                start_new_session=True, env={**os.environ, "TWIN_HOME": str(settings.home),
                                                             "PYTHONPATH": twin_pythonpath(os.environ)})
    deadline = time.monotonic() + wait_s
    while True:
        status = read_status(where.status) or {}
        if status.get("pid") == proc.pid and status.get("state") == "connected":
            return proc.pid
        code = proc.poll()
        if code is not None:
            why = status.get("last_error") if status.get("pid") == proc.pid else ""
            raise TwinError(f"the daemon could not start (exit code {code}): {why or last_log_line(settings)}")
        if time.monotonic() > deadline:
            raise TwinError(f"not connected after {wait_s:.0f} s; pid {proc.pid} keeps trying "
                            "(`twin logs` shows why, `twin stop` stops it)")
        time.sleep(0.1)


def twin_pythonpath(env: Mapping[str, str]) -> str:
    """PYTHONPATH with the directory of this `twin` package first: a daemon started from a checkout
    (not installed) runs `-m twin.service.runner` from the same code as the command that started it."""
    root = str(Path(__file__).resolve().parents[2])
    rest = env.get("PYTHONPATH", "")
    return root + (os.pathsep + rest if rest else "")


def last_log_line(settings: Settings) -> str:
    """The last non-empty line of the account's log, secrets redacted."""
    from twin.logs import Redactor, secrets_of

    try:
        with open(paths(settings).log, "rb") as fh:
            fh.seek(max(0, fh.seek(0, os.SEEK_END) - 4096))
            lines = [ln for ln in fh.read().decode(errors="replace").splitlines() if ln.strip()]
    except FileNotFoundError:
        return "no log written"
    return Redactor(secrets_of(settings)).redact(lines[-1].strip()) if lines else "no log written"


def stop(settings: Settings, *, grace_s: float = 5.0) -> tuple[int, float] | None:
    """SIGTERM the daemon and wait for it to exit; (pid, seconds taken), or None when none runs."""
    where = paths(settings)
    pid = running_pid(where.pid)
    if pid is None:
        return None
    if pid == 0:
        raise TwinError("the daemon is starting and has not written its pid yet; try again in a moment")
    began = time.monotonic()
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    limit = settings.service.stop_timeout_s + grace_s
    while running_pid(where.pid) is not None:
        if time.monotonic() - began > limit:
            raise TwinError(f"pid {pid} is still running after {limit:.0f} s; `kill -9 {pid}` ends it at once "
                            "(unfinished replies resume on the next start)")
        time.sleep(0.05)
    return pid, time.monotonic() - began
