"""The outbox never destroys a citizen's submission (issue 11, items 1 and 2).

Answers that need an operator park the row with its content; one bad row never blocks the
others; a lost or wrong key stops delivery loudly instead of replacing the key. The platform
runs for real (in-process, or over HTTP on uvicorn); stand-ins only fake a link that is down
or a row-specific failure, which no real peer produces on demand.
"""

from __future__ import annotations

import base64
import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import nacl.signing
import pytest
from click.testing import CliRunner

from kiosk.backend.contract import (
    ApplicationReceipt,
    ApplicationRequest,
    BackendError,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    Refused,
    Unauthorized,
    Unavailable,
)
from kiosk.backend.credentials import CredentialStore, KioskCredential
from kiosk.backend.embedded import EmbeddedBackend
from kiosk.backend.outbox import Disposition, Outbox, OutboxKeyError, classify
from kiosk.backend.platform.app import create_app
from kiosk.backend.platform.service import PlatformService
from kiosk.config.schema import KioskConfig
from tests.kiosk.backend.conftest import Clock, live_server, make_service
from tests.kiosk.backend.helpers import card, request
from tests.kiosk.backend.test_http import make_backend


class Down:
    """The link is down: every call fails as HttpBackend fails when nothing answers."""

    def __init__(self) -> None:
        self.calls = 0

    def health(self) -> dict[str, object]:
        raise Unavailable("link down")

    def submit_application(self, request: ApplicationRequest) -> ApplicationReceipt:
        self.calls += 1
        raise Unavailable("link down")


class FailsFor:
    """A real backend, except that the submissions with these keys fail with ``error``."""

    def __init__(self, inner: EmbeddedBackend, keys: set[str], error: BaseException) -> None:
        self.inner, self.keys, self.error = inner, keys, error
        self.calls: list[str] = []

    def health(self) -> dict[str, object]:
        return self.inner.health()

    def submit_application(self, request: ApplicationRequest) -> ApplicationReceipt:
        self.calls.append(request.idempotency_key)
        if request.idempotency_key in self.keys:
            raise self.error
        return self.inner.submit_application(request)


def _row(cfg: KioskConfig, pending_no: str) -> tuple[str, bytes | None, str | None]:
    with sqlite3.connect(cfg.outbox.path) as db:
        state, payload, error = db.execute(
            "SELECT state, payload, last_error FROM outbox WHERE pending_no=?",
            (pending_no,)).fetchone()
    return state, payload, error


def _stored(outbox: Outbox, platform: EmbeddedBackend, n: int) -> list[tuple[str, str]]:
    """``n`` submissions stored while the link is down: (idempotency key, pending no)."""
    outbox.backend = Down()  # type: ignore[assignment]
    out = []
    for _ in range(n):
        ref = platform.check_identity(card("chen")).ref
        req = request("sb-record-print", ref)
        out.append((req.idempotency_key, outbox.submit(req).application_no))
    return out


# -- item 1: answers that need an operator ---------------------------------------------------

@pytest.mark.parametrize("error, disposition", [
    (Unavailable("x"), Disposition.RETRY),
    (Unauthorized("token replaced"), Disposition.PARK),
    (NotFound("no route", code="not_found"), Disposition.PARK),
    (NotFound("grace over", code="session_expired"), Disposition.PARK),
    (PayloadTooLarge("proxy"), Disposition.PARK),
    (InvalidRequest("schema", code="invalid_request"), Disposition.PARK),
    (InvalidRequest("kiosk", code="kiosk_mismatch"), Disposition.PARK),
    (Refused("dup", code="idempotency_conflict"), Disposition.PARK),
    (BackendError("teapot", code="http_418"), Disposition.PARK),
    (UnicodeEncodeError("utf-8", "\udcff", 0, 1, "surrogate"), Disposition.PARK),
    (InvalidRequest("form", code="form_invalid"), Disposition.SETTLE),
    (Refused("blocked", code="matter_blocked"), Disposition.SETTLE),
    (Refused("mismatch", code="identity_mismatch"), Disposition.SETTLE),
])
def test_answers_are_classified(error: BaseException, disposition: Disposition) -> None:
    assert classify(error) is disposition


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[tuple[str, CredentialStore, KioskCredential,
                                             PlatformService]]:
    """A live reference platform over HTTP whose kiosk tokens the test can rotate."""
    service = make_service(str(tmp_path / "server.sqlite"), nacl.signing.SigningKey.generate(),
                           Clock())
    store = CredentialStore()
    cred = store.issue("kiosk-test")
    with live_server(create_app(service, store)) as url:
        yield url, store, cred, service
    service.engine.dispose()


