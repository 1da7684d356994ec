"""`twin run`: the daemon in this process, holding the account's pid lock and reporting its status."""

from __future__ import annotations

import asyncio
import logging
import logging.handlers
import os
import signal
from pathlib import Path
from typing import Any

from twin.config import Settings
from twin.errors import TwinError
from twin.service.process import PidLock, StatusWriter, paths

STATUS_EVERY_S = 2.0


class _StdRotatingHandler(logging.handlers.RotatingFileHandler):
    """A rotating log that also carries the process's stdout and stderr (tracebacks, prints)."""

    def _open(self) -> Any:
        stream = super()._open()
        for fd in (1, 2):
            os.dup2(stream.fileno(), fd)
        return stream


def log_to_file(settings: Settings, path: Path, *, verbose: bool = False) -> None:
    """Send logging and stdout/stderr to a rotating, secret-redacting log file."""
    from twin.logs import setup_logging

    setup_logging(settings, file=path, verbose=verbose)
    root = logging.getLogger()
    old = root.handlers[0]
    handler = _StdRotatingHandler(path, maxBytes=settings.service.log_max_bytes,
                                  backupCount=settings.service.log_backups, encoding="utf-8")
    handler.filters = list(old.filters)
    handler.setFormatter(old.formatter)
    old.close()
    root.handlers[:] = [handler]


async def serve_with_status(settings: Settings, stop: asyncio.Event, writer: StatusWriter) -> None:
    """Run the daemon until `stop`, writing its snapshot to the status file every few seconds and on changes."""
    from twin.service.app import build_service

    try:
        service = build_service(settings)
    except TwinError as exc:
        writer.update(state="failed", connected=False, last_error=str(exc))
        raise
    daemon = service.daemon
    run = asyncio.create_task(daemon.run(stop))
    connected = asyncio.create_task(daemon.connected.wait())
    stopping = asyncio.create_task(stop.wait())
    try:
        while not run.done():
            state = "stopping" if stop.is_set() else "connected" if daemon.connected.is_set() else "connecting"
            writer.update(daemon.snapshot(), state=state)
            wake = {run} | {t for t in (connected, stopping) if not t.done()}
            await asyncio.wait(wake, timeout=STATUS_EVERY_S, return_when=asyncio.FIRST_COMPLETED)
        run.result()
    except Exception as exc:
        writer.update(daemon.snapshot(), state="failed", connected=False, last_error=str(exc) or type(exc).__name__)
        raise
    finally:
        for task in (connected, stopping):
            task.cancel()
        service.store.close()
    writer.update(daemon.snapshot(), state="stopped", connected=False)


def _reloaded(settings: Settings) -> Settings:
    """Settings read again from twin.toml and the environment; the old ones when the new are invalid."""
    from twin import config

    try:
        fresh = config.load(home=settings.home, account=settings.account)
    except TwinError as exc:
        logging.getLogger("twin.runner").error("reload failed, keeping the running settings: %s", exc)
        return settings
    logging.getLogger("twin.runner").info("reloaded settings and persona (SIGHUP)")
    return fresh


def run_foreground(settings: Settings, *, verbose: bool = False, log_file: Path | None = None) -> None:
    """Take the account's pid lock, then serve until SIGINT or SIGTERM."""
    where = paths(settings)
    lock = PidLock(where.pid, settings.account)
    lock.acquire()
    try:
        if log_file is not None:
            log_to_file(settings, log_file, verbose=verbose)
        else:
            from twin.logs import setup_logging

            setup_logging(settings, verbose=verbose)
        writer = StatusWriter(where.status, account=settings.account)

        async def main() -> None:
            stop, reload = asyncio.Event(), asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            def hangup() -> None:
                reload.set()
                stop.set()

            loop.add_signal_handler(signal.SIGHUP, hangup)
            current = settings
            while True:
                await serve_with_status(current, stop, writer)
                if not reload.is_set():
                    return
                # SIGHUP: stop gracefully (the queue is in the database), re-read twin.toml and the persona.
                reload.clear()
                stop.clear()
                current = _reloaded(current)

        asyncio.run(main())
    finally:
        lock.release()
