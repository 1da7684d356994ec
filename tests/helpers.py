"""Building blocks shared by tests: settings in the temp home, a wired daemon with fakes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.fakes import FakeClock, FakeLLM, FakeTelegram
from twin import config
from twin.daemon import Daemon
from twin.persona.profile import load_persona
from twin.pipeline import Pipeline
from twin.responder import Responder
from twin.store import Store


def make_settings(home: Path, **overrides: Any) -> config.Settings:
    return config.load(home=home, overrides=overrides, env={})


@dataclass
class Rig:
    settings: config.Settings
    store: Store
    telegram: FakeTelegram
    llm: FakeLLM
    clock: FakeClock
    daemon: Daemon
    pipeline: Pipeline


def make_rig(home: Path, *replies: str | None | Exception, **overrides: Any) -> Rig:
    settings = make_settings(home, **overrides)
    store = Store(settings.database_url)
    telegram = FakeTelegram()
    llm = FakeLLM(*replies)
    clock = FakeClock()
    responder = Responder(llm, load_persona(settings.persona_path), settings, clock)
    pipeline = Pipeline(account=settings.account, store=store, telegram=telegram, responder=responder,
                        settings=settings, clock=clock)
    daemon = Daemon(settings=settings, store=store, telegram=telegram, pipeline=pipeline, clock=clock)
    return Rig(settings, store, telegram, llm, clock, daemon, pipeline)
