"""The kiosk's outbox: submissions are stored before delivery, so an outage loses nothing.

SQLite in WAL mode with ``synchronous=FULL`` and ``secure_delete``; the personal part of a
request (holder reference, form, attachments, mail address) is encrypted with AES-GCM under a
key from ``key_file`` (created 0600) and erased once the platform has the application. Delivery
always reuses the request's idempotency key, so a crash between delivery and bookkeeping
delivers exactly once on restart (the platform deduplicates by key).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import logging
import os
import secrets
import sqlite3
import threading
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kiosk.backend.config import OutboxConfig
from kiosk.backend.contract import (
    ApplicationReceipt,
    ApplicationRequest,
    ApplicationState,
    BackendAdapter,
    BackendError,
    Refused,
    Unavailable,
)

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    pending_no TEXT NOT NULL UNIQUE,
    matter_id TEXT NOT NULL,
    kiosk_id TEXT NOT NULL,
    delivery TEXT NOT NULL,
    created_at TEXT NOT NULL,
    state TEXT NOT NULL,            -- pending | delivered | failed
    payload BLOB,                   -- AES-GCM(personal fields); NULL once settled
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    receipt TEXT                    -- the platform's receipt (no personal data)
)
"""
PERSONAL = ("holder_ref", "form", "attachments", "mail_address")

PENDING_STEPS = {
    "zh_CN": "网络暂时中断，申请已安全保存在本机，恢复后自动提交，可凭此编号查询。",
    "zh_HK": "網絡暫時中斷，申請已安全保存在本機，恢復後自動提交，可憑此編號查詢。",
    "en": "The network is down; your application is stored safely on this kiosk and will be "
          "delivered automatically. Keep this number to follow it up.",
}


