"""Settings: file < environment < command line; unknown keys and wrong types name the key."""

from __future__ import annotations

import pytest

from twin import config
from twin.errors import ConfigError


def write(home, text):
    (home / "twin.toml").write_text(text)


def test_defaults_without_a_file(twin_home):
    s = config.load(home=twin_home, env={})
    assert s.llm.provider == "auto" and s.llm.context_turns == 20 and s.telegram.dc_id == 2
    assert s.session_path == twin_home / "sessions" / "default.session"
    assert s.database_url == f"sqlite:///{twin_home / 'data' / 'twin.db'}"


def test_file_then_env_then_overrides(twin_home):
    write(twin_home, '[llm]\nprovider = "openai"\ncontext_turns = 5\n[telegram]\napi_id = 123\n')
    env = {"TWIN_LLM_CONTEXT_TURNS": "7", "TWIN_API_HASH": "h" * 32, "TWIN_RULES_ALLOW": "@bob, 42"}
    s = config.load(home=twin_home, env=env, overrides={"llm.provider": "gemini"})
    assert s.llm.provider == "gemini" and s.llm.context_turns == 7 and s.telegram.api_id == 123
    assert s.telegram.api_hash.reveal() == "h" * 32
    assert s.rules.allow == ["@bob", "42"]


@pytest.mark.parametrize("text, message", [
    ("[llm]\nmodle = 'x'\n", "unknown setting 'llm.modle' in twin.toml"),
    ("[lmm]\nmodel = 'x'\n", "unknown setting section '[lmm]' in twin.toml"),
    ("[llm]\ncontext_turns = 'many'\n", "setting 'llm.context_turns' (from twin.toml) must be an integer, got str"),
    ("[llm]\nprovider = 'gpt'\n", "setting 'llm.provider' (from twin.toml) must be one of auto, gemini, openai, local"),
    ("[timing]\nmark_read = 1\n", "setting 'timing.mark_read' (from twin.toml) must be true or false, got int"),
    ("[llm\n", "is not valid TOML"),
])
def test_bad_file_names_the_key(twin_home, text, message):
    write(twin_home, text)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        config.load(home=twin_home, env={})


def test_bad_env_value_names_the_variable(twin_home):
    with pytest.raises(ConfigError, match="TWIN_LLM_TIMEOUT_S"):
        config.load(home=twin_home, env={"TWIN_LLM_TIMEOUT_S": "soon"})
    with pytest.raises(ConfigError, match="unknown setting 'llm.nope' in TWIN_LLM_NOPE"):
        config.load(home=twin_home, env={"TWIN_LLM_NOPE": "1"})


def test_unrelated_twin_variables_are_ignored(twin_home):
    s = config.load(home=twin_home, env={"TWIN_HOME": str(twin_home), "TWIN_TEST_DATABASE_URL": "x"})
    assert s.home == twin_home


def test_secrets_never_show_in_repr(twin_home):
    env = {"GEMINI_API_KEY": "AIza-not-a-real-key-123456", "TWIN_API_HASH": "abcdef123456"}
    s = config.load(home=twin_home, env=env)
    text = repr(s) + str(s.telegram) + str(s.gemini_api_key)
    assert "AIza-not-a-real-key" not in text and "abcdef123456" not in text
    assert s.gemini_api_key.reveal() == "AIza-not-a-real-key-123456"


def test_account_names_are_checked(twin_home):
    with pytest.raises(ConfigError, match="account name"):
        config.load(home=twin_home, account="../etc", env={})
    assert config.load(home=twin_home, account="work", env={}).session_path.name == "work.session"


@pytest.mark.parametrize("var, raw, read", [
    ("TWIN_TIMING_MARK_READ", " Off ", ("timing", "mark_read", False)),
    ("TWIN_TIMING_MARK_READ", "yes", ("timing", "mark_read", True)),
    ("TWIN_TIMING_SCALE", "2", ("timing", "scale", 2.0)),
    ("TWIN_LLM_CONTEXT_TURNS", " 7 ", ("llm", "context_turns", 7)),
    ("TWIN_RULES_ALLOW", '["@a", 42]', ("rules", "allow", ["@a", "42"])),
    ("TWIN_RULES_DENY", "", ("rules", "deny", [])),
    ("TWIN_HOURS_WEEK", '{"mon": ["09:00-18:00"]}', ("hours", "week", {"mon": ["09:00-18:00"]})),
    ("TWIN_TELEGRAM_API_HASH", "[not json]", ("telegram", "api_hash", None)),  # a secret is taken as it is
])
def test_environment_strings_are_read_by_the_setting_type(twin_home, var, raw, read):
    section, key, expected = read
    value = getattr(getattr(config.load(home=twin_home, env={var: raw}), section), key)
    if expected is None:
        assert value.reveal() == raw
    else:
        assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize("var, raw, kind", [
    ("TWIN_TIMING_MARK_READ", "maybe", "true or false"),
    ("TWIN_TIMING_SCALE", "fast", "a number"),
    ("TWIN_LLM_CONTEXT_TURNS", "1.5", "an integer"),
    ("TWIN_RULES_ALLOW", "[1, ", "a list of strings"),
    ("TWIN_HOURS_WEEK", "mon=9-18", "a table of string lists"),
    ("TWIN_HOURS_WEEK", '{"mon": "9-18"}', "a table of string lists"),
])
def test_unreadable_environment_strings_name_the_variable_and_type(twin_home, var, raw, kind):
    with pytest.raises(ConfigError) as caught:
        config.load(home=twin_home, env={var: raw})
    assert str(caught.value).startswith("setting '") and f"(from {var}) must be {kind}, got " in str(caught.value)
