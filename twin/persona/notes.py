"""The owner's notes about chats (`twin persona note`) and which persona answers each chat."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from twin.db.store import Store
from twin.db.tables import ChatNoteRow
from twin.persona.profile import Persona


@dataclass(frozen=True, slots=True)
class ChatNote:
    """A chat's stored note and assigned persona (None: the default persona)."""

    chat_id: int
    note: str
    persona: str | None


def set_note(store: Store, account: str, chat_id: int, note: str, *, now: datetime) -> None:
    """Replace the owner's note about a chat (an empty note clears it)."""
    with store.session() as s, s.begin():
        row = s.get(ChatNoteRow, (account, chat_id))
        if row is None:
            row = ChatNoteRow(account=account, chat_id=chat_id, persona=None)
            s.add(row)
        row.note = note.strip()
        row.updated_at = now


def assign_persona(store: Store, account: str, chat_id: int, persona: str | None, *, now: datetime) -> None:
    """Make a named persona (e.g. "work") answer this chat; None goes back to the default."""
    with store.session() as s, s.begin():
        row = s.get(ChatNoteRow, (account, chat_id))
        if row is None:
            row = ChatNoteRow(account=account, chat_id=chat_id, note="")
            s.add(row)
        row.persona = persona or None
        row.updated_at = now


def chat_note(store: Store, account: str, chat_id: int) -> ChatNote | None:
    """The stored note and persona of a chat, or None."""
    with store.session() as s:
        row = s.get(ChatNoteRow, (account, chat_id))
    return None if row is None else ChatNote(row.chat_id, row.note, row.persona)


def all_notes(store: Store, account: str) -> list[ChatNote]:
    """Every chat with a note or an assigned persona (for `twin persona show`)."""
    with store.session() as s:
        rows = s.scalars(sa.select(ChatNoteRow).where(ChatNoteRow.account == account).order_by(ChatNoteRow.chat_id))
        return [ChatNote(r.chat_id, r.note, r.persona) for r in rows]


def chat_persona(store: Store, account: str, persona: Persona, chat_id: int) -> str | None:
    """The persona assigned to a chat: the stored assignment, else the persona file's [chats] entry."""
    stored = chat_note(store, account, chat_id)
    if stored is not None and stored.persona:
        return stored.persona
    entry = persona.chats.get(str(chat_id))
    if isinstance(entry, Mapping) and isinstance(entry.get("persona"), str):
        return str(entry["persona"])
    return None


def notes_for(persona: Persona, chat_id: int, stored: ChatNote | None = None) -> list[str]:
    """A chat's notes for the prompt: the persona file's [chats."ID"] note(s), then the stored note."""
    notes: list[str] = []
    entry = persona.chats.get(str(chat_id))
    if isinstance(entry, str):
        notes.append(entry)
    elif isinstance(entry, Mapping):
        for key in ("note", "notes"):
            value = entry.get(key)
            if isinstance(value, str):
                notes.append(value)
            elif isinstance(value, list):
                notes.extend(str(v) for v in value)
    if stored is not None and stored.note:
        notes.append(stored.note)
    return [n.strip() for n in notes if n.strip()]
