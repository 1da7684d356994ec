"""`twin run`: the daemon in this process, holding the account's pid lock and reporting its status.

`python -m twin.service.runner --account NAME run` is the daemon's lean entry point: `twin run`
(after parsing its options), `twin start` and the systemd unit all end up here, so the daemon's
process never holds typer, rich or the CLI's rendering. Everything else loads when first used.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import logging.handlers
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from twin.config import Settings
from twin.errors import TwinError
from twin.service.process import PidLock, StatusWriter, paths, twin_pythonpath

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


def keep_out_httpx_command_line() -> None:
    """Keep httpx's optional command line (click, rich, pygments: about 6 MB of RSS) out of the daemon.

    google-genai and openai import httpx, and httpx's __init__ imports its CLI module `httpx._main`
    whenever click and rich are installed (they are: typer needs them), inside `try/except ImportError`.
    A None entry in sys.modules makes that import raise ImportError, so httpx falls back exactly as in an
    install without its `cli` extra (`import httpx` alone: 29.5 -> 23.6 MB). Only the lean entry does
    this: the CLI's process is short-lived and may want the real thing.
    """
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]


def daemon_command(account: str, *, verbose: bool = False, log_file: Path | None = None,
                   python: str | None = None) -> list[str]:
    """The lean entry's command line: what `twin run` execs and `twin start` spawns."""
    return [python or sys.executable, "-m", "twin.service.runner", "--account", account, "run",
            *(["--log-file", str(log_file)] if log_file is not None else []), *(["--verbose"] if verbose else [])]


def exec_daemon(account: str, *, verbose: bool = False, log_file: Path | None = None) -> None:
    """Replace this process (same pid) with the lean daemon entry; does not return."""
    sys.stdout.flush()
    sys.stderr.flush()
    command = daemon_command(account, verbose=verbose, log_file=log_file)
    os.execve(command[0], command, {**os.environ, "PYTHONPATH": twin_pythonpath(os.environ)})


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m twin.service.runner",
                                     description="The twin daemon (the lean entry of `twin run`).")
    parser.add_argument("--account", "-a", default=os.environ.get("TWIN_ACCOUNT", "default"))
    parser.add_argument("command", nargs="?", choices=["run"], default="run")
    parser.add_argument("--verbose", "-v", action="store_true")
    parser.add_argument("--log-file", type=Path, default=None)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the daemon in this process; a TwinError becomes one line on stderr and exit code 1."""
    from twin import config

    args = _arguments(argv)
    keep_out_httpx_command_line()
    try:
        run_foreground(config.load(account=args.account), verbose=args.verbose, log_file=args.log_file)
    except TwinError as exc:
        print(f"error: {exc}", file=sys.stderr)  # noqa: T201
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
