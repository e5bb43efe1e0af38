"""The kiosk's outbox: a submission is stored before delivery, and never erased before the
platform has it.

SQLite in WAL mode with ``synchronous=FULL`` and ``secure_delete``, created 0600; the personal
part of a request (holder reference, form, attachments, mail address) is sealed with AES-GCM
(:mod:`kiosk.backend.outbox.sealing`). Delivery always reuses the request's idempotency key, so
a crash between delivery and bookkeeping delivers exactly once on restart.

Each answer is classified (:mod:`kiosk.backend.outbox.disposition`): a transient one is retried,
one that needs an operator *parks* the row with its content (``kiosk outbox retry`` once the
cause is fixed), and only the platform's own decision on the request settles it. A row the
kiosk cannot open or send is parked on its own; the rows behind it are still delivered.

A delivery choice made after submission (``set_delivery``: mail to this address, collect at a
counter) is a follow-up of its row, sealed the same way and sent once the platform has the
application. Network calls are made outside the lock; the lock only guards the database.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import logging
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from kiosk.backend.config import OutboxConfig
from kiosk.backend.contract import (
    ApplicationReceipt,
    ApplicationRequest,
    ApplicationState,
    BackendAdapter,
    Delivery,
    InvalidRequest,
    Refused,
    Unavailable,
)
from kiosk.backend.outbox.disposition import Disposition, classify, reason
from kiosk.backend.outbox.sealing import (
    OutboxKeyError,
    Sealer,
    Unsealable,
    create_key,
    key_id,
    read_key,
)
from kiosk.files import private_file

log = logging.getLogger("kiosk.backend.outbox")

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS outbox (
        id INTEGER PRIMARY KEY,
        idempotency_key TEXT NOT NULL UNIQUE,
        pending_no TEXT NOT NULL UNIQUE,
        matter_id TEXT NOT NULL,
        kiosk_id TEXT NOT NULL,
        delivery TEXT NOT NULL,
        created_at TEXT NOT NULL,
        state TEXT NOT NULL,            -- pending | parked | delivered | refused | discarded
        payload BLOB,                   -- sealed personal fields; NULL once the platform has it
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        receipt TEXT                    -- the platform's receipt (no personal data)
    )""",
    "CREATE TABLE IF NOT EXISTS outbox_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
)
# columns added after the first release (older databases are migrated in place)
_COLUMNS = {
    "promised": "INTEGER NOT NULL DEFAULT 0",  # the citizen was told "stored, delivered later"
    "last_attempt_at": "TEXT",
    "next_attempt_at": "TEXT",  # row-specific backoff after a failure of this row alone
    "application_no": "TEXT",
    "followup": "BLOB",  # sealed delivery choice made after submission
    "followup_state": "TEXT",  # NULL | pending | parked | refused | done
    "followup_error": "TEXT",
    "followup_promised": "INTEGER NOT NULL DEFAULT 0",
}
PERSONAL = ("holder_ref", "form", "attachments", "mail_address", "commitments")
MAX_BACKOFF_S = 3600.0

PENDING_STEPS = {
    "zh_CN": "网络暂时中断，申请已安全保存在本机，恢复后自动提交，可凭此编号查询。",
    "zh_HK": "網絡暫時中斷，申請已安全保存在本機，恢復後自動提交，可憑此編號查詢。",
    "en": "The network is down; your application is stored safely on this kiosk and will be "
          "delivered automatically. Keep this number to follow it up.",
}


def pending_number(idempotency_key: str) -> str:
    """The short pending number a citizen gets while the platform is unreachable."""
    digest = hashlib.sha256(idempotency_key.encode()).digest()
    return "P-" + base64.b32encode(digest).decode()[:10]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class OutboxEntry:
    """One stored submission as an operator sees it (no personal data)."""

    pending_no: str
    application_no: str | None
    matter_id: str
    state: str
    attempts: int
    last_error: str | None
    created_at: str
    followup_state: str | None
    followup_error: str | None


