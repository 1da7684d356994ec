"""The typer app, its sub-apps and what every command group shares (settings, console, time zone)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer

from twin import config
from twin.errors import TwinError

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_show_locals=False,
                  help="twin: an AI twin for your own Telegram account.")
sandbox_app = typer.Typer(no_args_is_help=True, help="A local stand-in for Telegram, to try twin safely.")
app.add_typer(sandbox_app, name="sandbox")
service_app = typer.Typer(no_args_is_help=True, help="Run twin as a systemd service.")
app.add_typer(service_app, name="service")
persona_app = typer.Typer(no_args_is_help=True, help="Learn the owner's style from their chats; notes per chat.")
app.add_typer(persona_app, name="persona")

Account = Annotated[str, typer.Option("--account", "-a", envvar="TWIN_ACCOUNT", help="Which account (session).")]
AsJson = Annotated[bool, typer.Option("--json", help="One JSON object per line, stable keys.")]
ChatArg = Annotated[str | None, typer.Argument(help="Chat id, @username or name; leave out for every chat.")]


def settings(ctx: typer.Context) -> config.Settings:
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
    from twin.types import turn_json

    return json.dumps(turn_json(turn), ensure_ascii=False)


def tz(settings: config.Settings) -> ZoneInfo:
    try:
        return ZoneInfo(settings.hours.timezone)
    except (KeyError, ValueError):
        raise TwinError(f"hours.timezone '{settings.hours.timezone}' is not a known time zone") from None


@app.callback()
def _options(ctx: typer.Context, account: Account = "default") -> None:
    ctx.obj = {"account": account}
