"""Commands that run the twin: login, run, start/stop, status, logs, the systemd unit, doctor."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from twin.cli import base
from twin.errors import TwinError


class _TerminalUI:
    """The login flow's prompts, in the terminal."""

    def ask(self, prompt: str, *, hidden: bool = False) -> str:
        return str(typer.prompt(prompt, hide_input=hidden))

    def confirm(self, prompt: str) -> bool:
        return bool(typer.confirm(prompt, default=True))

    def say(self, text: str) -> None:
        typer.echo(text)


@base.app.command()
def login(ctx: typer.Context, phone: Annotated[str | None, typer.Option(help="Skip the phone prompt.")] = None) -> None:
    """Log in as the owner: phone, code, and the 2FA password if the account has one."""
    import asyncio

    from twin.service.app import make_telegram
    from twin.session.login import login as run_login

    client = make_telegram(base.settings(ctx))

    async def flow() -> Any:
        try:
            return await run_login(client, _TerminalUI(), phone=phone)
        finally:
            await client.disconnect()

    me = asyncio.run(flow())
    typer.echo(f"Logged in as {me.name}" + (f" (@{me.username})" if me.username else "") + f", id {me.id}.")


@base.app.command()
def logout(ctx: typer.Context) -> None:
    """Log the session out on Telegram's side and delete the session file."""
    import asyncio

    from twin.service.app import make_telegram
    from twin.session.login import logout as run_logout

    settings = base.settings(ctx)
    asyncio.run(run_logout(make_telegram(settings)))
    settings.session_path.unlink(missing_ok=True)
    typer.echo(f"Logged out; {settings.session_path.name} deleted.")


@base.app.command()
def run(ctx: typer.Context, verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
        log_file: Annotated[Path | None, typer.Option(hidden=True)] = None) -> None:
    """Run the twin in the foreground until Ctrl+C or SIGTERM."""
    from twin.service.runner import exec_daemon, run_foreground

    settings = base.settings(ctx)  # a bad twin.toml is reported here, before the exec
    if base.STANDALONE:
        # The same pid goes on as the lean daemon entry: typer, rich and the CLI are not carried along.
        exec_daemon(settings.account, verbose=verbose, log_file=log_file)
    run_foreground(settings, verbose=verbose, log_file=log_file)


Wait = Annotated[float, typer.Option("--wait", help="Seconds to wait for the connection.")]


Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")]


@base.app.command()
def start(ctx: typer.Context, wait: Wait = 60.0, verbose: Verbose = False) -> None:
    """Start the twin in the background; returns once it is connected to Telegram."""
    from twin.service.process import paths
    from twin.service.process import start as start_daemon
    from twin.service.runner import daemon_command

    settings = base.settings(ctx)
    command = daemon_command(settings.account, verbose=verbose, log_file=paths(settings).log)
    pid = start_daemon(settings, command, wait_s=wait)
    typer.echo(f"twin is running for account '{settings.account}' (pid {pid}); `twin logs -f` follows it.")


@base.app.command()
def stop(ctx: typer.Context) -> None:
    """Stop the background twin: in-flight replies finish, or resume at the next start."""
    from twin.service.process import stop as stop_daemon

    settings = base.settings(ctx)
    done = stop_daemon(settings)
    typer.echo(f"twin is not running for account '{settings.account}'." if done is None
               else f"twin stopped (pid {done[0]}, {done[1]:.1f} s).")


@base.app.command()
def restart(ctx: typer.Context, wait: Wait = 60.0, verbose: Verbose = False) -> None:
    """Stop the background twin (if it runs) and start it again."""
    stop(ctx)
    start(ctx, wait, verbose)


@base.app.command()
def status(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json", help="JSON, stable keys.")] = False
           ) -> None:
    """Is twin running: connection, uptime, queue, pauses, modes, hours, last reply, last error."""
    from twin.service.status import status_report

    settings = base.settings(ctx)
    report = status_report(settings, base.now())
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False))
    else:
        from twin.cli.render.status import status_view

        base.console().print(status_view(report, base.tz(settings)))


@base.app.command()
def logs(ctx: typer.Context, follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing.")] = False,
         lines: Annotated[int, typer.Option("--lines", "-n", min=0)] = 50) -> None:
    """The background twin's log, with secrets redacted."""
    from twin.service.logview import follow as follow_log
    from twin.service.logview import redactor, tail
    from twin.service.process import paths

    settings = base.settings(ctx)
    path, redact = paths(settings).log, redactor(settings).redact
    if not path.exists() and not follow:
        raise TwinError(f"no log yet at {path} (`twin start` writes it)")
    for line in tail(path, lines) if path.exists() else []:
        typer.echo(redact(line))
    for line in follow_log(path) if follow else []:
        typer.echo(redact(line))


@base.service_app.command("install")
def service_install(ctx: typer.Context,
                    user: Annotated[bool, typer.Option("--user", help="A user unit (no root needed).")] = False,
                    directory: Annotated[Path | None, typer.Option("--dir", help="Write it here instead.")] = None
                    ) -> None:
    """Write the systemd template unit twin@.service and print the commands that enable it."""
    from twin.service.systemd import enable_commands, install

    settings = base.settings(ctx)
    path = install(settings, user=user, directory=directory)
    typer.echo(f"Wrote {path}. To run account '{settings.account}' as a service:")
    for command in enable_commands(settings.account, user=user):
        typer.echo(f"  {command}")


@base.app.command()
def doctor(ctx: typer.Context) -> None:
    """Check config, keys, session, database and ffmpeg; say how to fix what is missing."""
    from twin.cli.render.status import doctor_table
    from twin.service.doctor import run_checks

    checks = run_checks(base.settings(ctx))
    base.console().print(doctor_table(checks))
    if any(c.state == "fail" for c in checks):
        raise typer.Exit(1)
