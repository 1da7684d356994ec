"""The typer app, its sub-apps and what every command group shares (settings, console, time zone).

Commands are registered lazily: the top-level help lists them from COMMANDS (twin/cli/commands.py: name,
module, one-line help) without importing a command module, and `twin NAME` imports only the module that
defines NAME. `twin --help` itself does not even get here: cli.py prints it from the same table.
"""

from __future__ import annotations

import importlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

from twin.cli.commands import ACCOUNT_ENV, ACCOUNT_HELP, APP_HELP, COMMANDS, HELP_OPTIONS
from twin.errors import TwinError

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from typer import _click as click  # typer 0.29 vendors click: its own Command, Context, HelpFormatter

    from twin import config

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
            prepare(command, ctx)
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
                  help=APP_HELP, context_settings={"help_option_names": HELP_OPTIONS})
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


Account = Annotated[str, typer.Option("--account", "-a", envvar=ACCOUNT_ENV, help=ACCOUNT_HELP)]
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
