"""Issue 17: a database made before halls keeps its appointments, and a cancelled appointment
gives its window back (the old rule kept every counter and time unique, cancelled or not)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import IntegrityError

from kiosk.backend.platform.db import make_engine
from tests.kiosk.backend.conftest import fresh_database
from tests.kiosk.backend.pg import PgCluster

# the appointments table as the version before halls created it
BEFORE_HALLS = """CREATE TABLE appointments (
    id INTEGER NOT NULL, appointment_no VARCHAR(32), matter_id VARCHAR(64) NOT NULL,
    holder_id VARCHAR(32) NOT NULL, session_ref VARCHAR(64), counter VARCHAR(60) NOT NULL,
    at TIMESTAMP NOT NULL, PRIMARY KEY (id),
    CONSTRAINT uq_appointment_slot UNIQUE (counter, at), UNIQUE (appointment_no),
    FOREIGN KEY(matter_id) REFERENCES matters (id),
    FOREIGN KEY(holder_id) REFERENCES holders (id))"""
SLOT = "'南海区行政服务中心 1号窗口', '2026-06-02 01:00:00'"


def old_database(db: str) -> None:
    engine = make_engine(db)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE appointments"))
        conn.execute(text(BEFORE_HALLS))
        conn.execute(text("CREATE INDEX ix_appointments_holder_id ON appointments (holder_id)"))
        conn.execute(text("INSERT INTO holders (id, kind, name, code, code_type, data) "
                          "VALUES ('h1', 'natural', 'x', 'c1', 't', '{}')"))
        conn.execute(text("INSERT INTO matters (id, position, definition, rules, result_title)"
                          " VALUES ('m1', 1, '{}', '[]', '{}')"))
        conn.execute(text("INSERT INTO appointments (id, appointment_no, matter_id, holder_id, "
                          f"session_ref, counter, at) VALUES (7, 'YY20260602123456', 'm1', "
                          f"'h1', 's1', {SLOT})"))
    engine.dispose()


def check_upgraded(engine: Engine) -> None:
    tables = inspect(engine)
    columns = {c["name"] for c in tables.get_columns("appointments")}
    assert {"hall_id", "window_no", "kiosk_id", "idempotency_key", "check_code",
            "cancelled_at"} <= columns
    assert "uq_appointment_slot" not in {c["name"] for c in
                                         tables.get_unique_constraints("appointments")}
    assert {"uq_appointment_open_slot", "uq_appointment_request",
            "ix_appointments_holder_id"} <= {i["name"] for i in tables.get_indexes("appointments")}
    with engine.begin() as conn:  # the old appointment is kept
        kept = conn.execute(text("SELECT appointment_no, session_ref FROM appointments "
                                 "WHERE id = 7")).one()
    assert tuple(kept) == ("YY20260602123456", "s1")
    with pytest.raises(IntegrityError) as err, engine.begin() as conn:  # an open slot: unique
        conn.execute(text("INSERT INTO appointments (id, matter_id, holder_id, counter, at) "
                          f"VALUES (8, 'm1', 'h1', {SLOT})"))
    assert "unique" in str(err.value).lower()
    with engine.begin() as conn:  # cancelled, it gives the window back
        conn.execute(text("UPDATE appointments SET cancelled_at = '2026-06-01 02:00:00' "
                          "WHERE id = 7"))
        conn.execute(text("INSERT INTO appointments (id, matter_id, holder_id, counter, at) "
                          f"VALUES (9, 'm1', 'h1', {SLOT})"))


def test_sqlite_database_from_before_halls_is_copied_into_the_new_table(
        tmp_path: Path) -> None:
    db = str(tmp_path / "old.sqlite")
    old_database(db)
    engine = make_engine(db)
    try:
        check_upgraded(engine)
        assert not inspect(engine).has_table("appointments_pre_halls")
    finally:
        engine.dispose()
    make_engine(db).dispose()  # a second start changes nothing


def test_a_copy_cut_short_is_finished_at_the_next_start(tmp_path: Path) -> None:
    db = str(tmp_path / "old.sqlite")
    old_database(db)
    engine = make_engine(db, create=False)
    with engine.begin() as conn:  # where a power cut could leave it: set aside, not copied
        conn.execute(text("ALTER TABLE appointments RENAME TO appointments_pre_halls"))
        conn.execute(text("DROP INDEX ix_appointments_holder_id"))
    engine.dispose()
    engine = make_engine(db)
    try:
        check_upgraded(engine)
        assert not inspect(engine).has_table("appointments_pre_halls")
    finally:
        engine.dispose()


def test_postgresql_database_from_before_halls_drops_the_old_rule(
        postgres: PgCluster) -> None:
    db = fresh_database(postgres)
    old_database(db)
    engine = make_engine(db)
    try:
        check_upgraded(engine)
    finally:
        engine.dispose()
