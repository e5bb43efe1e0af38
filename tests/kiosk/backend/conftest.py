"""Fixtures: platforms on SQLite and a private PostgreSQL, a live uvicorn server."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path

import nacl.signing
import pytest
from sqlalchemy import create_engine, text

from kiosk.backend.credentials import CredentialStore, KioskCredential
from kiosk.backend.platform.app import create_app
from kiosk.backend.platform.db import database_url, make_engine
from kiosk.backend.platform.seed import seed_demo
from kiosk.backend.platform.service import PlatformService
from kiosk.backend.platform.serving import serve_in_thread
from kiosk.config.schema import KioskConfig
from tests.kiosk.backend.pg import PgCluster, start_postgres

NOW = dt.datetime(2026, 6, 1, 2, 0, tzinfo=dt.UTC)  # 10:00 in Guangdong


class Clock:
    """A settable clock for the platform."""

    def __init__(self, now: dt.datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PgCluster]:
    cluster = start_postgres()  # raises (test error) if PostgreSQL cannot start
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def signing_key() -> nacl.signing.SigningKey:
    return nacl.signing.SigningKey.generate()


def make_service(db: str, key: nacl.signing.SigningKey, clock: Clock) -> PlatformService:
    engine = make_engine(db)
    seed_demo(engine)
    return PlatformService(engine, key, clock=clock)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def platform(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
             signing_key: nacl.signing.SigningKey) -> Iterator[PlatformService]:
    """The platform on SQLite and on PostgreSQL (module-scoped, seeded, fixed clock)."""
    clock = Clock()
    if request.param == "sqlite":
        db = str(tmp_path_factory.mktemp("platform") / "platform.sqlite")
    else:
        db = request.getfixturevalue("postgres").url
    service = make_service(db, signing_key, clock)
    yield service
    service.engine.dispose()


def fresh_database(cluster: PgCluster) -> str:
    """A new, empty database on the test cluster (for tests that count rows)."""
    name = f"kiosk_{uuid.uuid4().hex[:12]}"
    admin = create_engine(database_url(cluster.url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return cluster.url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_platform(request: pytest.FixtureRequest, tmp_path: Path,
                   signing_key: nacl.signing.SigningKey) -> Iterator[PlatformService]:
    """A platform of its own for one test (SQLite file or a new PostgreSQL database)."""
    if request.param == "sqlite":
        db = str(tmp_path / "platform.sqlite")
    else:
        db = fresh_database(request.getfixturevalue("postgres"))
    service = make_service(db, signing_key, Clock())
    yield service
    service.engine.dispose()


live_server = serve_in_thread


@pytest.fixture()
def cfg(tmp_path: Path) -> KioskConfig:
    """A kiosk ``kiosk-test`` with its embedded platform and its outbox under ``tmp_path``."""
    return KioskConfig.model_validate({
        "kiosk": {"id": "kiosk-test"},
        "backend": {"db": str(tmp_path / "platform.sqlite"),
                    "identity_key_file": str(tmp_path / "secrets" / "platform.key")},
        "outbox": {"path": str(tmp_path / "outbox.sqlite"),
                   "key_file": str(tmp_path / "secrets" / "outbox.key"),
                   "retry_interval_s": 0.05}})


@pytest.fixture(scope="module")
def http_platform(tmp_path_factory: pytest.TempPathFactory,
                  signing_key: nacl.signing.SigningKey) -> Iterator[tuple[str, KioskCredential,
                                                                         PlatformService]]:
    """A live reference server on SQLite: (url, credential of kiosk-test, service)."""
    tmp: Path = tmp_path_factory.mktemp("server")
    service = make_service(str(tmp / "platform.sqlite"), signing_key, Clock())
    store = CredentialStore()
    cred = store.issue("kiosk-test")
    with live_server(create_app(service, store)) as url:
        yield url, cred, service
    service.engine.dispose()
