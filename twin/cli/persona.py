"""Commands about the persona: chat with the twin, learn the owner's style, notes, eval."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from twin.cli import base
from twin.errors import TwinError


@base.app.command()
def chat(
    ctx: typer.Context, as_name: Annotated[str, typer.Option("--as", help="Who you pretend to be.")] = "Friend"
) -> None:
    """Talk to your twin in the terminal as a contact would; nothing is sent to Telegram.

    With --as naming a chat twin knows, its notes, persona and past exchanges are used too.
    """
    import asyncio

    from twin.engine.chat import chat_loop
    from twin.service.app import make_responder, open_store

    settings = base.settings(ctx)
    store = open_store(settings)
    responder = make_responder(settings, store=store)
    chat_id = store.resolve_chat(settings.account, as_name)
    asyncio.run(chat_loop(responder, as_name, sys.stdin, base.console(), chat_id=chat_id))


@base.persona_app.command("learn")
def persona_learn(
    ctx: typer.Context, dialogs: Annotated[int, typer.Option(min=1, help="At most this many chats.")] = 200,
    messages: Annotated[int, typer.Option(min=1, help="At most this many messages per chat.")] = 2000,
    pace: Annotated[float, typer.Option(min=0.0, help="Seconds between requests to Telegram.")] = 1.0,
    summarize: Annotated[bool, typer.Option(help="Also let the model describe your style (sends a sample).")] = False,
) -> None:
    """Read your private chats (paced, resumable) and learn how you write; nothing leaves this machine."""
    import asyncio

    from rich.progress import Progress

    from twin.service.persona_ops import learn_style

    with Progress(transient=True) as progress:
        task = progress.add_task("reading chats", total=None)

        def tick(p: Any) -> None:
            waiting = f" (FloodWait {p.waiting_s:.0f} s)" if p.waiting_s else ""
            progress.update(task, total=p.total, completed=p.index, description=f"{p.title[:24]}{waiting}")

        report, path = asyncio.run(learn_style(base.settings(ctx), max_dialogs=dialogs, max_messages=messages,
                                               pace_s=pace, on_progress=tick, summarize=summarize))
    typer.echo(f"Read {report.messages} new messages in {report.read} chats ({report.dialogs} listed): "
               f"{report.owner_messages} of yours, {report.exchanges} exchanges. Profile: {path}")


@base.persona_app.command("show")
def persona_show(ctx: typer.Context, chat: Annotated[int | None, typer.Option(help="A chat's own style.")] = None
                 ) -> None:
    """The persona, your learned style in short sentences, and the notes per chat."""
    from twin.cli.render.persona import persona_view
    from twin.service.persona_ops import show as show_persona

    base.paged(persona_view(show_persona(base.settings(ctx), chat)))


@base.persona_app.command("note")
def persona_note(
    ctx: typer.Context, chat: Annotated[str, typer.Argument(help="Chat id, @username or name.")],
    text: Annotated[str | None, typer.Argument(help='e.g. "my mother; informal; Russian"')] = None,
    persona: Annotated[str | None, typer.Option("--persona", help="Answer this chat as persona.NAME.toml.")] = None,
) -> None:
    """Note something about a chat for the twin, and/or choose which persona answers it."""
    from twin.service.persona_ops import note

    chat_id = note(base.settings(ctx), chat, text, persona)
    typer.echo(f"Chat {chat_id} updated.")


@base.app.command("eval")
def evaluate(
    ctx: typer.Context, compare: Annotated[bool, typer.Option("--compare", help="Stored runs, newest first.")] = False,
    guard: Annotated[bool, typer.Option("--guard", help="Run the guard corpus instead.")] = False,
    choices: Annotated[bool, typer.Option("--choices", help="Reply, react or nothing? Score the choice corpus.")
                       ] = False,
    corpus: Annotated[Path | None, typer.Option(help="A corpus file for --choices / --guard.")] = None,
    held_out: Annotated[int | None, typer.Option(min=1, help="Recent exchanges to replay.")] = None,
    label: Annotated[str, typer.Option(help="A name for this run.")] = "",
) -> None:
    """Score the twin against your real replies (held out, never used as examples); or check the guard."""
    import asyncio

    from twin.cli.render.persona import choice_view, compare_view, eval_view, guard_view
    from twin.service import persona_ops as ops

    settings = base.settings(ctx)
    if compare:
        base.paged(compare_view(ops.compare(settings), base.tz(settings)))
    elif choices:
        base.paged(choice_view(asyncio.run(ops.choices(settings, corpus))))
    elif guard:
        report = asyncio.run(ops.guard(settings, corpus))
        base.paged(guard_view(report))
        if report.broken:
            raise typer.Exit(1)
    else:
        result = asyncio.run(ops.evaluate(settings, held_out=held_out, label=label))
        if not result.cases:
            raise TwinError("nothing to replay: run `twin persona learn` first")
        base.paged(eval_view(result))
