"""twin's command line: each command resolves settings, calls one twin function, renders."""

from __future__ import annotations

import json
import sys
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path
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


def _settings(ctx: typer.Context) -> config.Settings:
    return config.load(account=ctx.obj["account"])


def _console() -> Any:
    from rich.console import Console

    return Console()


def _now() -> datetime:
    """The CLI's now (twin.clock.SystemClock would import asyncio, 60 ms, for nothing here)."""
    return datetime.now(UTC)


def _print(renderable: Any, rows: int = 0) -> None:
    """Print, through a pager when a long table would scroll off the terminal."""
    console = _console()
    if console.is_terminal and rows > console.height - 8:
        with console.pager(styles=True):
            console.print(renderable)
    else:
        console.print(renderable)


def _json_line(turn: Any) -> str:
    """A turn as one JSON line with stable keys (without importing rich)."""
    from twin.types import turn_json

    return json.dumps(turn_json(turn), ensure_ascii=False)


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
    import asyncio

    from twin.app import make_telegram
    from twin.session.login import login as run_login

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
    import asyncio

    from twin.app import make_telegram
    from twin.session.login import logout as run_logout

    settings = _settings(ctx)
    asyncio.run(run_logout(make_telegram(settings)))
    settings.session_path.unlink(missing_ok=True)
    typer.echo(f"Logged out; {settings.session_path.name} deleted.")


@app.command()
def run(ctx: typer.Context, verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
        log_file: Annotated[Path | None, typer.Option(hidden=True)] = None) -> None:
    """Run the twin in the foreground until Ctrl+C or SIGTERM."""
    from twin.runner import run_foreground

    run_foreground(_settings(ctx), verbose=verbose, log_file=log_file)


Wait = Annotated[float, typer.Option("--wait", help="Seconds to wait for the connection.")]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")]


@app.command()
def start(ctx: typer.Context, wait: Wait = 60.0, verbose: Verbose = False) -> None:
    """Start the twin in the background; returns once it is connected to Telegram."""
    from twin.service import paths
    from twin.service import start as start_daemon

    settings = _settings(ctx)
    log = paths(settings).log
    command = [sys.executable, str(Path(__file__).resolve()), "--account", settings.account, "run",
               "--log-file", str(log), *(["--verbose"] if verbose else [])]
    pid = start_daemon(settings, command, wait_s=wait)
    typer.echo(f"twin is running for account '{settings.account}' (pid {pid}); `twin logs -f` follows it.")


@app.command()
def stop(ctx: typer.Context) -> None:
    """Stop the background twin: in-flight replies finish, or resume at the next start."""
    from twin.service import stop as stop_daemon

    settings = _settings(ctx)
    done = stop_daemon(settings)
    typer.echo(f"twin is not running for account '{settings.account}'." if done is None
               else f"twin stopped (pid {done[0]}, {done[1]:.1f} s).")


@app.command()
def restart(ctx: typer.Context, wait: Wait = 60.0, verbose: Verbose = False) -> None:
    """Stop the background twin (if it runs) and start it again."""
    stop(ctx)
    start(ctx, wait, verbose)


@app.command()
def status(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json", help="JSON, stable keys.")] = False
           ) -> None:
    """Is twin running: connection, uptime, queue, pauses, modes, hours, last reply, last error."""
    from twin.status import status_report

    settings = _settings(ctx)
    report = status_report(settings, _now())
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False))
    else:
        from twin.console import status_view

        _console().print(status_view(report, _tz(settings)))


@app.command()
def logs(ctx: typer.Context, follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing.")] = False,
         lines: Annotated[int, typer.Option("--lines", "-n", min=0)] = 50) -> None:
    """The background twin's log, with secrets redacted."""
    from twin.logview import follow as follow_log
    from twin.logview import redactor, tail
    from twin.service import paths

    settings = _settings(ctx)
    path, redact = paths(settings).log, redactor(settings).redact
    if not path.exists() and not follow:
        raise TwinError(f"no log yet at {path} (`twin start` writes it)")
    for line in tail(path, lines) if path.exists() else []:
        typer.echo(redact(line))
    for line in follow_log(path) if follow else []:
        typer.echo(redact(line))


