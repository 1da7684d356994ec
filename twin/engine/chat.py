"""`twin chat`: the daemon's persona, prompt and model, talked to in the terminal."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TextIO

from twin.engine.responder import Responder
from twin.errors import ProviderError
from twin.types import HistoryMessage


async def chat_loop(responder: Responder, contact: str, stream: TextIO, console: Any,
                    chat_id: int | None = None) -> int:
    """Read lines as the contact, print the twin's answers; returns the number of exchanges."""
    llm = responder.llm
    console.print(f"[bold]Talking to {responder.persona.name}'s twin[/] ({llm.provider} {llm.model}) as {contact}."
                  " Nothing is sent to Telegram. Ctrl+D ends.")
    history: list[HistoryMessage] = []
    exchanges = 0
    interactive = stream.isatty()
    while True:
        if interactive:
            console.print("[cyan]you>[/] ", end="")
        line = stream.readline()
        if not line:
            break
        text = line.strip()
        if not text:
            continue
        now = datetime.now(UTC)
        try:
            draft = await responder.draft(history, text, contact=contact, chat_id=chat_id)
        except ProviderError as exc:
            console.print(f"[red]model failed:[/] {exc}")
            continue
        history.append(HistoryMessage(len(history) + 1, now, False, text))
        exchanges += 1
        if draft.text is None:
            console.print(f"[dim](the twin stays silent: {draft.reason})[/]")
            continue
        if draft.status == "needs_owner":
            console.print(f"[yellow](flagged for you: {draft.reason})[/]")
        console.print(f"[green]{responder.persona.name}>[/] {draft.text}")
        history.append(HistoryMessage(len(history) + 1, now, True, draft.text))
    return exchanges
