"""The command table, and `twin --help` printed from it without importing typer, click or rich.

Importing typer and rendering its rich help takes about 0.3 s, most of a `twin --help`. The top-level
help needs only what is written here: the usage line, the options and each command's one-line help.
So `twin`, `twin --help` and `twin -h` print it directly, laid out like typer's own help;
tests/test_cli_help.py checks that it lists exactly the commands and options typer shows.
"""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Sequence

APP_HELP = "twin: an AI twin for your own Telegram account."
ACCOUNT_HELP = "Which account (session)."
ACCOUNT_ENV = "TWIN_ACCOUNT"
HELP_OPTIONS = ["--help", "-h"]  # typer's context_settings too, so every command takes -h

# Every top-level command: name -> (module in twin.cli, one-line help), in the order `twin --help` lists them.
# tests/service/test_footprint.py checks each line against the command's own docstring.
COMMANDS: dict[str, tuple[str, str]] = {
    "login": ("service", "Log in as the owner: phone, code, and the 2FA password if the account has one."),
    "logout": ("service", "Log the session out on Telegram's side and delete the session file."),
    "run": ("service", "Run the twin in the foreground until Ctrl+C or SIGTERM."),
    "start": ("service", "Start the twin in the background; returns once it is connected to Telegram."),
    "stop": ("service", "Stop the background twin: in-flight replies finish, or resume at the next start."),
    "restart": ("service", "Stop the background twin (if it runs) and start it again."),
    "status": ("service", "Is twin running: connection, uptime, queue, pauses, modes, hours, last reply, last error."),
    "logs": ("service", "The background twin's log, with secrets redacted."),
    "doctor": ("service", "Check config, keys, session, database and ffmpeg; say how to fix what is missing."),
    "history": ("history", "The latest turns: what came in, what the twin answered, and why."),
    "show": ("history", "One turn whole: messages, reply, each step's time, reason, model, tokens, context and "
                        "examples."),
    "stats": ("history", "Replies per day and chat, skips by reason, reply delay, voice share, tokens and estimated "
                         "cost."),
    "export": ("history", "Every turn of the account as JSON Lines (to stdout, or --out FILE)."),
    "forget": ("history", "Delete everything stored for one chat: turns, messages, learned examples, its settings."),
    "mode": ("steering", "Show or set the mode: auto (send), review (drafts wait for `twin review`), off (record "
                         "only)."),
    "pause": ("steering", "Pause replies in one chat, or in every chat."),
    "resume": ("steering", "End a pause (of one chat, or the account-wide one); also ends an owner-takeover pause."),
    "review": ("steering", "Go through drafts waiting for you: send as is, edit then send, regenerate, or skip."),
    "chat": ("persona", "Talk to your twin in the terminal as a contact would; nothing is sent to Telegram."),
    "eval": ("persona", "Score the twin against your real replies (held out, never used as examples); or check the "
                        "guard."),
    "sandbox": ("sandbox", "A local stand-in for Telegram, to try twin safely."),
    "service": ("service", "Run twin as a systemd service."),
    "persona": ("persona", "Learn the owner's style from their chats; notes per chat."),
}

# The top-level options as typer lists them: names, type, help (then the dim notes after the help).
OPTIONS: list[tuple[list[str], str, str, list[str]]] = [
    (["--account", "-a"], "<str>", ACCOUNT_HELP, [f"[env var: {ACCOUNT_ENV}]", "[default: default]"]),
    (HELP_OPTIONS, "<bool>", "Show this message and exit.", []),
]

_DIM, _NAME, _SHORT, _TYPE, _RESET = "\x1b[2m", "\x1b[1;36m", "\x1b[1;32m", "\x1b[1;33m", "\x1b[0m"


def _columns() -> int:
    """The terminal's width: $COLUMNS, else the terminal's, else 80, as rich decides it for typer (shutil's
    get_terminal_size does the same, but importing shutil costs more than this whole help)."""
    try:
        return int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        pass
    try:
        return os.get_terminal_size(sys.__stdout__.fileno() if sys.__stdout__ else 1).columns
    except (OSError, ValueError):
        return 80


def _paint(text: str, style: str, color: bool) -> str:
    return f"{style}{text}{_RESET}" if color and text.strip() else text


def _panel(title: str, rows: list[tuple[list[tuple[str, str]], str]], width: int, color: bool) -> list[str]:
    """A box titled `title`: each row is its fixed cells (text, style) then a help text wrapped to what is left."""
    cells = max(len(r[0]) for r in rows)
    widths = [max(len(r[0][i][0]) for r in rows if i < len(r[0])) for i in range(cells)]
    fixed = sum(w + 2 for w in widths)
    room = max(width - 4 - fixed, 10)
    out = [_paint(f"╭─ {title} " + "─" * max(width - len(title) - 5, 0) + "╮", _DIM, color)]
    side = _paint("│", _DIM, color)
    for row, text in rows:
        for n, line in enumerate(textwrap.wrap(text, room, break_on_hyphens=False) or [""]):
            left = "".join(_paint(c.ljust(w), style, color) + "  " if n == 0 else " " * (w + 2)
                           for (c, style), w in zip(row + [("", "")] * (cells - len(row)), widths, strict=True))
            out.append(f"{side} {left}{line.ljust(room)} {side}")
    out.append(_paint("╰" + "─" * max(width - 2, 0) + "╯", _DIM, color))
    return out


def fast_help(prog: str, width: int, color: bool = False) -> str:
    """The top-level help: usage, the app's help, the options and every command with its one-line help."""
    width = max(width, 40)
    usage = _paint("Usage: ", _TYPE, color) + _paint(f"{prog} [OPTIONS] COMMAND [ARGS]...", "\x1b[1m", color)
    options = [([(names[0], _NAME), (" ".join(names[1:]), _SHORT), (kind, _TYPE)],
                " ".join([text, *notes])) for names, kind, text, notes in OPTIONS]
    name_width = max(len(n) for n in COMMANDS)
    commands = [([(name.ljust(name_width), _NAME)], line) for name, (_, line) in COMMANDS.items()]
    lines = ["", f" {usage}", "", f" {APP_HELP}", "",
             *_panel("Options", options, width, color), *_panel("Commands", commands, width, color), ""]
    return "\n".join(lines) + "\n"


def print_fast_help(argv: Sequence[str]) -> int | None:
    """For `twin`, `twin --help` or `twin -h`: print the help and return the exit code; None for anything else."""
    args = list(argv[1:])
    if args and (len(args) > 1 or args[0] not in HELP_OPTIONS):
        return None
    color = "NO_COLOR" not in os.environ and (sys.stdout.isatty() or bool(os.environ.get("FORCE_COLOR")))
    prog = os.path.basename(argv[0]) if argv else "twin"
    sys.stdout.write(fast_help(prog, _columns(), color))
    return 0 if args else 2  # no arguments: help, but exit 2 as typer's no_args_is_help does