@service_app.command("install")
def service_install(ctx: typer.Context,
                    user: Annotated[bool, typer.Option("--user", help="A user unit (no root needed).")] = False,
                    directory: Annotated[Path | None, typer.Option("--dir", help="Write it here instead.")] = None
                    ) -> None:
    """Write the systemd template unit twin@.service and print the commands that enable it."""
    from twin.systemd import enable_commands, install

    settings = _settings(ctx)
    path = install(settings, user=user, directory=directory)
    typer.echo(f"Wrote {path}. To run account '{settings.account}' as a service:")
    for command in enable_commands(settings.account, user=user):
        typer.echo(f"  {command}")


@app.command()
def history(
    ctx: typer.Context,
    chat: Annotated[str | None, typer.Option(help="Chat id, @username or name.")] = None,
    since: Annotated[str | None, typer.Option(help="2h, 3d, yesterday, 2026-11-20 ...")] = None,
    until: Annotated[str | None, typer.Option(help="Same forms as --since.")] = None,
    status: Annotated[list[str] | None, typer.Option(help="answered, skipped, failed, review ... (repeat or a,b)")
                      ] = None,
    voice: Annotated[bool, typer.Option("--voice", help="Only voice messages or voice replies.")] = False,
    search: Annotated[str | None, typer.Option(help="Words in the message, transcript or reply.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="Turns per page.")] = 20,
    page: Annotated[int, typer.Option(min=1, help="1 is the newest page.")] = 1,
    as_json: AsJson = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV with a header row.")] = False,
) -> None:
    """The latest turns: what came in, what the twin answered, and why."""
    from twin.search import history_page

    settings = _settings(ctx)
    tz = _tz(settings)
    turns, more = history_page(settings, tz, _now(), chat=chat, since=since, until=until, statuses=status,
                               voice=voice, text=search, limit=limit, page=page)
    if as_json:
        for turn in reversed(turns):
            typer.echo(_json_line(turn))
    elif as_csv:
        from twin.export import write_csv

        write_csv(reversed(turns), sys.stdout)
    else:
        from twin.console import history_table

        _print(history_table(turns, tz, page=page, more=more), rows=len(turns))


@app.command()
def show(ctx: typer.Context, turn_id: Annotated[int, typer.Argument(metavar="ID")], as_json: AsJson = False) -> None:
    """One turn whole: messages, reply, each step's time, reason, model, tokens, context and examples."""
    from twin.reader import reading
    from twin.search import get_turn

    settings = _settings(ctx)
    with reading(settings.database_url) as reader:
        turn = get_turn(reader, settings.account, turn_id)
    if turn is None:
        raise TwinError(f"no turn {turn_id} for account '{settings.account}'")
    if as_json:
        typer.echo(_json_line(turn))
    else:
        from twin.console import turn_detail

        _console().print(turn_detail(turn, _tz(settings)))


@app.command()
def stats(ctx: typer.Context,
          since: Annotated[str, typer.Option(help="30d, 2026-11-01, yesterday ... or 'all'.")] = "30d",
          until: Annotated[str | None, typer.Option(help="Same forms as --since (default: now).")] = None,
          as_json: Annotated[bool, typer.Option("--json", help="JSON, stable keys.")] = False) -> None:
    """Replies per day and chat, skips by reason, reply delay, voice share, tokens and estimated cost."""
    from twin.reader import reading
    from twin.stats import compute_stats
    from twin.timeparse import parse_when

    settings, now = _settings(ctx), _now()
    tz = _tz(settings)
    start = None if since == "all" else parse_when(since, now, tz)
    end = parse_when(until, now, tz) if until else None
    with reading(settings.database_url) as reader:
        result = compute_stats(reader, settings.account, since=start, until=end, now=now, tz=tz)
    if as_json:
        typer.echo(json.dumps(result.as_json(), ensure_ascii=False))
    else:
        from twin.console import stats_view

        _print(stats_view(result, tz), rows=len(result.per_day) + 40)


@app.command()
def export(ctx: typer.Context, out: Annotated[Path | None, typer.Option("--out", "-o", help="A file.")] = None
           ) -> None:
    """Every turn of the account as JSON Lines (to stdout, or --out FILE)."""
    from twin.export import all_turns, write_jsonl
    from twin.reader import reading

    settings = _settings(ctx)
    with reading(settings.database_url) as reader, open(out, "w", encoding="utf-8") if out else \
            nullcontext(sys.stdout) as fh:
        count = write_jsonl(all_turns(reader, settings.account), fh)
    if out:
        typer.echo(f"{count} turns written to {out}")


@app.command()
def forget(ctx: typer.Context, chat: Annotated[str, typer.Argument(help="Chat id, @username or name.")],
           yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False) -> None:
    """Delete everything stored for one chat: turns, messages, learned examples, its settings."""
    from twin.app import open_store
    from twin.export import forget as forget_chat
    from twin.export import forget_counts
    from twin.search import find_chat

    settings = _settings(ctx)
    chat_id = find_chat(settings, chat)
    store = open_store(settings)
    counts = forget_counts(store, settings.account, chat_id)
    if not counts:
        raise TwinError(f"nothing is stored for chat {chat_id}")
    summary = ", ".join(f"{n} {table}" for table, n in counts.items())
    if not yes and not typer.confirm(f"Delete {summary} of chat {chat_id}? This cannot be undone", default=False):
        raise typer.Exit(1)
    deleted = forget_chat(store, settings.account, chat_id)
    typer.echo(f"Forgot chat {chat_id}: {sum(deleted.values())} rows deleted.")


@app.command()
def mode(ctx: typer.Context, words: Annotated[list[str] | None, typer.Argument(
        metavar="[CHAT] [auto|review|off|inherit]", help="No CHAT: the whole account. No mode: show modes.")] = None
         ) -> None:
    """Show or set the mode: auto (send), review (drafts wait for `twin review`), off (record only)."""
    from twin.steer import INHERIT, MODES, set_mode

    settings, words = _settings(ctx), words or []
    if not words or words[-1].lower() not in (*MODES, INHERIT):
        if words:
            raise TwinError(f"'{words[-1]}' is not a mode (auto, review, off, inherit)")
        return _show_steering(settings)
    from twin.app import open_store
    from twin.search import find_chat

    chat_id = find_chat(settings, " ".join(words[:-1])) if len(words) > 1 else None
    set_mode(open_store(settings), settings.account, chat_id, words[-1].lower())
    typer.echo(f"Mode of {f'chat {chat_id}' if chat_id else 'the account'}: {words[-1].lower()}.")


def _show_steering(settings: config.Settings) -> None:
    from twin.console import chat_settings_table
    from twin.status import status_report

    report = status_report(settings, _now())
    typer.echo(f"Account mode: {report['mode']} ({report['mode_source']}).")
    rows = [(str(c["chat"] or c["chat_id"]), str(c["mode"]), "") for c in report["chat_modes"]]
    rows += [(str(p["chat"] or p["chat_id"]), "", f"until {p['until'] or 'resumed'}") for p in report["pauses"]]
    if rows:
        _console().print(chat_settings_table(rows))


@app.command()
def pause(ctx: typer.Context, chat: ChatArg = None,
          for_: Annotated[str | None, typer.Option("--for", help="30m, 2h, 3d; default: until resumed.")] = None
          ) -> None:
    """Pause replies in one chat, or in every chat."""
    from twin.app import open_store
    from twin.search import find_chat
    from twin.steer import describe_until
    from twin.steer import pause as pause_chat
    from twin.timeparse import parse_duration

    settings, now = _settings(ctx), _now()
    chat_id = find_chat(settings, chat) if chat else None
    end = pause_chat(open_store(settings), settings.account, chat_id, now + parse_duration(for_) if for_ else None)
    typer.echo(f"Paused {f'chat {chat_id}' if chat_id else 'every chat'} {describe_until(end, now)}.")


@app.command()
def resume(ctx: typer.Context, chat: ChatArg = None) -> None:
    """End a pause (of one chat, or the account-wide one); also ends an owner-takeover pause."""
    from twin.app import open_store
    from twin.search import find_chat
    from twin.steer import resume as resume_chat

    settings = _settings(ctx)
    chat_id = find_chat(settings, chat) if chat else None
    was = resume_chat(open_store(settings), settings.account, chat_id, _now())
    what = f"chat {chat_id}" if chat_id else "the account"
    typer.echo(f"Resumed {what}." if was else f"{what.capitalize()} was not paused.")


class _ReviewUI:
    """The review loop in the terminal."""

    def __init__(self, tz: Any) -> None:
        self.tz = tz

    def ask(self, prompt: str) -> str:
        try:
            return str(typer.prompt(prompt, default="", show_default=False))
        except typer.Abort:
            return "q"

    def edit(self, text: str) -> str:
        from twin.review import edit_in_editor

        if sys.stdin.isatty():
            return edit_in_editor(text)
        return self.ask("New text")

    def say(self, text: str) -> None:
        typer.echo(text)

    def show(self, turn: Any, position: int, total: int) -> None:
        from twin.console import review_card

        _console().print(review_card(turn, position, total, self.tz))


@app.command()
def review(ctx: typer.Context) -> None:
    """Go through drafts waiting for you: send as is, edit then send, regenerate, or skip."""
    from twin.app import open_store
    from twin.review import review_loop

    settings = _settings(ctx)
    done = review_loop(open_store(settings), settings.account, _ReviewUI(_tz(settings)), _now)
    typer.echo(", ".join(f"{n} {what}" for what, n in done.items()) + ".")


@app.command()
def chat(
    ctx: typer.Context, as_name: Annotated[str, typer.Option("--as", help="Who you pretend to be.")] = "Friend"
) -> None:
    """Talk to your twin in the terminal as a contact would; nothing is sent to Telegram.

    With --as naming a chat twin knows, its notes, persona and past exchanges are used too.
    """
    import asyncio

    from twin.app import make_responder, open_store
    from twin.chat import chat_loop

    settings = _settings(ctx)
    store = open_store(settings)
    responder = make_responder(settings, store=store)
    chat_id = store.resolve_chat(settings.account, as_name)
    asyncio.run(chat_loop(responder, as_name, sys.stdin, _console(), chat_id=chat_id))


@app.command()
def doctor(ctx: typer.Context) -> None:
    """Check config, keys, session, database and ffmpeg; say how to fix what is missing."""
    from twin.console import doctor_table
    from twin.doctor import run_checks

    checks = run_checks(_settings(ctx))
    _console().print(doctor_table(checks))
    if any(c.state == "fail" for c in checks):
        raise typer.Exit(1)


@persona_app.command("learn")
def persona_learn(
    ctx: typer.Context, dialogs: Annotated[int, typer.Option(min=1, help="At most this many chats.")] = 200,
    messages: Annotated[int, typer.Option(min=1, help="At most this many messages per chat.")] = 2000,
    pace: Annotated[float, typer.Option(min=0.0, help="Seconds between requests to Telegram.")] = 1.0,
    summarize: Annotated[bool, typer.Option(help="Also let the model describe your style (sends a sample).")] = False,
) -> None:
    """Read your private chats (paced, resumable) and learn how you write; nothing leaves this machine."""
    import asyncio

    from rich.progress import Progress

    from twin.persona.ops import learn_style

    with Progress(transient=True) as progress:
        task = progress.add_task("reading chats", total=None)

        def tick(p: Any) -> None:
            waiting = f" (FloodWait {p.waiting_s:.0f} s)" if p.waiting_s else ""
            progress.update(task, total=p.total, completed=p.index, description=f"{p.title[:24]}{waiting}")

        report, path = asyncio.run(learn_style(_settings(ctx), max_dialogs=dialogs, max_messages=messages,
                                               pace_s=pace, on_progress=tick, summarize=summarize))
    typer.echo(f"Read {report.messages} new messages in {report.read} chats ({report.dialogs} listed): "
               f"{report.owner_messages} of yours, {report.exchanges} exchanges. Profile: {path}")


@persona_app.command("show")
def persona_show(ctx: typer.Context, chat: Annotated[int | None, typer.Option(help="A chat's own style.")] = None
                 ) -> None:
    """The persona, your learned style in short sentences, and the notes per chat."""
    from twin.console import persona_view
    from twin.persona.ops import show as show_persona

    _print(persona_view(show_persona(_settings(ctx), chat)))


@persona_app.command("note")
def persona_note(
    ctx: typer.Context, chat: Annotated[str, typer.Argument(help="Chat id, @username or name.")],
    text: Annotated[str | None, typer.Argument(help='e.g. "my mother; informal; Russian"')] = None,
    persona: Annotated[str | None, typer.Option("--persona", help="Answer this chat as persona.NAME.toml.")] = None,
) -> None:
    """Note something about a chat for the twin, and/or choose which persona answers it."""
    from twin.persona.ops import note

    chat_id = note(_settings(ctx), chat, text, persona)
    typer.echo(f"Chat {chat_id} updated.")


@app.command("eval")
def evaluate(
    ctx: typer.Context, compare: Annotated[bool, typer.Option("--compare", help="Stored runs, newest first.")] = False,
    guard: Annotated[bool, typer.Option("--guard", help="Run the guard corpus instead.")] = False,
    held_out: Annotated[int | None, typer.Option(min=1, help="Recent exchanges to replay.")] = None,
    label: Annotated[str, typer.Option(help="A name for this run.")] = "",
) -> None:
    """Score the twin against your real replies (held out, never used as examples); or check the guard."""
    import asyncio

    from twin.console import compare_view, eval_view, guard_view
    from twin.persona import ops

    settings = _settings(ctx)
    if compare:
        _print(compare_view(ops.compare(settings), _tz(settings)))
    elif guard:
        report = asyncio.run(ops.guard(settings))
        _print(guard_view(report))
        if report.broken:
            raise typer.Exit(1)
    else:
        result = asyncio.run(ops.evaluate(settings, held_out=held_out, label=label))
        if not result.cases:
            raise TwinError("nothing to replay: run `twin persona learn` first")
        _print(eval_view(result))


@sandbox_app.command("say")
def sandbox_say(
    ctx: typer.Context, text: str,
    sender: Annotated[str, typer.Option("--from", help="The contact's name.")] = "Alice",
    owner: Annotated[bool, typer.Option("--owner", help="Write as the owner from another device.")] = False,
    to: Annotated[str | None, typer.Option(help="With --owner: the contact's chat (default: Saved Messages).")] = None,
) -> None:
    """Write to the twin as a sandbox contact (or, with --owner, as you from your phone)."""
    from twin.app import sandbox_world

    world = sandbox_world(_settings(ctx))
    event = world.owner_says(text, to=to) if owner else world.say(sender, text)
    who = f"owner -> {to or 'Saved Messages'}" if owner else f"{sender} -> owner"
    typer.echo(f"{who}: message {event['id']}")


@sandbox_app.command("log")
def sandbox_log(ctx: typer.Context, limit: Annotated[int, typer.Option(min=1)] = 30) -> None:
    """The sandbox conversation, as the contacts see it."""
    from twin.app import sandbox_world

    names = {"in": None, "out": "twin", "own": "you"}
    for event in sandbox_world(_settings(ctx)).events()[-limit:]:
        if event["dir"] not in names:
            continue  # a re-send Telegram dropped as a duplicate
        who = names[event["dir"]] or event.get("name", "")
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