def load_or_create_key(path: str | Path) -> bytes:
    """The 256-bit outbox key at ``path`` (base64), created with mode 0600 if missing."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = base64.b64decode(p.read_text(encoding="ascii").strip(), validate=True)
        if len(key) != 32:
            raise ValueError(f"{p}: not a 256-bit key") from None
        return key
    key = AESGCM.generate_key(bit_length=256)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(base64.b64encode(key).decode() + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return key


def pending_number(idempotency_key: str) -> str:
    """The short pending number a citizen gets while the platform is unreachable."""
    digest = hashlib.sha256(idempotency_key.encode()).digest()
    return "P-" + base64.b32encode(digest).decode()[:10]


class Outbox:
    """Store-then-deliver queue of application submissions in front of a backend."""

    def __init__(self, cfg: OutboxConfig, backend: BackendAdapter) -> None:
        self.cfg = cfg
        self.backend = backend
        self._aead = AESGCM(load_or_create_key(cfg.key_file))
        Path(cfg.path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(cfg.path, check_same_thread=False, isolation_level=None,
                                   timeout=30)
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "secure_delete=ON",
                       "busy_timeout=30000"):
            self._db.execute(f"PRAGMA {pragma}")
        self._db.execute(_SCHEMA)
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    # -- storage -------------------------------------------------------------------------
    def _seal(self, request: ApplicationRequest) -> bytes:
        data = request.model_dump(mode="json", include=set(PERSONAL))
        nonce = secrets.token_bytes(12)
        return nonce + self._aead.encrypt(nonce, json.dumps(data).encode(),
                                          request.idempotency_key.encode())

    def _open(self, row: tuple[Any, ...]) -> ApplicationRequest:
        key, matter_id, kiosk_id, delivery, payload = row
        blob = bytes(payload)
        personal = json.loads(self._aead.decrypt(blob[:12], blob[12:], key.encode()))
        return ApplicationRequest(idempotency_key=key, matter_id=matter_id, kiosk_id=kiosk_id,
                                  delivery=delivery, **personal)

    def close(self) -> None:
        self.stop()
        with self._lock:
            self._db.close()

    # -- submit / deliver ----------------------------------------------------------------
    def submit(self, request: ApplicationRequest) -> ApplicationReceipt:
        """Store ``request``, then try to deliver it. A pending receipt if the platform is
        unreachable; the platform's error (after settling the row) if it refuses."""
        with self._lock:
            row = self._db.execute(
                "SELECT state, receipt, last_error FROM outbox WHERE idempotency_key=?",
                (request.idempotency_key,)).fetchone()
            if row is None:
                now = dt.datetime.now(dt.UTC).isoformat()
                self._db.execute(
                    "INSERT INTO outbox (idempotency_key, pending_no, matter_id, kiosk_id,"
                    " delivery, created_at, state, payload) VALUES (?,?,?,?,?,?,?,?)",
                    (request.idempotency_key, pending_number(request.idempotency_key),
                     request.matter_id, request.kiosk_id, request.delivery.value, now,
                     "pending", self._seal(request)))
            elif row[0] == "delivered":
                return ApplicationReceipt.model_validate_json(row[1])
            elif row[0] == "failed":
                raise Refused("the platform refused this submission", code=row[2] or "refused")
            return self._deliver(request)

    def _deliver(self, request: ApplicationRequest) -> ApplicationReceipt:
        key = request.idempotency_key
        try:
            receipt = self.backend.submit_application(request)
        except Unavailable as exc:
            self._db.execute("UPDATE outbox SET attempts=attempts+1, last_error=? "
                             "WHERE idempotency_key=?", (exc.code, key))
            log.info("outbox: platform unavailable, submission kept pending")
            return self.pending_receipt(key)
        except BackendError as exc:
            self._db.execute("UPDATE outbox SET state='failed', payload=NULL, last_error=?, "
                             "attempts=attempts+1 WHERE idempotency_key=?", (exc.code, key))
            log.warning("outbox: platform refused a submission: %s", exc.code)
            raise
        self._db.execute("UPDATE outbox SET state='delivered', payload=NULL, receipt=?, "
                         "attempts=attempts+1, last_error=NULL WHERE idempotency_key=?",
                         (receipt.model_dump_json(), key))
        return receipt

    def deliver_pending(self) -> int:
        """Deliver stored submissions in order; stop at the first outage. Returns how many
        were delivered."""
        delivered = 0
        with self._lock:
            rows = self._db.execute(
                "SELECT idempotency_key, matter_id, kiosk_id, delivery, payload FROM outbox "
                "WHERE state='pending' ORDER BY id").fetchall()
            for row in rows:
                request = self._open(tuple(row))
                try:
                    receipt = self._deliver(request)
                except BackendError:
                    continue
                if receipt.application_no.startswith("P-"):
                    break  # still unavailable
                delivered += 1
        if delivered:
            log.info("outbox: delivered %d pending submission(s)", delivered)
        return delivered

    # -- queries -------------------------------------------------------------------------
    def pending_receipt(self, idempotency_key: str) -> ApplicationReceipt:
        row = self._db.execute("SELECT pending_no, matter_id, created_at FROM outbox "
                               "WHERE idempotency_key=?", (idempotency_key,)).fetchone()
        if row is None:
            raise KeyError("no such submission")
        return ApplicationReceipt(application_no=row[0], matter_id=row[1],
                                  state=ApplicationState.SUBMITTED,
                                  submitted_at=dt.datetime.fromisoformat(row[2]),
                                  next_steps=dict(PENDING_STEPS))

    def lookup(self, pending_no: str) -> ApplicationReceipt | None:
        """The platform's receipt for a pending number once delivered, else the pending one."""
        with self._lock:
            row = self._db.execute("SELECT idempotency_key, state, receipt FROM outbox "
                                   "WHERE pending_no=?", (pending_no,)).fetchone()
            if row is None:
                return None
            if row[1] == "delivered":
                return ApplicationReceipt.model_validate_json(row[2])
            return self.pending_receipt(row[0])

    def pending_count(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT count(*) FROM outbox WHERE state='pending'")
            return int(row.fetchone()[0])

    # -- background delivery -------------------------------------------------------------
    def start(self) -> None:
        """Retry pending deliveries every ``retry_interval_s`` on a background thread."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="outbox", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Try a delivery round now (say, when the network is back)."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.cfg.retry_interval_s)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                self.deliver_pending()
            except Exception as exc:  # noqa: BLE001 - the loop must survive anything
                log.error("outbox: delivery round failed: %s", type(exc).__name__)
