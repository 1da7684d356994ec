"""Alembic environment: runs on the connection the Store hands over."""

from typing import Any

from alembic import context

from twin.db.tables import Base

connection = context.config.attributes["connection"]


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Full-text search objects are made by raw DDL at open (FTS5 / tsvector), not by models."""
    if name and (name.endswith("_fts") or "_fts_" in name or name in ("contact_tsv", "turn_stats_days")):
        return False
    return True


context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True,
                  include_object=include_object)
with context.begin_transaction():
    context.run_migrations()