@pytest.mark.parametrize("fault", ["token_rotated", "wrong_url"])
def test_operator_faults_park_rows_with_content_until_fixed(
        tmp_path: Path, cfg: KioskConfig, server: tuple[str, CredentialStore, KioskCredential,
                                                        PlatformService], fault: str) -> None:
    url, store, cred, service = server
    good = make_backend(tmp_path, url, cred, retries=0)
    ref = good.check_identity(card("chen")).ref
    req = request("sb-record-print", ref)
    outbox = Outbox(cfg.outbox, Down())  # type: ignore[arg-type]
    pending = outbox.submit(req)  # the citizen is told: stored safely, delivered later
    assert pending.application_no.startswith("P-")
    if fault == "token_rotated":
        fixed_cred = store.issue("kiosk-test")  # a routine rotation replaces the old token
        outbox.backend = make_backend(tmp_path / "old", url, cred, retries=0)
        fixed = make_backend(tmp_path / "new", url, fixed_cred, retries=0)
        reason = "unauthorized"
    else:
        outbox.backend = make_backend(tmp_path / "bad", url + "/platform", cred, retries=0)
        fixed = good
        reason = "not_found"
    assert outbox.deliver_pending() == 0
    state, payload, error = _row(cfg, pending.application_no)
    assert (state, error) == ("parked", reason)
    assert payload is not None  # the application is still there, sealed
    stats = outbox.stats()
    assert stats.parked == 1 and stats.needs_operator == 1 and stats.pending == 0
    assert stats.oldest_pending_age_s is not None
    assert outbox.deliver_pending() == 0 and outbox.stats().parked == 1  # not retried blindly
    outbox.backend = fixed  # the operator fixes the cause...
    assert outbox.retry() == 1  # ...and queues the parked row again
    assert outbox.deliver_pending() == 1
    assert service.application_count(req.idempotency_key) == 1
    final = outbox.lookup(pending.application_no)
    assert final is not None and final.application_no.startswith("NH")
    assert _row(cfg, pending.application_no)[1] is None  # erased once the platform has it
    outbox.close()


def test_first_answer_needing_an_operator_still_promises(cfg: KioskConfig) -> None:
    platform = EmbeddedBackend(cfg)
    ref = platform.check_identity(card("chen")).ref
    req = request("sb-record-print", ref)
    outbox = Outbox(cfg.outbox, FailsFor(platform, {req.idempotency_key},  # type: ignore[arg-type]
                                         Unauthorized("token replaced")))
    receipt = outbox.submit(req)
    assert receipt.application_no.startswith("P-")  # kept, and the citizen is told so
    assert _row(cfg, receipt.application_no)[0] == "parked"
    outbox.backend = platform
    outbox.retry([receipt.application_no])
    assert outbox.deliver_pending() == 1
    outbox.close()


def test_parked_rows_come_back_by_themselves_after_a_while(cfg: KioskConfig) -> None:
    platform = EmbeddedBackend(cfg)
    [(key, pending_no)] = _stored(Outbox(cfg.outbox, platform), platform, 1)
    outbox = Outbox(cfg.outbox, FailsFor(platform, {key},  # type: ignore[arg-type]
                                         Unauthorized("not yet")))
    assert outbox.deliver_pending() == 0 and _row(cfg, pending_no)[0] == "parked"
    outbox.backend = platform  # new credentials arrived; nobody ran `kiosk outbox retry`
    assert outbox.deliver_pending() == 0  # parked rows are not tried every round...
    with sqlite3.connect(cfg.outbox.path) as db:  # ...but once parked_retry_s has passed
        db.execute("UPDATE outbox SET last_attempt_at='2000-01-01T00:00:00+00:00'")
    assert outbox.deliver_pending() == 1
    assert platform.service.application_count(key) == 1
    outbox.close()


