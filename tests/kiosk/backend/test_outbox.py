"""The outbox: pending receipts while the platform is down, exactly-once delivery."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from kiosk.backend.contract import (
    ApplicationReceipt,
    ApplicationRequest,
    ApplicationState,
    Refused,
    Unavailable,
)
from kiosk.backend.embedded import EmbeddedBackend
from kiosk.backend.outbox import Outbox
from kiosk.config.schema import KioskConfig
from tests.kiosk.backend.helpers import PEOPLE, card, request


class Down:
    """A platform that cannot be reached (what HttpBackend raises when the link is down)."""

    def health(self) -> dict[str, object]:
        raise Unavailable("link down")

    def submit_application(self, request: ApplicationRequest) -> ApplicationReceipt:
        raise Unavailable("link down")


class Watched:
    """Delegates to a real backend and signals each delivery."""

    def __init__(self, inner: EmbeddedBackend) -> None:
        self.inner = inner
        self.delivered = threading.Event()
        self.calls = 0

    def health(self) -> dict[str, object]:
        return self.inner.health()

    def submit_application(self, request: ApplicationRequest) -> ApplicationReceipt:
        self.calls += 1
        receipt = self.inner.submit_application(request)
        self.delivered.set()
        return receipt


def test_pending_then_delivered_once(cfg: KioskConfig) -> None:
    platform = EmbeddedBackend(cfg)
    ref = platform.check_identity(card("chen")).ref
    req = request("hukou-certificate", ref, {"purpose": "就业"},
                  mail_address=None)
    outbox = Outbox(cfg.outbox, Down())  # type: ignore[arg-type]
    pending = outbox.submit(req)
    assert pending.application_no.startswith("P-")
    assert pending.state == ApplicationState.SUBMITTED and pending.next_steps["en"]
    assert outbox.pending_count() == 1
    assert stat.S_IMODE(os.stat(cfg.outbox.key_file).st_mode) == 0o600
    raw = Path(cfg.outbox.path).read_bytes() + _wal(cfg)
    for secret in (ref.encode(), "就业".encode(), PEOPLE["chen"]["id_number"].encode()):
        assert secret not in raw
    assert outbox.deliver_pending() == 0  # still down
    outbox.backend = platform
    assert outbox.deliver_pending() == 1
    assert outbox.deliver_pending() == 0
    final = outbox.lookup(pending.application_no)
    assert final is not None and final.application_no.startswith("NH")
    assert platform.service.application_count(req.idempotency_key) == 1
    assert outbox.submit(req) == final  # a resubmission returns the delivered receipt
    with sqlite3.connect(cfg.outbox.path) as db:  # personal fields erased
        assert db.execute("SELECT payload FROM outbox").fetchone() == (None,)
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    outbox.close()


def _wal(cfg: KioskConfig) -> bytes:
    wal = Path(cfg.outbox.path + "-wal")
    return wal.read_bytes() if wal.exists() else b""


def test_refusal_is_settled_and_raised(cfg: KioskConfig) -> None:
    platform = EmbeddedBackend(cfg)
    ref = platform.check_identity(card("chen")).ref
    outbox = Outbox(cfg.outbox, platform)
    bad = request("hukou-certificate", ref, {"purpose": "旅游"})
    with pytest.raises(Exception) as err:
        outbox.submit(bad)
    assert getattr(err.value, "code", None) == "form_invalid"
    with pytest.raises(Refused):
        outbox.submit(bad)
    assert outbox.pending_count() == 0
    outbox.close()


def test_background_thread_delivers(cfg: KioskConfig) -> None:
    platform = EmbeddedBackend(cfg)
    ref = platform.check_identity(card("he")).ref
    outbox = Outbox(cfg.outbox, Down())  # type: ignore[arg-type]
    pending = outbox.submit(request("housing-fund-print", ref))
    watched = Watched(platform)
    outbox.start()
    try:
        outbox.backend = watched  # type: ignore[assignment]
        outbox.wake()
        assert watched.delivered.wait(20)
    finally:
        outbox.stop()
    final = outbox.lookup(pending.application_no)
    assert final is not None and final.state == ApplicationState.RESULT_ISSUED
    assert watched.calls == 1
    outbox.close()


CRASHER = textwrap.dedent("""
    import os, sys
    from kiosk.backend.embedded import EmbeddedBackend
    from kiosk.backend.outbox import Outbox
    from kiosk.config.schema import KioskConfig
    cfg = KioskConfig.model_validate_json(sys.argv[1])
    platform = EmbeddedBackend(cfg)

    class CrashAfterDelivery:
        def submit_application(self, request):
            platform.submit_application(request)  # the platform has it now...
            os._exit(17)                          # ...and the kiosk dies before noting it

    Outbox(cfg.outbox, CrashAfterDelivery()).deliver_pending()
""")


def test_crash_between_delivery_and_bookkeeping_delivers_once(cfg: KioskConfig) -> None:
    platform = EmbeddedBackend(cfg)
    ref = platform.check_identity(card("chen")).ref
    req = request("sb-record-print", ref)
    outbox = Outbox(cfg.outbox, Down())  # type: ignore[arg-type]
    pending = outbox.submit(req)
    outbox.close()
    proc = subprocess.run([sys.executable, "-c", CRASHER, cfg.model_dump_json()],
                          capture_output=True, timeout=60, cwd=Path(__file__).parents[3])
    assert proc.returncode == 17, proc.stderr.decode()[-2000:]
    assert platform.service.application_count(req.idempotency_key) == 1
    restarted = Outbox(cfg.outbox, platform)
    assert restarted.pending_count() == 1  # the crash left it pending
    assert restarted.deliver_pending() == 1
    assert platform.service.application_count(req.idempotency_key) == 1  # exactly once
    final = restarted.lookup(pending.application_no)
    assert final is not None and final.application_no.startswith("NH")
    restarted.close()
