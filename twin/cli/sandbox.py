"""Commands of the local Telegram stand-in: write as a contact, read the conversation."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from twin.cli import base
from twin.errors import TwinError

MAX_PHOTO_BYTES = 50_000_000


@base.sandbox_app.command("say")
def sandbox_say(
    ctx: typer.Context,
    text: Annotated[str, typer.Argument(help="The message (a caption with --photo).")] = "",
    sender: Annotated[str, typer.Option("--from", help="The contact's name.")] = "Alice",
    owner: Annotated[bool, typer.Option("--owner", help="Write as the owner from another device.")] = False,
    to: Annotated[str | None, typer.Option(help="With --owner: the contact's chat (default: Saved Messages).")] = None,
    photo: Annotated[Path | None, typer.Option("--photo", help="Send this image file as a photo.")] = None,
    sticker: Annotated[str | None, typer.Option("--sticker", help="Send a sticker with this emoji.")] = None,
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

    if edit is not None or delete is not None or typing:
        world = sandbox_world(base.settings(ctx))
        try:
            if edit is not None:
                event, what = world.edit(edit, text), f"edited message {edit}"
            elif delete is not None:
                event, what = world.delete(delete), f"deleted message {delete}"
            else:
                event, what = world.typing(sender), "is typing"
        except TelegramError as exc:
            raise TwinError(str(exc)) from None
        typer.echo(f"{sender} {what} (event {event['id']})")
        return
    if photo is not None and sticker is not None:
        raise TwinError("send either --photo or --sticker, not both")
    if owner and (photo is not None or sticker is not None):
        raise TwinError("--photo and --sticker are for contacts (leave out --owner)")
    if not text.strip() and photo is None and not sticker:
        raise TwinError("nothing to say: give a text, --photo FILE or --sticker EMOJI")
    world = sandbox_world(base.settings(ctx))
    media: dict[str, Any] | None = None
    if photo is not None:
        media = world.store_photo(_read_photo(photo), photo.name)
    elif sticker:
        media = world.sticker(sticker)
    event = world.owner_says(text, to=to) if owner else world.say(sender, text, media=media)
    who = f"owner -> {to or 'Saved Messages'}" if owner else f"{sender} -> owner"
    what = f" ({media['label']})" if media else ""
    typer.echo(f"{who}: message {event['id']}{what}")


def _read_photo(path: Path) -> bytes:
    """The photo file's bytes; a missing, empty or huge file is one clear error line."""
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise TwinError(f"--photo {path}: not a file")
        if size == 0 or size > MAX_PHOTO_BYTES:
            raise TwinError(f"--photo {path}: {size} bytes (an image of 1 byte to {MAX_PHOTO_BYTES // 10**6} MB)")
        return path.read_bytes()
    except OSError as exc:
        raise TwinError(f"--photo {path}: {exc.strerror or exc}") from None


@base.sandbox_app.command("log")
def sandbox_log(ctx: typer.Context, limit: Annotated[int, typer.Option(min=1)] = 30) -> None:
    """The sandbox conversation, as the contacts see it."""
    from twin.service.app import sandbox_world

    # The file knows who wrote; the twin does not.
    names = {"in": None, "out": "twin", "own": "you", "react": "twin", "edit": None, "delete": None}
    for event in sandbox_world(base.settings(ctx)).events()[-limit:]:
        if event["dir"] not in names:
            continue  # a re-send Telegram dropped as a duplicate, typing, a catch-up
        who = names[event["dir"]] or event.get("name") or "contact"
        media = event.get("media")
        label = f"[{media.get('label') or media.get('kind')}]" if isinstance(media, dict) else ""
        body = _change_line(event) or " ".join(x for x in (label, event.get("text", "")) if x) \
            or f"[voice {event.get('voice_s', 0)} s]"
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
