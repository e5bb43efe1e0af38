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
                  ("appointments", "session_ref", "VARCHAR(64)"),
                  ("appointments", "hall_id", "VARCHAR(40)"),
                  ("appointments", "window_no", "INTEGER"),
                  ("appointments", "kiosk_id", "VARCHAR(64)"),
                  ("appointments", "idempotency_key", "VARCHAR(64)"),
                  ("appointments", "request_hash", "VARCHAR(64)"),
                  ("appointments", "check_code", "VARCHAR(16)"),
                  ("appointments", "booked_at", "TIMESTAMP"),
                  ("appointments", "cancelled_at", "TIMESTAMP"))
_OLD_SLOT = "uq_appointment_slot"  # every appointment, cancelled or not (before halls)
_OPEN_SLOT = ("uq_appointment_open_slot",
              "CREATE UNIQUE INDEX uq_appointment_open_slot ON appointments (counter, at) "
              "WHERE cancelled_at IS NULL")
_REQUEST = ("uq_appointment_request",
            "CREATE UNIQUE INDEX uq_appointment_request ON appointments "
            "(kiosk_id, idempotency_key)")
_SET_ASIDE = "appointments_pre_halls"  # the old table while SQLite's copy is under way


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
    """Bring a database made by an older version up to the current tables (additive: new
    nullable columns, the unique open slot, the unique booking request). The old rule that a
    slot is unique even when cancelled is replaced; SQLite cannot drop a table's constraint,
    so there the table is copied into the current one (resumed on the next start if cut)."""
    _resume_copy(engine)
    tables = inspect(engine)
    with engine.begin() as conn:
        for table, column, ddl in _ADDED_COLUMNS:
            if column not in {c["name"] for c in tables.get_columns(table)}:
                conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {column} {ddl}"))
    tables = inspect(engine)
    constraints = {c["name"] for c in tables.get_unique_constraints("appointments")}
    indexes = {i["name"] for i in tables.get_indexes("appointments")}
    if _OLD_SLOT in constraints and engine.dialect.name == "sqlite":
        _copy_table(engine)
        return
    for name, ddl in (_OPEN_SLOT, _REQUEST):
        if name in indexes:
            continue
        try:
            with engine.begin() as conn:
                conn.execute(text(ddl))
        except IntegrityError:
            log.warning("appointments hold double-booked slots from an older version: "
                        "slot uniqueness is not enforced by this database")
    with engine.begin() as conn:
        if _OLD_SLOT in constraints:
            conn.execute(text(f"ALTER TABLE appointments DROP CONSTRAINT {_OLD_SLOT}"))
        elif _OLD_SLOT in indexes:
            conn.execute(text(f"DROP INDEX {_OLD_SLOT}"))


def _copy_table(engine: Engine) -> None:
    """SQLite: set the old appointments table aside, create the current one, copy."""
    with engine.begin() as conn:
        conn.execute(text(f"ALTER TABLE appointments RENAME TO {_SET_ASIDE}"))
        for index in inspect(conn).get_indexes(_SET_ASIDE):
            conn.execute(text(f'DROP INDEX "{index["name"]}"'))
    _resume_copy(engine)


def _resume_copy(engine: Engine) -> None:
    """Finish a copy of the set-aside appointments table (one transaction: copy and drop)."""
    if not inspect(engine).has_table(_SET_ASIDE):
        return
    table = Base.metadata.tables["appointments"]
    with engine.begin() as conn:
        table.create(conn, checkfirst=True)
        old = {c["name"] for c in inspect(conn).get_columns(_SET_ASIDE)}
        columns = ", ".join(c.name for c in table.columns if c.name in old)  # the model's
        copy = f"INSERT INTO appointments ({columns}) SELECT {columns} FROM {_SET_ASIDE}"  # noqa: S608
        conn.execute(text(copy))
        conn.execute(text(f"DROP TABLE {_SET_ASIDE}"))
    log.info("appointments table brought to the current schema")


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
