"""The typer app, its sub-apps and what every command group shares (settings, console, time zone).

Commands are registered lazily: `twin --help` lists them from COMMANDS (name, module, one-line help)
without importing a command module, and `twin NAME` imports only the module that defines NAME.
"""

from __future__ import annotations

import importlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

from twin.errors import TwinError

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from typer import _click as click  # typer 0.29 vendors click: its own Command, Context, HelpFormatter

    from twin import config

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
STANDALONE = False  # set by cli.main(): a real `twin` process (not typer's CliRunner), so `twin run` may exec


class LazyGroup(TyperGroup):
    """The top-level group: a command's module is imported when that command is used, not before."""

    _listing = False

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        from twin.cli.coerce import prepare

        prepare(self)  # --account: converted without pydantic

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            if self._listing:  # the top-level help needs a name and a line, not the command
                return TyperCommand(name=cmd_name, help=COMMANDS[cmd_name][1])
            from twin.cli.coerce import prepare

            importlib.import_module(f"twin.cli.{COMMANDS[cmd_name][0]}")
            self.commands[cmd_name] = command = _build(cmd_name, self.rich_markup_mode)
            prepare(command)
        return self.commands.get(cmd_name)

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple[str | None, click.Command | None,
                                                                            list[str]]:
        from typer._click.exceptions import UsageError

        try:
            return super().resolve_command(ctx, args)
        except UsageError as exc:  # typer suggests from the commands loaded so far: suggest from the table
            from difflib import get_close_matches

            close = get_close_matches(args[0], list(COMMANDS)) if args else []
            if close and "Did you mean" not in exc.message:
                exc.message = f"{exc.message.rstrip('.')}. Did you mean {', '.join(repr(m) for m in close)}?"
            raise


app = typer.Typer(cls=LazyGroup, no_args_is_help=True, add_completion=False, pretty_exceptions_show_locals=False,
                  help="twin: an AI twin for your own Telegram account.")
sandbox_app = typer.Typer(no_args_is_help=True, help=COMMANDS["sandbox"][1])
service_app = typer.Typer(no_args_is_help=True, help=COMMANDS["service"][1])
persona_app = typer.Typer(no_args_is_help=True, help=COMMANDS["persona"][1])
SUB_APPS = {"sandbox": sandbox_app, "service": service_app, "persona": persona_app}


def _build(name: str, markup: Any) -> click.Command:
    """The click command for a name whose module has registered it (a command, or a sub-app's group)."""
    from typer.main import get_command_from_info, get_command_name, get_group_from_info
    from typer.models import TyperInfo

    short = app.pretty_exceptions_short
    if name in SUB_APPS:
        return get_group_from_info(TyperInfo(SUB_APPS[name], name=name), pretty_exceptions_short=short,
                                   suggest_commands=app.suggest_commands, rich_markup_mode=markup)
    for info in app.registered_commands:
        callback = info.callback
        if (info.name or (get_command_name(callback.__name__) if callback else "")) == name:
            return get_command_from_info(info, pretty_exceptions_short=short, rich_markup_mode=markup)
    raise LookupError(f"twin.cli.{COMMANDS[name][0]} does not define the command '{name}'")


Account = Annotated[str, typer.Option("--account", "-a", envvar="TWIN_ACCOUNT", help="Which account (session).")]
AsJson = Annotated[bool, typer.Option("--json", help="One JSON object per line, stable keys.")]
ChatArg = Annotated[str | None, typer.Argument(help="Chat id, @username or name; leave out for every chat.")]


def settings(ctx: typer.Context) -> config.Settings:
    from twin import config

    return config.load(account=ctx.obj["account"])


def console() -> Any:
    from rich.console import Console

    return Console()


def now() -> datetime:
    """The CLI's now (twin.clock.SystemClock would import asyncio, 60 ms, for nothing here)."""
    return datetime.now(UTC)


def paged(renderable: Any, rows: int = 0) -> None:
    """Print, through a pager when a long table would scroll off the terminal."""
    out = console()
    if out.is_terminal and rows > out.height - 8:
        with out.pager(styles=True):
            out.print(renderable)
    else:
        out.print(renderable)


def json_line(turn: Any) -> str:
    """A turn as one JSON line with stable keys (without importing rich)."""
    import json

    from twin.types import turn_json

    return json.dumps(turn_json(turn), ensure_ascii=False)


def tz(settings: config.Settings) -> ZoneInfo:
    from zoneinfo import ZoneInfo

    try:
        return ZoneInfo(settings.hours.timezone)
    except (KeyError, ValueError):
        raise TwinError(f"hours.timezone '{settings.hours.timezone}' is not a known time zone") from None


@app.callback()
def _options(ctx: typer.Context, account: Account = "default") -> None:
    ctx.obj = {"account": account}
