"""`twin --help` without typer: the same usage, options and commands as typer's own help, in a fraction of the time."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ANSI = re.compile(r"\x1b\[[0-9;]*m")
TYPER_HELP = "import sys\nfrom twin.cli import base\nsys.argv = ['cli.py', *sys.argv[1:]]\nbase.app()"


def run(args: list[str], *, code: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    """`twin ARGS` (through cli.py, or through `code` instead) in a fresh interpreter."""
    clean = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "NO_COLOR", "FORCE_COLOR", "TWIN_ACCOUNT")}
    command = [sys.executable, "-c", code, *args] if code else [sys.executable, str(ROOT / "cli.py"), *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env={**clean, "PYTHONPATH": str(ROOT), **env})


def panels(text: str) -> dict[str, list[str]]:
    """Each boxed panel's rows (what is between `│ ` and ` │`), by title."""
    found: dict[str, list[str]] = {}
    title = ""
    for line in ANSI.sub("", text).splitlines():
        if line.startswith("╭─ "):
            title = line[3:].split(" ", 1)[0]
            found[title] = []
        elif line.startswith("│") and title:
            found[title].append(line[2:-2].rstrip())
    return found


def command_rows(rows: list[str]) -> dict[str, str]:
    """name -> its help, wrapped lines joined."""
    found: dict[str, str] = {}
    name = ""
    for row in rows:
        if not row.startswith(" "):
            name, _, row = row.partition(" ")
            found[name] = ""
        found[name] = " ".join([*found[name].split(), *row.split()])
    return found


def option_rows(rows: list[str]) -> list[tuple[frozenset[str], str, str]]:
    """(names, type, help) of each option."""
    found: list[tuple[frozenset[str], str, str]] = []
    for row in rows:
        cells = re.split(r"\s{2,}", row.strip())
        if row.startswith("-"):
            names = frozenset(c for c in cells if c.startswith("-"))
            kind = next(c for c in cells if c.startswith("<"))
            found.append((names, kind, " ".join(c for c in cells if c not in names and c != kind)))
        else:
            names, kind, text = found.pop()
            found.append((names, kind, " ".join([text, *cells])))
    return found


def content(text: str) -> dict[str, object]:
    lines = [line.strip() for line in ANSI.sub("", text).splitlines() if line.strip()]
    found = panels(text)
    return {"usage": lines[0], "about": lines[1], "panels": list(found),
            "options": option_rows(found["Options"]), "commands": command_rows(found["Commands"])}


@pytest.mark.parametrize("columns", ["60", "80", "123", "200"])
def test_fast_help_shows_what_typer_shows(columns):
    typer = run(["--help"], code=TYPER_HELP, COLUMNS=columns)
    fast = run(["--help"], COLUMNS=columns)
    assert typer.returncode == fast.returncode == 0, typer.stderr + fast.stderr
    expected = content(typer.stdout)
    assert expected["panels"] == ["Options", "Commands"]  # the parser sees typer's layout
    assert len(expected["commands"]) == 23 and expected["options"][0][0] == {"--account", "-a"}
    assert content(fast.stdout) == expected
    width = max(len(line) for line in fast.stdout.splitlines())
    assert width == int(columns)  # boxed to the terminal's width, as typer's


def test_fast_help_loads_neither_typer_nor_a_command_and_exits_as_typer_does():
    code = ("import runpy, sys\n"
            "try:\n    runpy.run_path('cli.py', run_name='__main__')\n"
            "except SystemExit as exc:\n    print('EXIT', exc.code)\n"
            "print('MODULES', sorted(m for m in sys.modules if m.startswith(('twin', 'typer', 'click', 'rich'))))")
    for args, exit_code in (([], 2), (["--help"], 0), (["-h"], 0)):
        done = run(args, code=code)
        assert f"EXIT {exit_code}\nMODULES ['twin', 'twin.cli', 'twin.cli.commands']" in done.stdout, done.stderr
        assert "Usage: " in done.stdout and " persona " in done.stdout
    typer = run([], code=TYPER_HELP)
    assert typer.returncode == 2 and content(typer.stdout) == content(run([]).stdout)


def test_anything_else_goes_to_typer_and_every_command_takes_h():
    with_account = run(["--account", "work", "--help"], COLUMNS="100")
    assert with_account.returncode == 0 and content(with_account.stdout) == content(run(["-h"], COLUMNS="100").stdout)
    sub = run(["history", "-h"], COLUMNS="100")
    assert sub.returncode == 0 and "Usage: cli.py history [OPTIONS]" in sub.stdout and "--limit" in sub.stdout
    nested = run(["sandbox", "say", "-h"], COLUMNS="100")
    assert nested.returncode == 0 and "Usage: cli.py sandbox say" in nested.stdout
    wrong = run(["--helpp"])
    assert wrong.returncode == 2 and "No such option" in wrong.stderr


def test_colour_only_on_a_terminal_or_when_forced_and_never_with_no_color():
    assert not ANSI.search(run(["--help"]).stdout)
    forced = run(["--help"], FORCE_COLOR="1").stdout
    assert "\x1b[1;36mlogin" in forced and content(forced) == content(run(["--help"]).stdout)
    assert not ANSI.search(run(["--help"], FORCE_COLOR="1", NO_COLOR="1").stdout)
