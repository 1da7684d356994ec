"""The per-chat workers: due turns start one per chat, so chats proceed concurrently and each in order.

A worker runs one turn through the pipeline. Whatever goes wrong stays within the turn (the
per-turn boundary): a lost connection sends it back to wait for the reconnect, anything else is
recorded as `failed` and the daemon goes on. At a stop, workers get the stop timeout to finish;
past it they are cancelled and resume at the next start.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta

from twin.clock import Clock
from twin.db.store import Store
from twin.engine.pipeline import Pipeline
from twin.engine.queue import OFFLINE_REASON, ReplyQueue
from twin.engine.sender import RETRY_OFFLINE_S
from twin.errors import Disconnected

log = logging.getLogger("twin.daemon")


class Workers:
    """One asyncio task per busy chat; `running` maps chat -> its task."""

    def __init__(self, *, store: Store, queue: ReplyQueue, pipeline: Pipeline, clock: Clock,
                 running: dict[int, asyncio.Task[None]], wake: asyncio.Event,
                 report: Callable[[str], None]) -> None:
        self.store = store
        self.queue = queue
        self.pipeline = pipeline
        self.clock = clock
        self.running = running
        self.wake = wake  # set when a worker ends: the scheduler looks again
        self.report = report  # the daemon's last error, for `twin status`

    def start_due(self) -> None:
        """Start every due turn whose chat has no worker yet."""
        for turn_id, chat_id in self.queue.runnable(self.clock.now(), busy=list(self.running)):
            self.running[chat_id] = asyncio.create_task(self._work(chat_id, turn_id))

    async def _work(self, chat_id: int, turn_id: int) -> None:
        try:
            await self.pipeline.process(turn_id)
        except asyncio.CancelledError:
            raise
        except Disconnected as exc:  # typing or reading when the connection dropped: not the turn's fault
            reason = f"{OFFLINE_REASON} while composing ({exc}); tried again"
            now = self.clock.now()
            if self.queue.wait_for_connection(turn_id, now, now + timedelta(seconds=RETRY_OFFLINE_S), reason):
                log.info("turn %s: %s", turn_id, reason)
        except Exception as exc:  # the per-turn boundary: record, keep serving
            self.report(f"{exc.__class__.__name__}: {exc}")
            log.exception("turn %s failed unexpectedly", turn_id)
            self.store.update_turn(turn_id, self.clock.now(), status="failed",
                                   reason=f"internal error: {exc.__class__.__name__}")
        finally:
            self.running.pop(chat_id, None)
            self.wake.set()

    async def drain(self, timeout_s: float) -> None:
        """Let in-flight turns finish; past the timeout they are cancelled and resume next start."""
        workers = list(self.running.values())
        if workers:
            _, pending = await asyncio.wait(workers, timeout=timeout_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def idle(self, max_rounds: int = 100_000) -> None:
        """Wait until nothing is running or due (for tests and benchmarks with an auto-advancing clock)."""
        for _ in range(max_rounds):
            if self.running:
                await asyncio.gather(*list(self.running.values()), return_exceptions=True)
            elif self.queue.next_due() is None:
                await asyncio.sleep(0)
                if not self.running and self.queue.next_due() is None:
                    return
            else:
                await asyncio.sleep(0)
        raise TimeoutError("the queue did not drain")
