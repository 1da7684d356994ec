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
    """Apply every migration not applied yet, all or nothing (Alembic is imported here only).

    One transaction holds every migration and the version row, so a process killed mid-migration
    leaves the schema as it was, never half made. PostgreSQL runs DDL in transactions as it is;
    Python's sqlite3 does not (it opens a transaction only before INSERT/UPDATE/DELETE, so each
    CREATE TABLE commits by itself), hence the explicit BEGIN IMMEDIATE on a connection whose
    implicit transaction handling is off for the duration. IMMEDIATE also keeps a second process
    from migrating at the same time.
    """
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.connect() as conn:
        raw = conn.connection.driver_connection if engine.dialect.name == "sqlite" else None
        if raw is not None:
            raw.isolation_level = None
        try:
            with conn.begin():
                if raw is not None:
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                elif engine.dialect.name == "postgresql":
                    # Daemons of several accounts may start together on one database: one migrates.
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(727465)"))
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        finally:
            if raw is not None:
                raw.isolation_level = ""  # back to sqlite3's default
