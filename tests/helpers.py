"""Building blocks shared by tests: settings in the temp home, a wired daemon with fakes."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.fakes import FakeClock, FakeLLM, FakeTelegram
from twin import config
from twin.db.store import Store
from twin.engine.daemon import Daemon
from twin.engine.pipeline import Pipeline
from twin.engine.responder import Responder
from twin.persona.profile import load_persona
from twin.voice.flow import VoiceFlow


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


def make_rig(home: Path, *replies: str | None | Exception, clock: FakeClock | None = None,
             stt: Any = None, tts: Any = None, telegram: FakeTelegram | None = None, **overrides: Any) -> Rig:
    """A daemon over fakes. Overrides use dotted keys with '__' for '.': timing__scale=0.

    Pass the telegram of an earlier rig to start "the next process" against the same server.
    """
    settings = make_settings(home, **{k.replace("__", "."): v for k, v in overrides.items()})
    store = Store(settings.database_url)
    telegram = telegram or FakeTelegram()
    llm = FakeLLM(*replies)
    clock = clock or FakeClock()
    responder = Responder(llm, load_persona(settings.persona_path), settings, clock, store)
    voice = VoiceFlow(settings, stt, tts)
    pipeline = Pipeline(account=settings.account, store=store, telegram=telegram, responder=responder,
                        settings=settings, clock=clock, rng=random.Random(7), voice=voice)
    daemon = Daemon(settings=settings, store=store, telegram=telegram, pipeline=pipeline, clock=clock,
                    voice_enabled=stt is not None)
    daemon.rng = random.Random(11)
    return Rig(settings, store, telegram, llm, clock, daemon, pipeline)
