"""Owner-only files and folders: the helpers, and the databases that hold every citizen."""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
from pathlib import Path

import pytest

from kiosk.backend.platform.db import make_engine
from kiosk.backend.platform.runtime import open_platform
from kiosk.files import private_dir, private_file, write_private

DB_FILES = ("platform.sqlite", "platform.sqlite-wal", "platform.sqlite-shm")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_private_dir_creates_and_tightens(tmp_path: Path) -> None:
    made = private_dir(tmp_path / "a" / "b")
    assert _mode(made) == 0o700
    loose = tmp_path / "loose"
    loose.mkdir(mode=0o755)
    os.chmod(loose, 0o755)
    assert _mode(private_dir(loose)) == 0o700


def test_private_file_creates_and_tightens_without_touching_content(tmp_path: Path) -> None:
    fresh = private_file(tmp_path / "new" / "f")
    assert _mode(fresh) == 0o600 and fresh.read_bytes() == b""
    old = tmp_path / "old"
    old.write_bytes(b"kept")
    os.chmod(old, 0o644)
    assert _mode(private_file(old)) == 0o600 and old.read_bytes() == b"kept"


def test_write_private_is_atomic_and_owner_only(tmp_path: Path) -> None:
    target = tmp_path / "secrets" / "head.json"
    write_private(target, b"one")
    assert target.read_bytes() == b"one" and _mode(target) == 0o600
    os.chmod(target, 0o644)
    write_private(target, b"two")
    assert target.read_bytes() == b"two" and _mode(target) == 0o600
    assert sorted(p.name for p in target.parent.iterdir()) == ["head.json"]  # no temp left


def test_write_private_never_shows_a_partial_file(tmp_path: Path) -> None:
    target = tmp_path / "head"
    versions = (b"a" * 200_000, b"b" * 200_000)
    write_private(target, versions[0])
    stop = threading.Event()
    torn: list[int] = []

    def read() -> None:
        while not stop.is_set():
            data = target.read_bytes()
            if data not in versions:
                torn.append(len(data))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for n in range(50):
            write_private(target, versions[n % 2])
    finally:
        stop.set()
        reader.join()
    assert torn == []


def test_platform_database_and_its_wal_are_created_owner_only(tmp_path: Path) -> None:
    state = tmp_path / "state"
    service = open_platform(str(state / "platform.sqlite"), str(tmp_path / "secrets" / "k"),
                            seed=True)
    try:
        with service.engine.connect() as conn:  # WAL and SHM exist while it is open
            conn.exec_driver_sql("SELECT 1")
            for name in DB_FILES:
                assert _mode(state / name) == 0o600, name
        assert _mode(state) == 0o700  # the folder it created for the database
    finally:
        service.engine.dispose()


def test_an_existing_world_readable_database_is_tightened(tmp_path: Path) -> None:
    db = tmp_path / "platform.sqlite"
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    for name in DB_FILES:
        os.chmod(tmp_path / name, 0o644)
    engine = make_engine(str(db))
    try:
        with engine.connect() as c:
            c.exec_driver_sql("SELECT 1")
        for name in DB_FILES:
            assert _mode(tmp_path / name) == 0o600, name
    finally:
        engine.dispose()
        conn.close()


@pytest.mark.parametrize("url", ["sqlite:///{p}", "{p}"])
def test_database_given_as_url_or_path_is_private(tmp_path: Path, url: str) -> None:
    db = tmp_path / "x" / "platform.sqlite"
    engine = make_engine(url.format(p=db))
    try:
        with engine.connect() as c:
            c.exec_driver_sql("SELECT 1")
        assert _mode(db) == 0o600
    finally:
        engine.dispose()
