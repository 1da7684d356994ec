"""Sticker set titles: "sticker 😂 (set: Cats)" instead of a bare emoji, at most one request per set.

A sticker names its set by id (InputStickerSetID) or short name; the title takes a
messages.getStickerSet. Titles (and failures, as "") are kept in a bounded LRU per set, so a
chat full of one pack costs one request. A lookup that fails or outlasts LOOKUP_TIMEOUT_S gives
no title: the sticker is described by its emoji alone, and the message goes on as it came.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from twin.lru import LRU

log = logging.getLogger(__name__)
SETS_KEPT = 512  # sticker sets whose titles are remembered
LOOKUP_TIMEOUT_S = 3.0  # a message waits at most this long for its sticker set's title


def set_key(ref: Any) -> int | str | None:
    """What identifies a sticker set in the cache: its id, or its short name; None for other kinds of set."""
    from telethon.tl import types

    if isinstance(ref, types.InputStickerSetID):
        return int(ref.id)
    if isinstance(ref, types.InputStickerSetShortName) and ref.short_name:
        return str(ref.short_name).lower()
    return None


class StickerSets:
    """Sticker set titles through a Telethon client, remembered per set."""

    def __init__(self, client: Any, *, kept: int = SETS_KEPT, timeout_s: float = LOOKUP_TIMEOUT_S) -> None:
        self._client = client
        self._timeout_s = timeout_s
        self._titles: LRU[int | str, str] = LRU(kept)
        self._pending: dict[int | str, asyncio.Future[str]] = {}
        self.requests = 0  # lookups made (for tests and diagnostics)

    async def title(self, ref: Any) -> str:
        """The set's title, or "" when it is not known (a failed or slow lookup, a set with no id)."""
        key = set_key(ref)
        if key is None:
            return ""
        known = self._titles.get(key)
        if known is not None:
            return known
        pending = self._pending.get(key)
        if pending is not None:  # another message of the same set is already asking
            return await asyncio.shield(pending)
        pending = asyncio.ensure_future(self._fetch(ref))
        self._pending[key] = pending
        try:
            found = await asyncio.shield(pending)
        finally:
            self._pending.pop(key, None)
        self._titles[key] = found
        return found

    async def _fetch(self, ref: Any) -> str:
        from telethon.tl import functions, types

        self.requests += 1
        request = functions.messages.GetStickerSetRequest(stickerset=ref, hash=0)
        try:
            result = await asyncio.wait_for(self._client(request), self._timeout_s)
        except TimeoutError:
            log.info("sticker set %s: no title within %.0f s", set_key(ref), self._timeout_s)
            return ""
        except Exception as exc:  # any failure only costs the title
            log.info("sticker set %s: no title (%s)", set_key(ref), type(exc).__name__)
            return ""
        found = getattr(result, "set", None)
        return str(found.title) if isinstance(found, types.StickerSet) and found.title else ""
