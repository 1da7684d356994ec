"""Model outages are waited out: turns go back to waiting, fold, and are answered once it is back.

The process tests run the whole daemon on a fake clock that only moves when the test moves it:
the provider is down for simulated minutes while messages come in from several chats.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from tests.fakes import T0, DownLLM, FakeClock, FakeLLM, FakeTelegram, incoming
from tests.helpers import Rig, make_settings
from twin.cli.render.status import status_view
from twin.cli.render.turns import history_table
from twin.db.store import Store
from twin.engine.daemon import Daemon
from twin.engine.pipeline import Pipeline
from twin.engine.responder import Responder
from twin.errors import ProviderError
from twin.llm.chain import Model, ModelChain, Unavailable
from twin.llm.health import MODEL_WAIT, ProviderHealth
from twin.persona.profile import load_persona
from twin.service.process import PidLock, StatusWriter, paths
from twin.service.status import model_lines, status_report
from twin.types import Prompt, Turn
from twin.voice.flow import VoiceFlow

FAST = {"timing.scale": 0.05, "hours.quiet": []}  # human delays at a twentieth: seconds, not minutes


def outage_rig(home: Path, *llms: FakeLLM, clock: FakeClock, telegram: FakeTelegram | None = None,
               **overrides: Any) -> Rig:
    """A daemon over fakes whose models (primary first) sit in one chain, as app.make_llm builds it.

    Pass the telegram of an earlier rig to start "the next process" against the same server and database.
    """
    settings = make_settings(home, **{**FAST, **overrides})
    store = Store(settings.database_url)
    telegram = telegram or FakeTelegram()
    retries = settings.llm.retries
    chain = ModelChain([Model(llm.provider, llm, ProviderHealth(llm.provider, clock, down_after=retries + 1,
                                                                 rng=random.Random(i)))
                        for i, llm in enumerate(llms)], clock, retries=retries, rng=random.Random(3))
    responder = Responder(chain, load_persona(settings.persona_path), settings, clock, store)
    pipeline = Pipeline(account=settings.account, store=store, telegram=telegram, responder=responder,
                        settings=settings, clock=clock, rng=random.Random(7), voice=VoiceFlow(settings, None, None))
    daemon = Daemon(settings=settings, store=store, telegram=telegram, pipeline=pipeline, clock=clock)
    daemon.rng = random.Random(11)
    return Rig(settings, store, telegram, llms[0], clock, daemon, pipeline)


class Driver:
    """Runs the daemon and moves the fake clock in small steps; messages arrive at planned times."""

    def __init__(self, rig: Rig) -> None:
        self.rig = rig
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.pushed: dict[int, list[int]] = {}  # chat -> message ids, in the order they were sent

    async def start(self) -> None:
        self.task = asyncio.create_task(self.rig.daemon.run(self.stop))
        await self.rig.daemon.connected.wait()

    def say(self, chat_id: int, text: str) -> None:
        telegram = self.rig.telegram
        message_id = telegram._last_id + 1
        telegram.push(incoming(text, chat_id=chat_id, message_id=message_id, date=self.rig.clock.now(),
                               sender_name=f"contact {chat_id}", chat_title=f"contact {chat_id}"))
        self.pushed.setdefault(chat_id, []).append(message_id)

    async def run_for(self, seconds: float, plan: Sequence[tuple[float, int, str]] = (), step: float = 2.0) -> None:
        """Advance `seconds`; each (offset, chat, text) of the plan is said when its offset is reached."""
        start = self.rig.clock.now()
        todo = sorted(plan)
        while self.rig.clock.now() < start + timedelta(seconds=seconds):
            elapsed = (self.rig.clock.now() - start).total_seconds()
            while todo and todo[0][0] <= elapsed:
                _, chat_id, text = todo.pop(0)
                self.say(chat_id, text)
            await self.rig.clock.advance(step)

    async def until_answered(self, limit_s: float = 4 * 3600, step: float = 5.0) -> datetime:
        """Advance until every message is in an answered turn; returns when the last reply went out."""
        end = self.rig.clock.now() + timedelta(seconds=limit_s)
        while self.rig.clock.now() < end:
            if self.all_answered():
                break
            await self.rig.clock.advance(step)
        assert self.all_answered(), [(t.id, t.status, t.reason) for t in self.turns()]
        return max(t.sent_at for t in self.turns() if t.sent_at is not None)

    async def finish(self) -> None:
        self.stop.set()
        assert self.task is not None
        await self.task

    def turns(self) -> list[Turn]:
        return self.rig.store.turns("default", limit=10_000, newest_first=False)

    def all_answered(self) -> bool:
        covered = {m for t in self.turns() if t.status == "answered" for m in t.incoming_ids}
        return all(m in covered for ids in self.pushed.values() for m in ids)


def check_every_message_answered_once_in_order(driver: Driver, not_before: datetime) -> list[Turn]:
    """Every message is in exactly one answered turn, each turn sent once, chats answered in their order."""
    turns = driver.turns()
    to_owner = driver.rig.telegram.me.id
    sends = [s for s in driver.rig.telegram.sent if s.chat_id != to_owner]
    seen: list[int] = [m for t in turns for m in t.incoming_ids]
    assert sorted(seen) == sorted(m for ids in driver.pushed.values() for m in ids)  # none lost, none in two turns
    assert all(t.status == "answered" for t in turns), [(t.id, t.status, t.reason) for t in turns]
    assert len(sends) == len(turns) and len({s.random_id for s in sends}) == len(sends)  # none twice
    assert sorted(m for t in turns for m in t.reply_ids) == sorted(s.message_id for s in sends)
    for chat_id, ids in driver.pushed.items():
        chat_turns = [t for t in turns if t.chat_id == chat_id]
        assert [m for t in chat_turns for m in t.incoming_ids] == ids  # folded in the order they came
        sent_at = [t.sent_at for t in chat_turns]
        assert sent_at == sorted(sent_at)  # type: ignore[type-var]
        assert [s.chat_id for s in sends if s.chat_id == chat_id] == [chat_id] * len(chat_turns)
    assert all(t.sent_at is not None and t.sent_at >= not_before for t in turns)
    return turns


def status_of(rig: Rig) -> dict[str, Any]:
    """`twin status --json` while the daemon runs: its snapshot in the status file, the queue from the DB."""
    where = paths(rig.settings)
    lock = PidLock(where.pid, rig.settings.account)
    lock.acquire()
    try:
        StatusWriter(where.status, account=rig.settings.account).update(rig.daemon.snapshot(), state="connected")
        return json.loads(json.dumps(status_report(rig.settings, rig.clock.now())))
    finally:
        lock.release()


def notices(rig: Rig) -> list[str]:
    return [s.text or "" for s in rig.telegram.sent if s.chat_id == rig.telegram.me.id]


def conversation(chats: Sequence[int], per_chat: int, span_s: float) -> list[tuple[float, int, str]]:
    """Messages from each chat spread over span_s, chats interleaved."""
    gap = span_s / per_chat
    return [(10 + k * gap + i * 7, chat, f"message {k} from {chat}") for i, chat in enumerate(chats)
            for k in range(per_chat)]


async def test_a_ten_minute_outage_is_waited_out_and_every_message_answered(twin_home: Path) -> None:
    clock = FakeClock(auto=False)
    llm = DownLLM(clock, provider="gemini", default="sorry, was away", numbered=True)
    rig = outage_rig(twin_home, llm, clock=clock)
    driver = Driver(rig)
    await driver.start()
    llm.down = True
    chats = [101, 102, 103, 104]
    await driver.run_for(300, conversation(chats, 3, 560))  # the first five minutes of the outage
    # Mid-outage: the replies wait with a reason and a next try; status says so; nothing was sent.
    waiting = [t for t in driver.turns() if t.status == "waiting"]
    assert waiting and all(t.reason.startswith(MODEL_WAIT) and "next try" in t.reason for t in waiting)
    assert all(t.due_at is not None and t.due_at > clock.now() for t in waiting)
    report = status_of(rig)
    assert report["models"][0]["available"] is False and report["waiting_for_model"]["count"] == len(waiting)
    (line,) = model_lines(report, UTC)
    assert line.startswith("gemini unavailable since 10:0") and f"{len(waiting)} replies waiting, next try" in line
    console = Console(width=200, record=True)
    console.print(status_view(report, UTC))
    assert line in console.export_text()
    await driver.run_for(300, [(p - 300, c, t) for p, c, t in conversation(chats, 3, 560) if p >= 300])
    assert [s for s in rig.telegram.sent if s.chat_id != rig.telegram.me.id] == []
    llm.down = False
    recovered = clock.now()
    last = await driver.until_answered()
    await driver.finish()

    turns = check_every_message_answered_once_in_order(driver, recovered)
    assert len(turns) < 12  # messages that came during the wait were folded into the waiting reply
    assert llm.calls_while_down <= 10, llm.calls_while_down  # a handful, not one per message and retry
    assert all(t.provider == "gemini" for t in turns)
    said = notices(rig)
    assert sum("gemini is unavailable since" in n for n in said) == 1
    assert sum("gemini is back" in n for n in said) == 1
    # Released one after another, like a person catching up, within minutes of the next successful try.
    sends = sorted(t.sent_at for t in turns if t.sent_at is not None)
    assert len({s for s in sends}) == len(sends)
    assert (last - recovered) < timedelta(minutes=30)


async def test_primary_down_the_fallback_answers_and_says_so(twin_home: Path) -> None:
    clock = FakeClock(auto=False)
    primary = DownLLM(clock, provider="gemini", numbered=True)
    backup = DownLLM(clock, provider="local", default="from the local model", numbered=True)
    # The owner opted in: on a real account the local model's drafts otherwise wait for twin review.
    rig = outage_rig(twin_home, primary, backup, clock=clock, **{"llm.local_autosend": True})
    driver = Driver(rig)
    await driver.start()
    primary.down = True
    started = clock.now()
    await driver.run_for(600, conversation([201, 202, 203], 3, 560))
    await driver.until_answered()
    await driver.finish()

    turns = check_every_message_answered_once_in_order(driver, started)
    assert all((t.provider, t.model) == ("local", "fake-1") for t in turns)
    assert all(t.reason.startswith("fallback: local (") and t.extra["fallback"]["model"] == "local" for t in turns)
    assert primary.calls_while_down <= 10, primary.calls_while_down
    assert len(backup.prompts) == len(turns)
    # Answers went out during the outage: nobody waited for the primary.
    assert max(t.sent_at for t in turns if t.sent_at) - started < timedelta(minutes=11)
    console = Console(width=200, record=True)
    console.print(history_table(turns, UTC))
    assert "(fallback: local)" in console.export_text()
    report = status_of(rig)
    assert [(m["name"], m["available"]) for m in report["models"]] == [("gemini", False), ("local", True)]
    (line,) = model_lines(report, UTC)
    assert line.startswith("gemini unavailable since 10:0") and "answering with local" in line


async def test_a_message_that_comes_during_the_wait_folds_into_the_waiting_reply(twin_home: Path) -> None:
    clock = FakeClock(auto=False)
    llm = DownLLM(clock, default="both answered", numbered=True)
    rig = outage_rig(twin_home, llm, clock=clock, **{"llm.retries": 0})
    driver = Driver(rig)
    await driver.start()
    llm.down = True
    driver.say(42, "are you there?")
    await driver.run_for(20)
    (turn,) = driver.turns()
    assert (turn.status, turn.attempts) == ("waiting", 1)  # composed once, back to waiting
    driver.say(42, "hello??")
    await driver.run_for(4)
    (turn,) = driver.turns()
    assert turn.incoming_ids == tuple(driver.pushed[42])
    llm.down = False
    await driver.until_answered()
    await driver.finish()
    (turn,) = driver.turns()
    assert turn.status == "answered" and turn.reply_text == "both answered 1"
    assert llm.prompts[-1].messages[-1].text.endswith("are you there?\nhello??\n</contact_message>")


async def test_a_turn_that_would_be_older_than_stale_after_h_is_left_to_the_owner(twin_home: Path) -> None:
    clock = FakeClock(auto=False)
    llm = DownLLM(clock, numbered=True)
    rig = outage_rig(twin_home, llm, clock=clock, **{"timing.stale_after_h": 0.05})  # 3 minutes
    driver = Driver(rig)
    await driver.start()
    llm.down = True
    driver.say(7, "one")
    driver.say(8, "two")
    await driver.run_for(600, step=5)
    await driver.finish()
    turns = driver.turns()
    assert [t.status for t in turns] == ["needs_owner", "needs_owner"]
    assert all(t.reason.startswith("left for you: the model was unavailable") for t in turns)
    assert sum("left for you" in n for n in notices(rig)) == 1  # once, not per message
    assert [s for s in rig.telegram.sent if s.chat_id != rig.telegram.me.id] == []


async def test_a_bad_key_fails_the_turn_and_the_owner_hears_once(twin_home: Path) -> None:
    clock = FakeClock()
    llm = FakeLLM(*[ProviderError("fake: HTTP 401 unauthorized (check the API key)", status=401)] * 3)
    rig = outage_rig(twin_home, llm, clock=clock)
    driver = Driver(rig)
    await driver.start()
    for chat in (1, 2, 3):
        driver.say(chat, "hi")
        for _ in range(50):
            await asyncio.sleep(0)
    await rig.daemon.idle()
    await driver.finish()
    assert [t.status for t in driver.turns()] == ["failed"] * 3
    assert len(llm.prompts) == 3  # a final error is not retried
    said = [n for n in notices(rig) if "HTTP 401" in n]
    assert len(said) == 1 and "must fix" in said[0]


async def test_a_held_turn_is_not_read_or_composed_before_the_next_try(twin_home: Path) -> None:
    clock = FakeClock(auto=False)
    llm = DownLLM(clock, numbered=True)
    rig = outage_rig(twin_home, llm, clock=clock, **{"llm.retries": 0})
    driver = Driver(rig)
    await driver.start()
    llm.down = True
    driver.say(1, "first")
    await driver.run_for(20)
    assert llm.calls_while_down == 1
    reads = len(rig.telegram.reads)
    driver.say(2, "second")  # another chat, while the provider is known to be down
    await driver.run_for(15)
    turn = [t for t in driver.turns() if t.chat_id == 2][0]
    assert turn.status == "waiting" and turn.attempts == 0 and turn.reason.startswith(MODEL_WAIT)
    assert len(rig.telegram.reads) == reads and llm.calls_while_down == 1
    await driver.finish()


def test_release_spreads_the_waiting_turns(twin_home: Path) -> None:
    from twin.engine.outage import release

    settings = make_settings(twin_home)
    store = Store(settings.database_url)
    for i in range(5):
        store.add_turn("default", [incoming(f"m{i}", chat_id=i + 1, message_id=i + 1)], status="waiting",
                       reason=f"{MODEL_WAIT}: gemini: HTTP 503; next try 10:30", now=T0 + timedelta(seconds=i),
                       due_at=T0 + timedelta(minutes=30))
    store.add_turn("default", [incoming("x", chat_id=9, message_id=9)], status="waiting", reason="deferred",
                   now=T0, due_at=T0 + timedelta(hours=5))
    now = T0 + timedelta(minutes=3)
    assert release(store, "default", now, random.Random(1), scale=1.0) == 5
    turns = {t.chat_id: t for t in store.turns("default")}
    dues = [turns[i + 1].due_at for i in range(5)]
    assert all(d is not None for d in dues)
    gaps = [(b - a).total_seconds() for a, b in zip([now, *dues], dues, strict=False)]  # type: ignore[operator]
    assert all(10 <= g <= 30 for g in gaps), gaps  # one after another, oldest first
    assert turns[9].due_at == T0 + timedelta(hours=5)  # a turn deferred for other reasons stays put


async def test_when_a_next_try_is_due_one_turn_probes_and_the_others_keep_waiting(twin_home: Path) -> None:
    clock = FakeClock()
    llm = DownLLM(clock, numbered=True)
    rig = outage_rig(twin_home, llm, clock=clock, **{"llm.retries": 0})
    outages = rig.pipeline.outages
    llm.down = True
    with pytest.raises(Unavailable):
        await outages.chain.complete(Prompt("s", ()))
    health = outages.chain.models[0].health
    assert health.next_try is not None
    ids = [rig.store.add_turn("default", [incoming("hi", chat_id=c, message_id=c)], status="waiting", now=T0,
                              due_at=T0) for c in (1, 2, 3)]
    first, second, third = (rig.store.turn(i) for i in ids)
    assert first is not None and second is not None and third is not None
    assert outages.held(first, clock.now()) is True  # before the next try: everyone waits
    clock.set(health.next_try)
    assert outages.held(first, clock.now()) is False  # the probe
    assert outages.held(second, clock.now()) is True
    held = rig.store.turn(second.id)
    assert held is not None and held.due_at is not None and held.due_at > clock.now() + timedelta(seconds=50)
    outages.news(first.id)  # the probe's turn ended without reaching the model (say, a takeover)
    assert outages.held(third, clock.now()) is False  # so another may go


async def test_an_away_note_in_an_outage_is_the_plain_line(twin_home: Path) -> None:
    clock = FakeClock()
    llm = DownLLM(clock, numbered=True)
    llm.down = True
    rig = outage_rig(twin_home, llm, clock=clock)
    note = await rig.pipeline.responder.away_note(contact="Al", back_at="09:00")
    assert note == "Away right now, will get back to you later."
    assert llm.calls_while_down == 4  # 1 try + 3 retries, then the provider is known to be down
    assert await rig.pipeline.responder.unheard_note(contact="Al") == "can't listen right now, text me?"
    assert llm.calls_while_down == 4
