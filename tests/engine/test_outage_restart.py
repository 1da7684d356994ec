"""A model's health survives a restart: the next process keeps the planned next try and tells the owner once.

Two daemons, one after the other, on the same database and the same (fake) Telegram server, on a fake
clock: the provider goes down under the first, the second starts mid-outage.
"""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import UTC
from pathlib import Path

import pytest

from tests.engine.test_outage import (
    Driver,
    check_every_message_answered_once_in_order,
    conversation,
    notices,
    outage_rig,
)
from tests.fakes import DownLLM, FakeClock, FakeLLM
from twin.db.reader import sqlite_path
from twin.engine.outage import HEALTH
from twin.errors import ProviderError
from twin.service.status import model_lines, status_report
from twin.types import Prompt

DOWN, BACK = "gemini is unavailable since", "gemini is back"


async def test_a_restart_mid_outage_waits_for_the_planned_try_and_tells_the_owner_once(twin_home: Path) -> None:
    clock = FakeClock(auto=False)
    first = DownLLM(clock, provider="gemini", numbered=True)
    rig = outage_rig(twin_home, first, clock=clock)
    driver = Driver(rig)
    await driver.start()
    first.down = True
    await driver.run_for(200, conversation([301, 302, 303], 2, 150))
    health = rig.pipeline.outages.chain.models[0].health
    await driver.finish()
    planned, since, step = health.next_try, health.down_since, health.tries
    assert since is not None and planned is not None and step >= 2
    assert (planned - clock.now()).total_seconds() > 20, (planned, clock.now())
    assert sum(DOWN in n for n in notices(rig)) == 1
    calls_before = first.calls_while_down

    # The daemon is not running: `twin status` shows the outage as the database holds it.
    report = status_report(rig.settings, clock.now())
    assert report["running"] is False and report["models_source"] == "database"
    (model,) = report["models"]
    assert (model["name"], model["available"], model["next_try"]) == ("gemini", False, planned.isoformat())
    (line,) = model_lines(report, UTC)
    assert line.startswith("gemini unavailable since 10:00 (last: ") and "when the twin last ran" in line
    assert "replies waiting, next try" in line

    # The next process, still mid-outage: it knows the outage, and nothing calls the model before the next try.
    second = DownLLM(clock, provider="gemini", default="sorry, was away", numbered=True)
    second.down = True
    rig2 = outage_rig(twin_home, second, clock=clock, telegram=rig.telegram)
    restored = rig2.pipeline.outages.chain.models[0].health
    assert (restored.down_since, restored.next_try, restored.tries) == (since, planned, step)
    driver2 = Driver(rig2)
    driver2.pushed = driver.pushed
    await driver2.start()
    await driver2.run_for((planned - clock.now()).total_seconds() - 2)
    assert second.calls == []  # the planned next try is honoured
    await driver2.run_for(24)
    assert second.calls_while_down == 1  # then one probe, not one call per waiting turn
    assert restored.tries == step + 1
    assert sum(DOWN in n for n in notices(rig2)) == 1  # no second "unavailable" notice
    assert first.calls_while_down == calls_before

    second.down = False
    recovered = clock.now()
    await driver2.until_answered()
    await driver2.finish()
    turns = check_every_message_answered_once_in_order(driver2, recovered)
    assert len(turns) == 3 and all(t.provider == "gemini" for t in turns)
    said = notices(rig2)
    assert sum(DOWN in n for n in said) == 1 and sum(BACK in n for n in said) == 1
    (back,) = [n for n in said if BACK in n]
    span = re.search(rf"{BACK} after (\d+) min", back)
    assert span is not None and int(span[1]) >= (recovered - since).total_seconds() // 60  # from the first start
    report = status_report(rig2.settings, clock.now())
    assert [(m["name"], m["available"]) for m in report["models"]] == [("gemini", True)]
    assert model_lines(report, UTC) == []


async def test_a_model_no_longer_configured_is_forgotten_and_fallbacks_keep_their_order(twin_home: Path) -> None:
    clock = FakeClock()
    rig = outage_rig(twin_home, DownLLM(clock, provider="gemini"), DownLLM(clock, provider="local"), clock=clock)
    saved = rig.pipeline.outages.saved
    rig.pipeline.outages.chain.models[1].health.failure(ProviderError("local: HTTP 500", retryable=True, status=500),
                                                         now_down=True)
    assert set(saved.under(HEALTH)) == {"health:gemini|fake-1", "health:local|fake-1"}
    report = status_report(rig.settings, clock.now())
    assert [(m["name"], m["available"], m["fallback"]) for m in report["models"]] == [
        ("gemini", True, False), ("local", False, True)]
    outage_rig(twin_home, DownLLM(clock, provider="openai"), clock=clock)  # the next start: another model
    assert set(saved.under(HEALTH)) == {"health:openai|fake-1"}


async def test_the_stored_error_holds_no_key(twin_home: Path) -> None:
    clock = FakeClock()
    key = "AIzaSyD-" + "k3y" * 12
    leak = ProviderError(f"gemini: unexpected ValueError: invalid api key {key} for model x", retryable=False)
    busy = ProviderError(f"gemini: overloaded, token sk-{'s3cr3t' * 6} (ConnectionResetError)", retryable=True)
    rig = outage_rig(twin_home, FakeLLM(leak, busy, busy, busy, busy), clock=clock)
    chain = rig.pipeline.outages.chain
    for _ in range(2):
        with pytest.raises(ProviderError):
            await chain.answer(Prompt("system", ()))
    health = chain.models[0].health
    assert health.down and key not in health.last_error and "s3cr3t" not in health.last_error
    path = sqlite_path(rig.settings.database_url)
    assert path is not None
    with sqlite3.connect(path) as conn:
        stored = json.dumps(conn.execute("SELECT key, value FROM twin_state").fetchall())
    assert "overloaded" in stored and "invalid api key *** for model x" in stored  # the cause, blanked
    assert key not in stored and "s3cr3t" not in stored and "k3yk3y" not in stored
