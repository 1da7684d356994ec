"""Commands that steer the twin: modes, pauses, and reviewing drafts."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from twin.cli import base
from twin.cli.base import ChatArg
from twin.config import Settings
from twin.errors import TwinError


@base.app.command()
def mode(ctx: typer.Context, words: Annotated[list[str] | None, typer.Argument(
        metavar="[CHAT] [auto|review|off|inherit]", help="No CHAT: the whole account. No mode: show modes.")] = None
         ) -> None:
    """Show or set the mode: auto (send), review (drafts wait for `twin review`), off (record only)."""
    from twin.engine.steer import INHERIT, MODES, set_mode

    settings, words = base.settings(ctx), words or []
    if not words or words[-1].lower() not in (*MODES, INHERIT):
        if words:
            raise TwinError(f"'{words[-1]}' is not a mode (auto, review, off, inherit)")
        return _show_steering(settings)
    from twin.db.search import find_chat
    from twin.service.app import open_store

    chat_id = find_chat(settings, " ".join(words[:-1])) if len(words) > 1 else None
    set_mode(open_store(settings), settings.account, chat_id, words[-1].lower())
    typer.echo(f"Mode of {f'chat {chat_id}' if chat_id else 'the account'}: {words[-1].lower()}.")


def _show_steering(settings: Settings) -> None:
    from twin.cli.render.status import chat_settings_table
    from twin.service.status import status_report

    report = status_report(settings, base.now())
    typer.echo(f"Account mode: {report['mode']} ({report['mode_source']}).")
    rows = [(str(c["chat"] or c["chat_id"]), str(c["mode"]), "") for c in report["chat_modes"]]
    rows += [(str(p["chat"] or p["chat_id"]), "", f"until {p['until'] or 'resumed'}") for p in report["pauses"]]
    if rows:
        base.console().print(chat_settings_table(rows))


@base.app.command()
def pause(ctx: typer.Context, chat: ChatArg = None,
          for_: Annotated[str | None, typer.Option("--for", help="30m, 2h, 3d; default: until resumed.")] = None
          ) -> None:
    """Pause replies in one chat, or in every chat."""
    from twin.db.search import find_chat
    from twin.engine.steer import describe_until
    from twin.engine.steer import pause as pause_chat
    from twin.service.app import open_store
    from twin.timeparse import parse_duration

    settings, now = base.settings(ctx), base.now()
    chat_id = find_chat(settings, chat) if chat else None
    end = pause_chat(open_store(settings), settings.account, chat_id, now + parse_duration(for_) if for_ else None)
    typer.echo(f"Paused {f'chat {chat_id}' if chat_id else 'every chat'} {describe_until(end, now)}.")


@base.app.command()
def resume(ctx: typer.Context, chat: ChatArg = None) -> None:
    """End a pause (of one chat, or the account-wide one); also ends an owner-takeover pause."""
    from twin.db.search import find_chat
    from twin.engine.steer import resume as resume_chat
    from twin.service.app import open_store

    settings = base.settings(ctx)
    chat_id = find_chat(settings, chat) if chat else None
    was = resume_chat(open_store(settings), settings.account, chat_id, base.now())
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
        from twin.engine.review import edit_in_editor

        if sys.stdin.isatty():
            return edit_in_editor(text)
        return self.ask("New text")

    def say(self, text: str) -> None:
        typer.echo(text)

    def show(self, turn: Any, position: int, total: int) -> None:
        from twin.cli.render.turns import review_card

        base.console().print(review_card(turn, position, total, self.tz))


@base.app.command()
def review(ctx: typer.Context) -> None:
    """Go through drafts waiting for you: send as is, edit then send, regenerate, or skip."""
    from twin.engine.review import review_loop
    from twin.service.app import open_store

    settings = base.settings(ctx)
    done = review_loop(open_store(settings), settings.account, _ReviewUI(base.tz(settings)), base.now)
    typer.echo(", ".join(f"{n} {what}" for what, n in done.items()) + ".")
