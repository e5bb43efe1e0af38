"""Engines for the platform: a SQLite path or a SQLAlchemy URL (PostgreSQL via psycopg 3).

A SQLite database holds every citizen and photo: it is created 0600 (a missing folder 0700)
before SQLite opens it, so its -wal and -shm, which SQLite creates with the database's mode,
are 0600 too; an existing database (and -wal/-shm) left 0644 by an older version is tightened.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from kiosk.backend.platform.models import Base
from kiosk.files import private_file

log = logging.getLogger(__name__)

# columns added since the first schema: (table, column, DDL type); all nullable
_ADDED_COLUMNS = (("holder_sessions", "kiosk_id", "VARCHAR(64)"),
                  ("applications", "session_ref", "VARCHAR(64)"),
                  ("appointments", "session_ref", "VARCHAR(64)"))


def database_url(db: str) -> str:
    """``db`` as a SQLAlchemy URL: a plain path means SQLite; ``postgresql://`` uses psycopg."""
    if db.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + db.split("://", 1)[1]
    if "://" in db:
        return db
    return f"sqlite:///{db}"


def make_engine(db: str, create: bool = True) -> Engine:
    """An engine for ``db``; creates the SQLite file's folder and the tables if asked."""
    url = database_url(db)
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        path = make_url(url).database
        if path and path != ":memory:" and not path.startswith("file:"):
            _private_database(Path(path))
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    else:
        kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
    if create:
        Base.metadata.create_all(engine)
        upgrade(engine)
    return engine


def upgrade(engine: Engine) -> None:
    """Bring a database made by an older version up to the current tables (additive only:
    new nullable columns, the appointment slot uniqueness)."""
    tables = inspect(engine)
    with engine.begin() as conn:
        for table, column, ddl in _ADDED_COLUMNS:
            if column not in {c["name"] for c in tables.get_columns(table)}:
                conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {column} {ddl}"))
    names = {c["name"] for c in tables.get_unique_constraints("appointments")}
    names |= {i["name"] for i in tables.get_indexes("appointments")}
    if "uq_appointment_slot" not in names:
        try:
            with engine.begin() as conn:
                conn.execute(text("CREATE UNIQUE INDEX uq_appointment_slot "
                                  "ON appointments (counter, at)"))
        except IntegrityError:
            log.warning("appointments hold double-booked slots from an older version: "
                        "slot uniqueness is not enforced by this database")


def _private_database(path: Path) -> None:
    if not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    private_file(path)
    for suffix in ("-wal", "-shm", "-journal"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            private_file(side)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()
