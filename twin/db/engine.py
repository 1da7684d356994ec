"""Opening the database: the SQLAlchemy engine (SQLite tuned for one writer and many readers), the
applied schema version, and the Alembic upgrade (imported only when a migration is due)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa

from twin.errors import StoreError

MIGRATIONS = Path(__file__).with_name("migrations")


def _on_connect(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def open_engine(url: str) -> sa.Engine:
    """An engine for the URL (a SQLite file's folder is made); StoreError for a bad URL or a missing driver."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    try:
        engine = sa.create_engine(url)
    except Exception as exc:  # bad URL, missing driver
        raise StoreError(f"cannot open the database: {exc.__class__.__name__}: {exc}") from None
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _on_connect)
    return engine


def schema_version(engine: sa.Engine) -> str | None:
    """The applied migration, or None for an empty database (one query when there is a schema)."""
    try:
        with engine.connect() as conn:
            try:
                return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
            except sa.exc.DBAPIError:
                conn.rollback()
                if sa.inspect(conn).has_table("alembic_version"):
                    raise
                return None
    except sa.exc.OperationalError as exc:
        raise StoreError(f"cannot open the database: {exc.orig}") from None


def upgrade(engine: sa.Engine) -> None:
    """Apply every migration not applied yet (Alembic is imported here only)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # Daemons of several accounts may start together on one database: one migrates.
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(727465)"))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
