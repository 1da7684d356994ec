"""twin's command line: each command resolves settings, calls one twin function, renders."""

from __future__ import annotations

import asyncio
import signal
import sys
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer

from twin import config
from twin.errors import TwinError

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_show_locals=False,
                  help="twin: an AI twin for your own Telegram account.")
sandbox_app = typer.Typer(no_args_is_help=True, help="A local stand-in for Telegram, to try twin safely.")
app.add_typer(sandbox_app, name="sandbox")

Account = Annotated[str, typer.Option("--account", "-a", envvar="TWIN_ACCOUNT", help="Which account (session).")]
AsJson = Annotated[bool, typer.Option("--json", help="One JSON object per line, stable keys.")]


def _settings(ctx: typer.Context) -> config.Settings:
    return config.load(account=ctx.obj["account"])


def _console() -> Any:
    from rich.console import Console

    return Console()


def _tz(settings: config.Settings) -> ZoneInfo:
    try:
        return ZoneInfo(settings.hours.timezone)
    except (KeyError, ValueError):
        raise TwinError(f"hours.timezone '{settings.hours.timezone}' is not a known time zone") from None


@app.callback()
def _options(ctx: typer.Context, account: Account = "default") -> None:
    ctx.obj = {"account": account}


class _TerminalUI:
    """The login flow's prompts, in the terminal."""

    def ask(self, prompt: str, *, hidden: bool = False) -> str:
        return str(typer.prompt(prompt, hide_input=hidden))

    def confirm(self, prompt: str) -> bool:
        return bool(typer.confirm(prompt, default=True))

    def say(self, text: str) -> None:
        typer.echo(text)


@app.command()
def login(ctx: typer.Context, phone: Annotated[str | None, typer.Option(help="Skip the phone prompt.")] = None) -> None:
    """Log in as the owner: phone, code, and the 2FA password if the account has one."""
    from twin.session.login import login as run_login

    from twin.app import make_telegram

    client = make_telegram(_settings(ctx))

    async def flow() -> Any:
        try:
            return await run_login(client, _TerminalUI(), phone=phone)
        finally:
            await client.disconnect()

    me = asyncio.run(flow())
    typer.echo(f"Logged in as {me.name}" + (f" (@{me.username})" if me.username else "") + f", id {me.id}.")


@app.command()
def logout(ctx: typer.Context) -> None:
    """Log the session out on Telegram's side and delete the session file."""
    from twin.session.login import logout as run_logout

    from twin.app import make_telegram

    settings = _settings(ctx)
    asyncio.run(run_logout(make_telegram(settings)))
    settings.session_path.unlink(missing_ok=True)
    typer.echo(f"Logged out; {settings.session_path.name} deleted.")


@app.command()
def run(ctx: typer.Context, verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    """Run the twin in the foreground until Ctrl+C or SIGTERM."""
    from twin.app import serve
    from twin.logs import setup_logging

    settings = _settings(ctx)
    setup_logging(settings, verbose=verbose)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve(settings, stop)

    asyncio.run(main())


@app.command()
def history(
    ctx: typer.Context,
    chat: Annotated[str | None, typer.Option(help="Chat id, @username or name.")] = None,
    since: Annotated[str | None, typer.Option(help="2h, 3d, yesterday, 2026-11-20 ...")] = None,
    limit: Annotated[int, typer.Option(min=1)] = 20,
    as_json: AsJson = False,
) -> None:
    """The latest turns: what came in, what the twin answered, and why."""
    from twin.app import open_store
    from twin.clock import SystemClock
    from twin.console import history_table, turn_line
    from twin.timeparse import parse_when

    settings = _settings(ctx)
    tz = _tz(settings)
    store = open_store(settings)
    chat_id = None
    if chat is not None:
        chat_id = store.resolve_chat(settings.account, chat)
        if chat_id is None:
            raise TwinError(f"no chat matches '{chat}'")
    since_at = parse_when(since, SystemClock().now(), tz) if since else None
    turns = store.turns(settings.account, chat=chat_id, since=since_at, limit=limit)
    if as_json:
        for turn in reversed(turns):
            typer.echo(turn_line(turn))
    else:
        _console().print(history_table(turns, tz))


@app.command()
def show(ctx: typer.Context, turn_id: Annotated[int, typer.Argument(metavar="ID")], as_json: AsJson = False) -> None:
    """One turn whole: messages, reply, reason, model and context."""
    from twin.app import open_store
    from twin.console import turn_detail, turn_line

    settings = _settings(ctx)
    turn = open_store(settings).turn(turn_id, settings.account)
    if turn is None:
        raise TwinError(f"no turn {turn_id} for account '{settings.account}'")
    if as_json:
        typer.echo(turn_line(turn))
    else:
        _console().print(turn_detail(turn, _tz(settings)))


@app.command()
def chat(
    ctx: typer.Context, as_name: Annotated[str, typer.Option("--as", help="Who you pretend to be.")] = "Friend"
) -> None:
    """Talk to your twin in the terminal as a contact would; nothing is sent to Telegram."""
    from twin.app import make_responder
    from twin.chat import chat_loop

    responder = make_responder(_settings(ctx))
    asyncio.run(chat_loop(responder, as_name, sys.stdin, _console()))


@app.command()
def doctor(ctx: typer.Context) -> None:
    """Check config, keys, session, database and ffmpeg; say how to fix what is missing."""
    from twin.console import doctor_table
    from twin.doctor import run_checks

    checks = run_checks(_settings(ctx))
    _console().print(doctor_table(checks))
    if any(c.state == "fail" for c in checks):
        raise typer.Exit(1)


@sandbox_app.command("say")
def sandbox_say(ctx: typer.Context, text: str,
                sender: Annotated[str, typer.Option("--from", help="The contact's name.")] = "Alice") -> None:
    """Write to the twin as a sandbox contact."""
    from twin.app import sandbox_world

    event = sandbox_world(_settings(ctx)).say(sender, text)
    typer.echo(f"{sender} -> owner: message {event['id']}")


@sandbox_app.command("log")
def sandbox_log(ctx: typer.Context, limit: Annotated[int, typer.Option(min=1)] = 30) -> None:
    """The sandbox conversation, as the contacts see it."""
    from twin.app import sandbox_world

    for event in sandbox_world(_settings(ctx)).events()[-limit:]:
        who = event.get("name", "") if event["dir"] == "in" else "twin"
        body = event.get("text") or f"[voice {event.get('voice_s', 0)} s]"
        typer.echo(f"{event['id']:>5} {event['chat']:>7} {who:>10}: {body}")


def main() -> None:
    """Entry point: run the app; a TwinError becomes one line on stderr and exit code 1."""
    try:
        app()
    except TwinError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