@dataclass(frozen=True)
class OutboxStats:
    """Depths and ages for diagnostics and telemetry."""

    pending: int
    parked: int  # need an operator (bad token, wrong URL, unreadable row, ...)
    refused: int  # the platform refused after the citizen was told "submitted": kept
    delivered: int
    followups_pending: int
    followups_parked: int
    oldest_pending_age_s: float | None
    key_error: str | None = None

    @property
    def needs_operator(self) -> int:
        return self.parked + self.refused + self.followups_parked


class Outbox:
    """Store-then-deliver queue of application submissions in front of a backend.

    Raises :class:`OutboxKeyError` when its key is missing or wrong while stored rows need
    it (``inspect=True`` opens the database anyway, for status and operator commands).
    """

    def __init__(self, cfg: OutboxConfig, backend: BackendAdapter | None, *,
                 inspect: bool = False) -> None:
        self.cfg = cfg
        self.backend = backend
        self.key_error: str | None = None
        self._lock = threading.Lock()
        self._inflight: set[str] = set()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._db = sqlite3.connect(private_file(cfg.path), check_same_thread=False,
                                   isolation_level=None, timeout=30)
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "secure_delete=ON",
                       "busy_timeout=30000"):
            self._db.execute(f"PRAGMA {pragma}")
        self._migrate()
        self._sealer: Sealer | None = None
        try:
            self._sealer = self._load_key()
        except OutboxKeyError as exc:
            if not inspect:
                self._db.close()
                raise
            self.key_error = exc.code

    # -- opening -------------------------------------------------------------------------
    def _migrate(self) -> None:
        for statement in _SCHEMA:
            self._db.execute(statement)
        have = {r[1] for r in self._db.execute("PRAGMA table_info(outbox)")}
        for name, decl in _COLUMNS.items():
            if name not in have:
                self._db.execute(f"ALTER TABLE outbox ADD COLUMN {name} {decl}")
        # the first release settled refusals as 'failed' (their content already erased)
        self._db.execute("UPDATE outbox SET state='refused' WHERE state='failed'")

    def _meta(self, name: str) -> str | None:
        row = self._db.execute("SELECT value FROM outbox_meta WHERE name=?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def _sealed_rows(self) -> int:
        row = self._db.execute("SELECT count(*) FROM outbox WHERE payload IS NOT NULL "
                               "OR followup IS NOT NULL").fetchone()
        return int(row[0])

    def _load_key(self) -> Sealer:
        path = Path(self.cfg.key_file)
        key = read_key(path)
        stored = self._meta("key_id")
        sealed = self._sealed_rows()
        if key is None:
            if sealed:
                raise OutboxKeyError(
                    f"outbox.key_file {path} is missing and {sealed} stored submission(s) "
                    "need it: restore the key file; a new key would make them unreadable",
                    code="outbox_key_missing")
            if stored:
                log.warning("outbox: key file missing; no stored submission needed it, "
                            "a new key is made")
            key = create_key(path)
        elif stored is not None and stored != key_id(key) and sealed:
            raise OutboxKeyError(
                f"outbox.key_file {path} is not the key {sealed} stored submission(s) were "
                "sealed with: restore the right key file", code="outbox_key_mismatch")
        self._db.execute("INSERT OR REPLACE INTO outbox_meta (name, value) VALUES "
                         "('key_id', ?)", (key_id(key),))
        return Sealer(key)

    def close(self) -> None:
        self.stop()
        with self._lock:
            self._db.close()

    # -- sealing -------------------------------------------------------------------------
    def _need_sealer(self) -> Sealer:
        if self._sealer is None:
            raise OutboxKeyError("the outbox has no usable key", code=self.key_error or
                                 "outbox_key_missing")
        return self._sealer

    def _seal(self, request: ApplicationRequest) -> bytes:
        data = request.model_dump(mode="json", include=set(PERSONAL))
        return self._need_sealer().seal(data, request.idempotency_key)

    def _open(self, key: str, matter_id: str, kiosk_id: str, delivery: str,
              payload: bytes) -> ApplicationRequest:
        personal = self._need_sealer().open(bytes(payload), key)
        return ApplicationRequest(idempotency_key=key, matter_id=matter_id, kiosk_id=kiosk_id,
                                  delivery=Delivery(delivery), **personal)

    # -- submit --------------------------------------------------------------------------
    def submit(self, request: ApplicationRequest) -> ApplicationReceipt:
        """Store ``request``, then try to deliver it. The platform's receipt when it answers;
        a pending receipt (a promise kept by this outbox) when it is unreachable or the
        answer needs an operator; the platform's refusal raised (nothing kept, nothing
        promised) when it decided against this request on the first try."""
        _check_encodable(request)
        key = request.idempotency_key
        with self._lock:
            row = self._db.execute("SELECT state, receipt, last_error FROM outbox "
                                   "WHERE idempotency_key=?", (key,)).fetchone()
            if row is None:
                self._db.execute(
                    "INSERT INTO outbox (idempotency_key, pending_no, matter_id, kiosk_id,"
                    " delivery, created_at, state, payload) VALUES (?,?,?,?,?,?,?,?)",
                    (key, pending_number(key), request.matter_id, request.kiosk_id,
                     request.delivery.value, _now().isoformat(), "pending",
                     self._seal(request)))
            elif row[0] == "delivered":
                return ApplicationReceipt.model_validate_json(row[1])
            elif row[0] in ("refused", "discarded"):
                raise Refused("the platform refused this submission", code=row[2] or "refused")
            if key in self._inflight:  # the background round is delivering it right now
                return self._promise(key)
            self._inflight.add(key)
        try:
            failure = self._attempt(key, request)
        finally:
            with self._lock:
                self._inflight.discard(key)
        if failure is None:
            receipt = self._delivered_receipt(key)
            self._send_followup(key)
            return receipt
        if classify(failure) is Disposition.SETTLE and not self._is_promised(key):
            raise failure
        return self._promise(key)

    def _promise(self, key: str) -> ApplicationReceipt:
        with self._lock:
            self._db.execute("UPDATE outbox SET promised=1 WHERE idempotency_key=?", (key,))
        return self.pending_receipt(key)

    def _is_promised(self, key: str) -> bool:
        with self._lock:
            row = self._db.execute("SELECT promised FROM outbox WHERE idempotency_key=?",
                                   (key,)).fetchone()
        return bool(row and row[0])

    def _delivered_receipt(self, key: str) -> ApplicationReceipt:
        with self._lock:
            row = self._db.execute("SELECT receipt FROM outbox WHERE idempotency_key=?",
                                   (key,)).fetchone()
        return ApplicationReceipt.model_validate_json(row[0])

    def _attempt(self, key: str, request: ApplicationRequest) -> BaseException | None:
        """One delivery of a stored request (the caller holds it in flight, not the lock);
        the row's bookkeeping follows the answer. Returns the failure, or None."""
        backend = self.backend
        try:
            if backend is None:
                raise Unavailable("no backend")
            receipt = backend.submit_application(request)
        except Exception as exc:  # every failure is classified, none lost
            self._record_failure(key, exc)
            return exc
        with self._lock:
            self._db.execute(
                "UPDATE outbox SET state='delivered', payload=NULL, receipt=?, "
                "application_no=?, attempts=attempts+1, last_error=NULL, last_attempt_at=?, "
                "next_attempt_at=NULL WHERE idempotency_key=?",
                (receipt.model_dump_json(), receipt.application_no, _now().isoformat(), key))
        return None

    def _record_failure(self, key: str, exc: BaseException) -> None:
        disposition, why, now = classify(exc), reason(exc), _now()
        with self._lock:
            if disposition is Disposition.RETRY:
                self._db.execute("UPDATE outbox SET attempts=attempts+1, last_error=?, "
                                 "last_attempt_at=? WHERE idempotency_key=?",
                                 (why, now.isoformat(), key))
                log.info("outbox: platform unavailable (%s), submission kept pending", why)
            elif disposition is Disposition.PARK:
                self._db.execute("UPDATE outbox SET state='parked', attempts=attempts+1, "
                                 "last_error=?, last_attempt_at=? WHERE idempotency_key=?",
                                 (why, now.isoformat(), key))
                log.error("outbox: a submission needs an operator (%s); kept, see "
                          "`kiosk outbox status`", why)
            else:
                # the platform decided: content kept only if the citizen was promised
                self._db.execute(
                    "UPDATE outbox SET state='refused', attempts=attempts+1, last_error=?, "
                    "last_attempt_at=?, payload=CASE WHEN promised=1 THEN payload END, "
                    "followup=CASE WHEN followup_promised=1 THEN followup END "
                    "WHERE idempotency_key=?", (why, now.isoformat(), key))
                log.warning("outbox: the platform refused a submission: %s", why)

    # -- delivery choice after submission -------------------------------------------------
    def set_delivery(self, idempotency_key: str, holder_ref: str, delivery: Delivery,
                     mail_address: str | None = None) -> ApplicationReceipt:
        """Record how the result of a stored submission is delivered (mail to this address,
        collect at a counter...). Sent now if the platform has the application, else right
        after it. The current receipt when the platform cannot take it now (the choice is
        kept and sent later); the platform's refusal raised when it decided against it."""
        key = idempotency_key
        value = {"holder_ref": holder_ref, "delivery": delivery.value,
                 "mail_address": mail_address}
        _check_encodable(value)
        with self._lock:
            row = self._db.execute("SELECT state FROM outbox WHERE idempotency_key=?",
                                   (key,)).fetchone()
            if row is None:
                raise KeyError("no such submission")
            if row[0] in ("refused", "discarded"):
                raise Refused("the platform refused this submission", code="refused")
            blob = self._need_sealer().seal(value, key + ":delivery")
            self._db.execute("UPDATE outbox SET followup=?, followup_state='pending', "
                             "followup_error=NULL, followup_promised=0 "
                             "WHERE idempotency_key=?", (blob, key))
            delivered = row[0] == "delivered"
        if delivered:
            failure = self._send_followup(key)
            if failure is not None and classify(failure) is Disposition.SETTLE:
                raise failure
        with self._lock:
            self._db.execute("UPDATE outbox SET followup_promised=1 WHERE idempotency_key=? "
                             "AND followup_state IN ('pending', 'parked')", (key,))
            row = self._db.execute("SELECT state, receipt FROM outbox WHERE idempotency_key=?",
                                   (key,)).fetchone()
        if row[0] == "delivered":
            return ApplicationReceipt.model_validate_json(row[1])
        return self.pending_receipt(key)

    def _send_followup(self, key: str) -> BaseException | None:
        """Send the row's pending delivery choice, if it has one; the failure or None."""
        with self._lock:
            row = self._db.execute(
                "SELECT application_no, followup, followup_state FROM outbox "
                "WHERE idempotency_key=? AND state='delivered'", (key,)).fetchone()
        if row is None or row[2] != "pending" or row[1] is None:
            return None
        application_no, blob = str(row[0]), bytes(row[1])
        try:
            data = self._need_sealer().open(blob, key + ":delivery")
            if self.backend is None:
                raise Unavailable("no backend")
            receipt = self.backend.set_delivery(application_no, data["holder_ref"],
                                                Delivery(data["delivery"]),
                                                data.get("mail_address"))
        except Exception as exc:  # classified like a submission
            disposition, why = classify(exc), reason(exc)
            state = {Disposition.RETRY: "pending", Disposition.PARK: "parked",
                     Disposition.SETTLE: "refused"}[disposition]
            with self._lock:
                self._db.execute(
                    "UPDATE outbox SET followup_state=?, followup_error=?, followup=CASE "
                    "WHEN ?='refused' AND followup_promised=0 THEN NULL ELSE followup END, "
                    "last_attempt_at=? WHERE idempotency_key=?",
                    (state, why, state, _now().isoformat(), key))
            if disposition is Disposition.PARK:
                log.error("outbox: a delivery choice needs an operator (%s)", why)
            return exc
        with self._lock:
            self._db.execute("UPDATE outbox SET followup=NULL, followup_state='done', "
                             "followup_error=NULL, receipt=? WHERE idempotency_key=?",
                             (receipt.model_dump_json(), key))
        return None

    # -- delivery rounds -----------------------------------------------------------------
    def deliver_pending(self) -> int:
        """Deliver stored submissions in order. A row that fails alone is parked or backed
        off and the round goes on; an unreachable platform ends the round. Returns how many
        applications the platform took."""
        now = _now().isoformat()
        parked_before = (_now() - dt.timedelta(seconds=self.cfg.parked_retry_s)).isoformat()
        with self._lock:
            # parked rows come back by themselves now and then: the fix (new credentials,
            # the right URL) may have arrived without anyone running `kiosk outbox retry`
            self._db.execute("UPDATE outbox SET state='pending' WHERE state='parked' AND "
                             "last_attempt_at<=?", (parked_before,))
            self._db.execute("UPDATE outbox SET followup_state='pending' WHERE "
                             "followup_state='parked' AND last_attempt_at<=?", (parked_before,))
            rows = self._db.execute(
                "SELECT idempotency_key, matter_id, kiosk_id, delivery, payload FROM outbox "
                "WHERE state='pending' AND (next_attempt_at IS NULL OR next_attempt_at<=?) "
                "ORDER BY id", (now,)).fetchall()
            rows = [r for r in rows if r[0] not in self._inflight]
            self._inflight.update(r[0] for r in rows)
        delivered = 0
        try:
            for key, matter_id, kiosk_id, delivery, payload in rows:
                if self._stop.is_set():
                    break
                try:
                    outcome = self._deliver_row(key, matter_id, kiosk_id, delivery, payload)
                finally:
                    with self._lock:
                        self._inflight.discard(key)
                if outcome == "delivered":
                    delivered += 1
                elif outcome == "down":
                    break
        finally:
            with self._lock:
                self._inflight.difference_update(r[0] for r in rows)
        self._deliver_followups()
        if delivered:
            log.info("outbox: delivered %d pending submission(s)", delivered)
        return delivered

    def _deliver_row(self, key: str, matter_id: str, kiosk_id: str, delivery: str,
                     payload: bytes | None) -> str:
        """delivered | failed | down (the platform is unreachable: end the round)."""
        try:
            if payload is None:
                raise Unsealable("no content")
            request = self._open(key, matter_id, kiosk_id, delivery, payload)
        except (Unsealable, ValidationError, TypeError, ValueError) as exc:
            self._park(key, "unreadable:" + type(exc).__name__)
            return "failed"
        failure = self._attempt(key, request)
        if failure is None:
            self._send_followup(key)
            return "delivered"
        if classify(failure) is not Disposition.RETRY:
            return "failed"
        if self._platform_reachable():
            self._back_off(key)  # this row fails alone (say, a 5xx it provokes): not the rest
            return "failed"
        return "down"

    def _platform_reachable(self) -> bool:
        try:
            if self.backend is None:
                return False
            self.backend.health()
        except Exception:  # any failure of the probe means "not now"
            return False
        return True

    def _back_off(self, key: str) -> None:
        with self._lock:
            row = self._db.execute("SELECT attempts FROM outbox WHERE idempotency_key=?",
                                   (key,)).fetchone()
            delay = min(self.cfg.retry_interval_s * 2 ** min(int(row[0]), 20), MAX_BACKOFF_S)
            later = (_now() + dt.timedelta(seconds=delay)).isoformat()
            self._db.execute("UPDATE outbox SET next_attempt_at=? WHERE idempotency_key=?",
                             (later, key))

    def _park(self, key: str, why: str) -> None:
        with self._lock:
            self._db.execute("UPDATE outbox SET state='parked', last_error=?, last_attempt_at=?"
                             " WHERE idempotency_key=?", (why, _now().isoformat(), key))
        log.error("outbox: a stored submission cannot be sent (%s); kept for an operator",
                  why)

    def _deliver_followups(self) -> None:
        with self._lock:
            keys = [r[0] for r in self._db.execute(
                "SELECT idempotency_key FROM outbox WHERE state='delivered' AND "
                "followup_state='pending' ORDER BY id")]
        for key in keys:
            if self._stop.is_set():
                return
            failure = self._send_followup(key)
            if isinstance(failure, Unavailable) and not self._platform_reachable():
                return

    # -- operator actions ----------------------------------------------------------------
    def retry(self, pending_nos: Iterable[str] | None = None) -> int:
        """Put parked rows (all, or these pending numbers) back in the queue; how many."""
        wanted = None if pending_nos is None else list(pending_nos)
        where = "" if wanted is None else \
            f" AND pending_no IN ({','.join('?' * len(wanted))})"
        args = wanted or []
        with self._lock:
            # ``where`` holds only "?" placeholders; the values travel as parameters
            rows_sql = f"UPDATE outbox SET state='pending', next_attempt_at=NULL WHERE state='parked'{where}"  # noqa: E501, S608
            follow_sql = f"UPDATE outbox SET followup_state='pending' WHERE followup_state='parked'{where}"  # noqa: E501, S608
            n = self._db.execute(rows_sql, args).rowcount
            n += self._db.execute(follow_sql, args).rowcount
        self.wake()
        return int(n)

    def discard(self, pending_no: str) -> bool:
        """Erase a parked or refused row's content for good (an operator's decision, after
        the citizen has been reached some other way). True if a row was discarded."""
        with self._lock:
            n = self._db.execute(
                "UPDATE outbox SET state='discarded', payload=NULL, followup=NULL, "
                "followup_state=CASE WHEN followup_state IS NULL THEN NULL ELSE 'discarded' "
                "END WHERE pending_no=? AND state IN ('parked', 'refused')",
                (pending_no,)).rowcount
        return bool(n)

    # -- queries -------------------------------------------------------------------------
    def pending_receipt(self, idempotency_key: str) -> ApplicationReceipt:
        with self._lock:
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

    def stats(self) -> OutboxStats:
        with self._lock:
            counts = dict(self._db.execute("SELECT state, count(*) FROM outbox GROUP BY state")
                          .fetchall())
            follow = dict(self._db.execute(
                "SELECT followup_state, count(*) FROM outbox WHERE followup_state IS NOT NULL"
                " GROUP BY followup_state").fetchall())
            oldest = self._db.execute("SELECT min(created_at) FROM outbox "
                                      "WHERE state IN ('pending', 'parked')").fetchone()[0]
            refused_kept = self._db.execute(
                "SELECT count(*) FROM outbox WHERE state='refused' AND payload IS NOT NULL"
            ).fetchone()[0]
        age = None if oldest is None else \
            (_now() - dt.datetime.fromisoformat(oldest)).total_seconds()
        return OutboxStats(pending=counts.get("pending", 0), parked=counts.get("parked", 0),
                           refused=int(refused_kept), delivered=counts.get("delivered", 0),
                           followups_pending=follow.get("pending", 0),
                           followups_parked=follow.get("parked", 0) + follow.get("refused", 0),
                           oldest_pending_age_s=age, key_error=self.key_error)

    def entries(self, states: Iterable[str] | None = None) -> list[OutboxEntry]:
        """The stored rows (newest last), optionally only in these states."""
        wanted = list(states) if states is not None else None
        where = "" if wanted is None else f" WHERE state IN ({','.join('?' * len(wanted))})"
        with self._lock:
            columns = ("pending_no, application_no, matter_id, state, attempts, last_error, "
                       "created_at, followup_state, followup_error")
            # ``where`` holds only "?" placeholders; the values travel as parameters
            sql = f"SELECT {columns} FROM outbox{where} ORDER BY id"  # noqa: S608
            rows = self._db.execute(sql, wanted or []).fetchall()
        return [OutboxEntry(*r) for r in rows]

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
            except Exception as exc:  # the loop must survive anything
                log.error("outbox: delivery round failed: %s", type(exc).__name__)


def _check_encodable(value: ApplicationRequest | dict[str, Any]) -> None:
    """Refuse text that cannot travel as UTF-8 JSON (a lone surrogate, say) before storing
    it: such a row could never be delivered."""
    data = value.model_dump(mode="json") if isinstance(value, ApplicationRequest) else value
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidRequest("text that cannot be sent", code="text_invalid") from exc


__all__ = ["Outbox", "OutboxEntry", "OutboxKeyError", "OutboxStats", "PENDING_STEPS",
           "pending_number"]