def test_refusal_after_the_promise_is_kept_for_an_operator(cfg: KioskConfig) -> None:
    platform = EmbeddedBackend(cfg)
    [(key, pending_no)] = _stored(Outbox(cfg.outbox, platform), platform, 1)
    outbox = Outbox(cfg.outbox, FailsFor(platform, {key},  # type: ignore[arg-type]
                                         Refused("blocked", code="matter_blocked")))
    assert outbox.deliver_pending() == 0
    state, payload, error = _row(cfg, pending_no)
    assert (state, error) == ("refused", "matter_blocked") and payload is not None
    assert outbox.stats().refused == 1
    assert outbox.discard(pending_no)  # an operator's decision, after reaching the citizen
    assert _row(cfg, pending_no)[:2] == ("discarded", None)
    outbox.close()


# -- item 2: one bad row never blocks the others; the key is never silently replaced ---------

def test_damaged_row_is_parked_and_the_rest_delivered(cfg: KioskConfig) -> None:
    platform = EmbeddedBackend(cfg)
    outbox = Outbox(cfg.outbox, platform)
    rows = _stored(outbox, platform, 3)
    with sqlite3.connect(cfg.outbox.path) as db:  # a damaged ciphertext in the middle row
        blob = bytearray(db.execute("SELECT payload FROM outbox WHERE pending_no=?",
                                    (rows[1][1],)).fetchone()[0])
        blob[20] ^= 0x01
        db.execute("UPDATE outbox SET payload=? WHERE pending_no=?", (bytes(blob), rows[1][1]))
    outbox.backend = platform
    assert outbox.deliver_pending() == 2
    state, payload, error = _row(cfg, rows[1][1])
    assert state == "parked" and error == "unreadable:Unsealable" and payload is not None
    for key, _no in (rows[0], rows[2]):
        assert platform.service.application_count(key) == 1
    outbox.close()


@pytest.mark.parametrize("error", [UnicodeEncodeError("utf-8", "\udcff", 0, 1, "surrogate"),
                                   Unauthorized("x")])
def test_row_that_cannot_be_sent_does_not_block_the_rest(cfg: KioskConfig,
                                                         error: BaseException) -> None:
    platform = EmbeddedBackend(cfg)
    outbox = Outbox(cfg.outbox, platform)
    rows = _stored(outbox, platform, 3)
    outbox.backend = FailsFor(platform, {rows[0][0]}, error)  # type: ignore[assignment]
    assert outbox.deliver_pending() == 2
    assert _row(cfg, rows[0][1])[0] == "parked"
    outbox.close()


def test_row_specific_server_error_backs_off_alone(cfg: KioskConfig) -> None:
    platform = EmbeddedBackend(cfg)
    outbox = Outbox(cfg.outbox, platform)
    rows = _stored(outbox, platform, 3)
    failing = FailsFor(platform, {rows[0][0]}, Unavailable("HTTP 500", code="internal_error"))
    outbox.backend = failing  # type: ignore[assignment]
    assert outbox.deliver_pending() == 2  # the platform is up: the others go through
    assert _row(cfg, rows[0][1])[0] == "pending"
    failing.calls.clear()
    assert outbox.deliver_pending() == 0
    assert failing.calls == []  # backed off: not hammered every round
    outbox.close()


def test_link_down_ends_the_round_at_the_first_row(cfg: KioskConfig) -> None:
    platform = EmbeddedBackend(cfg)
    outbox = Outbox(cfg.outbox, platform)
    _stored(outbox, platform, 3)
    down = Down()
    outbox.backend = down  # type: ignore[assignment]
    assert outbox.deliver_pending() == 0
    assert down.calls == 1 and outbox.stats().pending == 3
    outbox.close()


def test_text_that_cannot_travel_is_refused_before_it_is_stored(cfg: KioskConfig) -> None:
    platform = EmbeddedBackend(cfg)
    ref = platform.check_identity(card("chen")).ref
    outbox = Outbox(cfg.outbox, platform)
    with pytest.raises(InvalidRequest) as err:
        outbox.submit(request("hukou-certificate", ref, {"purpose": "就业\udcff"}))
    assert err.value.code == "text_invalid"
    assert outbox.entries() == []
    outbox.close()


