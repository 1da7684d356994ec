"""Commands that read what the twin did: history, show, stats, export, forget."""

from __future__ import annotations

import json
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated

import typer

from twin.cli import base
from twin.cli.base import AsJson
from twin.errors import TwinError


@base.app.command()
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
    from twin.db.search import history_page

    settings = base.settings(ctx)
    tz = base.tz(settings)
    turns, more = history_page(settings, tz, base.now(), chat=chat, since=since, until=until, statuses=status,
                               voice=voice, text=search, limit=limit, page=page)
    if as_json:
        for turn in reversed(turns):
            typer.echo(base.json_line(turn))
    elif as_csv:
        from twin.db.export import write_csv

        write_csv(reversed(turns), sys.stdout)
    else:
        from twin.cli.render.turns import history_table

        base.paged(history_table(turns, tz, page=page, more=more), rows=len(turns))


@base.app.command()
def show(ctx: typer.Context, turn_id: Annotated[int, typer.Argument(metavar="ID")], as_json: AsJson = False) -> None:
    """One turn whole: messages, reply, each step's time, reason, model, tokens, context and examples."""
    from twin.db.reader import reading
    from twin.db.search import get_turn

    settings = base.settings(ctx)
    with reading(settings.database_url) as reader:
        turn = get_turn(reader, settings.account, turn_id)
    if turn is None:
        raise TwinError(f"no turn {turn_id} for account '{settings.account}'")
    if as_json:
        typer.echo(base.json_line(turn))
    else:
        from twin.cli.render.turns import turn_detail

        base.console().print(turn_detail(turn, base.tz(settings)))


@base.app.command()
def stats(ctx: typer.Context,
          since: Annotated[str, typer.Option(help="30d, 2026-11-01, yesterday ... or 'all'.")] = "30d",
          until: Annotated[str | None, typer.Option(help="Same forms as --since (default: now).")] = None,
          as_json: Annotated[bool, typer.Option("--json", help="JSON, stable keys.")] = False) -> None:
    """Replies per day and chat, skips by reason, reply delay, voice share, tokens and estimated cost."""
    from twin.db.reader import reading
    from twin.db.stats import compute_stats
    from twin.timeparse import parse_when

    settings, now = base.settings(ctx), base.now()
    tz = base.tz(settings)
    start = None if since == "all" else parse_when(since, now, tz)
    end = parse_when(until, now, tz) if until else None
    with reading(settings.database_url) as reader:
        result = compute_stats(reader, settings.account, since=start, until=end, now=now, tz=tz)
    if as_json:
        typer.echo(json.dumps(result.as_json(), ensure_ascii=False))
    else:
        from twin.cli.render.stats import stats_view

        base.paged(stats_view(result, tz), rows=len(result.per_day) + 40)


@base.app.command()
def export(ctx: typer.Context, out: Annotated[Path | None, typer.Option("--out", "-o", help="A file.")] = None
           ) -> None:
    """Every turn of the account as JSON Lines (to stdout, or --out FILE)."""
    from twin.db.export import all_turns, write_jsonl
    from twin.db.reader import reading

    settings = base.settings(ctx)
    with reading(settings.database_url) as reader, open(out, "w", encoding="utf-8") if out else \
            nullcontext(sys.stdout) as fh:
        count = write_jsonl(all_turns(reader, settings.account), fh)
    if out:
        typer.echo(f"{count} turns written to {out}")


@base.app.command()
def forget(ctx: typer.Context, chat: Annotated[str, typer.Argument(help="Chat id, @username or name.")],
           yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False) -> None:
    """Delete everything stored for one chat: turns, messages, learned examples, its settings."""
    from twin.db.export import forget as forget_chat
    from twin.db.export import forget_counts
    from twin.db.search import find_chat
    from twin.service.app import open_store

    settings = base.settings(ctx)
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
