"""`twin logs`: the daemon's log (rotated files included), secrets redacted again with today's settings."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

from twin.config import Settings
from twin.logs import Redactor, secrets_of


def redactor(settings: Settings) -> Redactor:
    """A redactor for every secret the current settings hold."""
    return Redactor(secrets_of(settings))


def tail(path: Path, lines: int) -> list[str]:
    """The last `lines` lines of the log, reaching into the rotated files (.1, .2 ...) when needed."""
    found: list[str] = []
    index = 0
    while len(found) < lines:
        part = path if index == 0 else path.with_name(f"{path.name}.{index}")
        if not part.exists():
            break
        found = part.read_text(encoding="utf-8", errors="replace").splitlines() + found
        index += 1
    return found[-lines:] if lines else []


def follow(path: Path, *, poll_s: float = 0.25, stop: Callable[[], bool] = lambda: False) -> Iterator[str]:
    """Lines written from now on; survives rotation (the file replaced or truncated)."""
    start = path.stat() if path.exists() else None
    return _follow(path, start.st_size if start else 0, start.st_ino if start else None, poll_s, stop)


def _follow(path: Path, position: int, inode: int | None, poll_s: float, stop: Callable[[], bool]) -> Iterator[str]:
    buffer = ""
    while not stop():
        try:
            info = path.stat()
        except FileNotFoundError:
            time.sleep(poll_s)
            continue
        if info.st_ino != inode or info.st_size < position:  # rotated: read the new file from its start
            inode, position = info.st_ino, 0
        if info.st_size > position:
            with open(path, "rb") as fh:
                fh.seek(position)
                chunk = fh.read()
                position = fh.tell()
            buffer += chunk.decode("utf-8", errors="replace")
            *complete, buffer = buffer.split("\n")
            yield from complete
        else:
            time.sleep(poll_s)