def test_lost_key_stops_delivery_instead_of_replacing_it(cfg: KioskConfig) -> None:
    platform = EmbeddedBackend(cfg)
    outbox = Outbox(cfg.outbox, platform)
    [(key, _no)] = _stored(outbox, platform, 1)
    outbox.close()
    key_file = Path(cfg.outbox.key_file)
    saved = key_file.read_bytes()
    key_file.unlink()
    with pytest.raises(OutboxKeyError) as err:
        Outbox(cfg.outbox, platform)
    assert err.value.code == "outbox_key_missing" and "outbox.key_file" in str(err.value)
    assert not key_file.exists()  # no new key: the stored row stays readable once restored
    inspected = Outbox(cfg.outbox, None, inspect=True)
    assert inspected.stats().key_error == "outbox_key_missing"
    assert inspected.stats().pending == 1
    inspected.close()
    key_file.write_text(base64.b64encode(os.urandom(32)).decode() + "\n")  # a wrong key
    with pytest.raises(OutboxKeyError) as err:
        Outbox(cfg.outbox, platform)
    assert err.value.code == "outbox_key_mismatch"
    key_file.write_bytes(saved)  # the technician restores the right key
    restored = Outbox(cfg.outbox, platform)
    assert restored.deliver_pending() == 1
    assert platform.service.application_count(key) == 1
    restored.close()
    key_file.unlink()  # nothing sealed is left: a new key may be made
    Outbox(cfg.outbox, platform).close()
    assert key_file.exists()


def test_old_outbox_database_is_migrated(cfg: KioskConfig) -> None:
    Path(cfg.outbox.path).parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(cfg.outbox.path) as db:  # the first release's schema and states
        db.execute("""CREATE TABLE outbox (id INTEGER PRIMARY KEY, idempotency_key TEXT NOT
            NULL UNIQUE, pending_no TEXT NOT NULL UNIQUE, matter_id TEXT NOT NULL, kiosk_id
            TEXT NOT NULL, delivery TEXT NOT NULL, created_at TEXT NOT NULL, state TEXT NOT
            NULL, payload BLOB, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT,
            receipt TEXT)""")
        db.execute("INSERT INTO outbox VALUES (1, 'k-00000001', 'P-AAAA', 'm', 'kiosk-test',"
                   " 'print', '2026-01-01T00:00:00+00:00', 'failed', NULL, 1, 'form_invalid',"
                   " NULL)")
    outbox = Outbox(cfg.outbox, None, inspect=True)
    [entry] = outbox.entries()
    assert (entry.state, entry.last_error) == ("refused", "form_invalid")
    outbox.close()


def test_outbox_files_are_private(cfg: KioskConfig) -> None:
    platform = EmbeddedBackend(cfg)
    outbox = Outbox(cfg.outbox, platform)
    _stored(outbox, platform, 1)
    for path in (cfg.outbox.path, cfg.outbox.path + "-wal", cfg.outbox.key_file):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
    assert stat.S_IMODE(os.stat(Path(cfg.outbox.key_file).parent).st_mode) == 0o700
    outbox.close()


# -- the operator's commands ----------------------------------------------------------------

def test_cli_status_lists_and_retries_parked_rows(tmp_path: Path) -> None:
    from kiosk.cli import main
    from kiosk.config import load_config

    env = {"KIOSK__VAR_DIR": str(tmp_path / "var"), "KIOSK__KIOSK__ID": "kiosk-test"}
    cfg = load_config(profile="simulation", environ=env)
    platform = EmbeddedBackend(cfg)
    outbox = Outbox(cfg.outbox, platform)
    [(key, pending_no)] = _stored(outbox, platform, 1)
    outbox.backend = FailsFor(platform, {key}, Unauthorized("x"))  # type: ignore[assignment]
    outbox.deliver_pending()
    outbox.close()
    runner = CliRunner()
    args = ["--profile", "simulation"]
    status = runner.invoke(main, ["outbox", "status", *args, "--json"], env=env)
    assert status.exit_code == 1, status.output  # something needs an operator
    assert '"parked": 1' in status.output
    listed = runner.invoke(main, ["outbox", "list", *args, "--state", "parked"], env=env)
    assert pending_no in listed.output and "unauthorized" in listed.output
    assert "chen" not in listed.output.lower()
    refused = runner.invoke(main, ["outbox", "discard", *args, pending_no], env=env)
    assert refused.exit_code == 2  # not without --yes
    retried = runner.invoke(main, ["outbox", "retry", *args], env=env)
    assert retried.exit_code == 0 and "1 row(s)" in retried.output
    delivered = runner.invoke(main, ["outbox", "deliver", *args], env=env)
    assert delivered.exit_code == 0, delivered.output
    assert platform.service.application_count(key) == 1
