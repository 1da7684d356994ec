"""Commands of the local Telegram stand-in: write as a contact, read the conversation."""

from __future__ import annotations

from typing import Annotated

import typer

from twin.cli import base


@base.sandbox_app.command("say")
def sandbox_say(
    ctx: typer.Context, text: str,
    sender: Annotated[str, typer.Option("--from", help="The contact's name.")] = "Alice",
    owner: Annotated[bool, typer.Option("--owner", help="Write as the owner from another device.")] = False,
    to: Annotated[str | None, typer.Option(help="With --owner: the contact's chat (default: Saved Messages).")] = None,
) -> None:
    """Write to the twin as a sandbox contact (or, with --owner, as you from your phone)."""
    from twin.service.app import sandbox_world

    world = sandbox_world(base.settings(ctx))
    event = world.owner_says(text, to=to) if owner else world.say(sender, text)
    who = f"owner -> {to or 'Saved Messages'}" if owner else f"{sender} -> owner"
    typer.echo(f"{who}: message {event['id']}")


@base.sandbox_app.command("log")
def sandbox_log(ctx: typer.Context, limit: Annotated[int, typer.Option(min=1)] = 30) -> None:
    """The sandbox conversation, as the contacts see it."""
    from twin.service.app import sandbox_world

    names = {"in": None, "out": "twin", "own": "you"}  # the file knows who wrote; the twin does not
    for event in sandbox_world(base.settings(ctx)).events()[-limit:]:
        if event["dir"] not in names:
            continue  # a re-send Telegram dropped as a duplicate, a catch-up
        who = names[event["dir"]] or event.get("name", "")
        body = event.get("text") or f"[voice {event.get('voice_s', 0)} s]"
        typer.echo(f"{event['id']:>5} {event['chat']:>7} {who:>10}: {body}")


@base.sandbox_app.command("forget")
def sandbox_forget(ctx: typer.Context) -> None:
    """The sandbox server forgets the twin's session: nothing is pushed until the twin asks for the difference."""
    from twin.service.app import sandbox_world

    sandbox_world(base.settings(ctx)).forget()
    typer.echo("sandbox: session forgotten; updates wait until the twin catches up")


@base.sandbox_app.command("drop")
def sandbox_drop(
    ctx: typer.Context,
    seconds: Annotated[float, typer.Option("--for", min=0.0, help="How long the connection stays down.")] = 5.0,
) -> None:
    """Drop the twin's connection for a while (the server forgets the session too, as a restart does)."""
    from twin.service.app import sandbox_world

    sandbox_world(base.settings(ctx)).drop(seconds)
    typer.echo(f"sandbox: connection down for {seconds:g} s")
