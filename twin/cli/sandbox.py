"""Commands of the local Telegram stand-in: write as a contact, read the conversation."""

from __future__ import annotations

from typing import Annotated

import typer

from twin.cli import base


@base.sandbox_app.command("say")
def sandbox_say(
    ctx: typer.Context, text: Annotated[str, typer.Argument(help="What the contact writes.")] = "",
    sender: Annotated[str, typer.Option("--from", help="The contact's name.")] = "Alice",
    owner: Annotated[bool, typer.Option("--owner", help="Write as the owner from another device.")] = False,
    to: Annotated[str | None, typer.Option(help="With --owner: the contact's chat (default: Saved Messages).")] = None,
    edit: Annotated[int | None, typer.Option("--edit", metavar="ID", help="Edit the contact's message ID to TEXT.")]
    = None,
    delete: Annotated[int | None, typer.Option("--delete", metavar="ID", help="Delete the contact's message ID.")]
    = None,
    typing: Annotated[bool, typer.Option("--typing", help="Show the contact typing (the twin waits for them).")]
    = False,
) -> None:
    """Write to the twin as a sandbox contact (or, with --owner, as you from your phone)."""
    from twin.errors import TelegramError
    from twin.service.app import sandbox_world

    world = sandbox_world(base.settings(ctx))
    if edit is not None or delete is not None or typing:
        try:
            if edit is not None:
                event, what = world.edit(edit, text), f"edited message {edit}"
            elif delete is not None:
                event, what = world.delete(delete), f"deleted message {delete}"
            else:
                event, what = world.typing(sender), "is typing"
        except TelegramError as exc:
            raise typer.BadParameter(str(exc)) from None
        typer.echo(f"{sender} {what} (event {event['id']})")
        return
    if not text.strip():
        raise typer.BadParameter("say what? give the message text")
    event = world.owner_says(text, to=to) if owner else world.say(sender, text)
    who = f"owner -> {to or 'Saved Messages'}" if owner else f"{sender} -> owner"
    typer.echo(f"{who}: message {event['id']}")


@base.sandbox_app.command("log")
def sandbox_log(ctx: typer.Context, limit: Annotated[int, typer.Option(min=1)] = 30) -> None:
    """The sandbox conversation, as the contacts see it."""
    from twin.service.app import sandbox_world

    names = {"in": None, "out": "twin", "own": "you", "react": "twin", "edit": None, "delete": None}
    for event in sandbox_world(base.settings(ctx)).events()[-limit:]:
        if event["dir"] not in names:
            continue  # a re-send Telegram dropped as a duplicate, or typing
        who = names[event["dir"]] or event.get("name") or "contact"
        body = _change_line(event) or event.get("text") or f"[voice {event.get('voice_s', 0)} s]"
        if event.get("reply_to"):
            body = f"(replying to #{event['reply_to']}) {body}"
        typer.echo(f"{event['id']:>5} {event['chat']:>7} {who:>10}: {body}")


def _change_line(event: dict[str, object]) -> str:
    """How a reaction, an edit or a deletion reads in the log ("" for a message)."""
    if event["dir"] == "react":
        return f"Owner reacted {event.get('emoji')} to #{event.get('to')}"
    if event["dir"] == "edit":
        return f"edited #{event.get('to')}: {event.get('text')}"
    if event["dir"] == "delete":
        ids = event.get("ids")
        return "deleted " + ", ".join(f"#{i}" for i in (ids if isinstance(ids, list) else []))
    return ""
