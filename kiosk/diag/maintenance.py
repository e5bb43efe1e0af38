"""Maintenance mode on the running kiosk: the one entry point the screens use.

:class:`Maintenance` owns the technician's way in and everything done inside:

1. :meth:`~Maintenance.open_prompt` (the 5-tap gesture): the gate holds the kiosk and the
   citizen session is wiped; the scanner and the camera are watched for a token
   (:mod:`kiosk.diag.tokens`); the prompt closes by itself after ``prompt_timeout_s``.
2. :meth:`~Maintenance.login` (token + PIN, on a worker): :class:`~kiosk.diag.access.
   TechnicianAccess` checks them, rate-limits and locks out; granted, the session is wiped
   again (nothing may have started meanwhile) before the maintenance screen opens.
3. Actions (:meth:`~Maintenance.report`, :meth:`~Maintenance.test`,
   :meth:`~Maintenance.print_test_page` ...): each runs on a worker, returns a
   :class:`~concurrent.futures.Future`, extends the idle time, and is written to the audit log
   with its outcome. Outside an open session they raise :class:`MaintenanceClosed`.
4. The mode ends on :meth:`~Maintenance.exit`, after ``service.technician.mode_timeout_s``
   without an action, or when the token expires (a timer thread: it ends even if no screen
   is looking); the gate lets citizens in again.

Listeners get :class:`MaintenanceEvent` objects on worker threads (a UI marshals them).

Each action is also a command, for a technician over SSH: the report ``kiosk diag report
[--level] [--pdf]``; a device's guided test ``kiosk diag test DEVICE [--level]`` (interactive:
print a test page, read a test card, scan a code, look for a face), also ``kiosk diag printer
test-page``, ``kiosk diag idcard read``, ``kiosk diag qr listen``, ``kiosk diag camera
snapshot``; counters ``kiosk diag counters [--reset]``; out of service / back in service
``kiosk diag service out --note TEXT | in | status``; the audit chain ``kiosk diag audit
verify``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from hardware.base import HealthLevel
from hardware.listeners import Listeners
from kiosk.audit import AuditError, AuditLog
from kiosk.config.schema import KioskConfig
from kiosk.diag import actions
from kiosk.diag.access import AccessResult, MaintenanceSession, TechnicianAccess
from kiosk.diag.counters import KIOSK, CounterStore, LastTest
from kiosk.diag.fixes import Lang
from kiosk.diag.gate import GateStatus, ServiceGate
from kiosk.diag.model import ReadinessReport
from kiosk.diag.redact import redact
from kiosk.diag.tokens import TokenReader

log = logging.getLogger("kiosk.diag.maintenance")

T = TypeVar("T")
DEVICE_NAMES = ("idcard", "qr", "camera", "printer")
PROMPT_TIMEOUT_S = 120.0
_REFUSED_TOKEN = frozenset({"malformed", "bad_signature", "wrong_purpose", "wrong_kiosk",
                            "expired", "not_yet_valid", "too_long_lived", "replayed"})


class MaintenanceClosed(RuntimeError):
    """An action asked for outside an open maintenance session (or after it timed out)."""


@dataclass(frozen=True)
class MaintenanceEvent:
    """``kind``: prompt | token | login | opened | ended | action; ``params`` hold codes
    and numbers only (never a token, a PIN or anything of a citizen)."""

    kind: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DeviceRow:
    """One device on the maintenance screen: what the kiosk knows without I/O."""

    name: str
    status: str
    usable: bool
    reason: str | None
    critical: bool
    last_test: LastTest | None
    counters: Mapping[str, int] = field(default_factory=dict)  # persisted (survive restarts)


Listener = Callable[[MaintenanceEvent], None]


class Maintenance:
    """The technician's maintenance mode of one running kiosk (see the module docstring).

    ``devices``: name -> slot (a :class:`kiosk.devices.Devices`); ``backend`` and ``outbox``
    are the kiosk's (for the report); ``clock`` is the wall clock the tokens use.
    """

    def __init__(self, cfg: KioskConfig, *, gate: ServiceGate, access: TechnicianAccess,
                 devices: Mapping[str, Any], counters: CounterStore | None = None,
                 backend: Any = None, outbox: Any = None, audit: AuditLog | None = None,
                 prompt_timeout_s: float = PROMPT_TIMEOUT_S,
                 clock: Callable[[], float] = time.time, tick_s: float = 0.5) -> None:
        self.cfg = cfg
        self.gate = gate
        self.access = access
        self.devices = devices
        self.counters = counters
        self.backend = backend
        self.outbox = outbox
        self.audit = audit
        self.prompt_timeout_s = prompt_timeout_s
        self._clock = clock
        self._lock = threading.RLock()
        self._listeners: Listeners[Listener] = Listeners()
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="maintenance")
        # opening, closing, ending: never behind a long action, never on the caller's thread
        self._control = ThreadPoolExecutor(max_workers=1, thread_name_prefix="maintenance-ctl")
        self._session: MaintenanceSession | None = None
        self._prompt_until: float | None = None
        self._token: tuple[str, str] | None = None  # (text, source), in memory, prompt only
        self._reader: TokenReader | None = None
        self._preview: actions.CameraPreview | None = None
        self._scan_cancel: threading.Event | None = None
        self._ending = False  # a timeout is queued on the control worker
        self._stop = threading.Event()
        self._timer = threading.Thread(target=self._watch, name="maintenance-timer",
                                       daemon=True)
        self._tick_s = tick_s
        self._timer.start()

    def close(self) -> None:
        """End an open mode (audited) and stop the workers."""
        self._stop.set()
        self._timer.join(timeout=5)
        if self.active:
            self._end("shutdown")
        elif self.prompt_open:
            self._cancel_prompt("shutdown")
        self._control.shutdown(wait=True)
        self._pool.shutdown(wait=True, cancel_futures=True)

    # -- listeners ------------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> Callable[[], None]:
        return self._listeners.subscribe(listener)

    def _emit(self, kind: str, **params: Any) -> None:
        event = MaintenanceEvent(kind, params)
        for listener in self._listeners.snapshot():
            try:
                listener(event)
            except Exception:  # a broken screen must not break maintenance
                log.exception("maintenance listener failed")

    # -- state ----------------------------------------------------------------------------
    @property
    def active(self) -> bool:
        with self._lock:
            return self._session is not None

    @property
    def prompt_open(self) -> bool:
        with self._lock:
            return self._prompt_until is not None

    @property
    def token_source(self) -> str | None:
        """Where the token waiting for its PIN came from (``scanner``, ``camera``, ``typed``)."""
        with self._lock:
            return self._token[1] if self._token else None

    def seconds_left(self) -> float | None:
        """Until the mode (or the prompt) ends by itself, if nothing is done."""
        now = self._clock()
        with self._lock:
            if self._session is not None:
                return max(0.0, self._session.ends_at() - now)
            if self._prompt_until is not None:
                return max(0.0, self._prompt_until - now)
        return None

    def lock_state(self) -> tuple[float | None, int]:
        """(locked until, failures in the window) of technician access."""
        return self.access.lock_state()

    # -- the prompt -----------------------------------------------------------------------
    def open_prompt(self) -> Future[bool]:
        """The technician gesture: hold the kiosk, wipe the citizen session, watch the
        scanner and the camera for a token (on a worker; a ``prompt`` event follows).
        False when maintenance is already open."""
        return self._control.submit(self._open_prompt)

    def _open_prompt(self) -> bool:
        with self._lock:
            if self._session is not None:
                return False
            reopened = self._prompt_until is not None
        # in this order: the prompt can be seen (prompt_open) only once the token reader
        # listens and the gate keeps scans from the journey (a screen may redraw at any
        # change of the gate; a token scanned then went to the journey as a citizen code)
        if not reopened:
            self._start_reader()
        self.gate.hold_for_maintenance("login")
        with self._lock:
            self._prompt_until = self._clock() + self.prompt_timeout_s
        if not reopened:
            self._audit("maintenance.prompt", "opened")
        until, failures = self.access.lock_state()
        locked_s = 0.0 if until is None else max(0.0, until - self._clock())
        self._emit("prompt", state="open", locked_s=round(locked_s, 1), failures=failures)
        return True

    def prompt_touch(self) -> None:
        """The technician is typing: the prompt stays open."""
        with self._lock:
            if self._prompt_until is not None:
                self._prompt_until = self._clock() + self.prompt_timeout_s

    def cancel_prompt(self, reason: str = "canceled") -> Future[None]:
        return self._control.submit(self._cancel_prompt, reason)

    def _cancel_prompt(self, reason: str) -> None:
        with self._lock:
            if self._prompt_until is None:
                return
            self._prompt_until = None
            self._token = None
        self._stop_reader()
        self._audit("maintenance.prompt", reason)
        self.gate.release_maintenance()
        self._emit("prompt", state="closed", reason=reason)

    def _start_reader(self) -> None:
        reader = TokenReader(self._on_token, scanner=self._device("qr"),
                             camera=self._device("camera"))
        with self._lock:
            self._reader = reader
        reader.start()

    def _stop_reader(self) -> None:
        with self._lock:
            reader, self._reader = self._reader, None
        if reader is not None:
            self._control.submit(reader.close)  # joins threads: not on the caller's thread

    def _on_token(self, text: str, source: str) -> None:
        with self._lock:
            if self._prompt_until is None or self._token == (text, source):
                return  # a token held under the scanner is read again and again: taken once
            self._token = (text, source)
            self._prompt_until = self._clock() + self.prompt_timeout_s
        self._emit("token", source=source)

    def give_token(self, text: str) -> None:
        """A token typed on a keyboard (or pasted over a serial console)."""
        text = text.strip()
        with self._lock:
            if self._prompt_until is None:
                return
            self._token = (text, "typed") if text else None
            self._prompt_until = self._clock() + self.prompt_timeout_s
        self._emit("token", source="typed" if text else "")

    def login(self, pin: str) -> Future[AccessResult]:
        """Check the token waiting at the prompt with ``pin`` (scrypt: on a worker)."""
        with self._lock:
            token = self._token[0] if self._token else ""
            if self._prompt_until is not None:
                self._prompt_until = self._clock() + self.prompt_timeout_s
        return self._pool.submit(self._login, token, pin)

    def _login(self, token: str, pin: str) -> AccessResult:
        if not token:
            result = AccessResult(False, "no_token")
            self._emit("login", code="no_token", failures=0, retry_after_s=0.0, left=None)
            return result
        result = self.access.attempt(token, pin)
        if not result.granted or result.session is None:
            if result.code in _REFUSED_TOKEN:
                with self._lock:
                    self._token = None  # a refused token is not tried again
            left = max(0, self.access.cfg.max_failures - result.failures) \
                if result.failures else None
            self._emit("login", code=result.code, failures=result.failures,
                       retry_after_s=round(result.retry_after_s, 1), left=left)
            return result
        with self._lock:
            if self._prompt_until is None:  # the prompt closed meanwhile (timeout)
                self.access.end(result.session, "prompt_closed")
                return AccessResult(False, "prompt_closed")
            self._prompt_until = None
            self._token = None
            self._session = result.session
        self._stop_reader()
        self.gate.hold_for_maintenance("open")  # wiped again, before the screen opens
        self._emit("opened", token=result.session.token_id)
        return result

    # -- the open mode --------------------------------------------------------------------
    def touch(self) -> bool:
        """The technician did something on the screen; False when the mode has ended."""
        with self._lock:
            session = self._session
        if session is None:
            return False
        fresh = self.access.touch(session)  # audits a timeout itself
        if fresh is None:
            self._control.submit(self._end, "timeout", audited=True)
            return False
        with self._lock:
            if self._session is session:
                self._session = fresh
        return True

    def exit(self, reason: str = "exit") -> Future[None]:
        return self._control.submit(self._end, reason)

    def _end(self, reason: str, *, audited: bool = False) -> None:
        with self._lock:
            session, self._session = self._session, None
            preview, self._preview = self._preview, None
            cancel = self._scan_cancel
        if session is None:
            return
        if preview is not None:
            preview.stop()
        if cancel is not None:
            cancel.set()
        if not audited:
            self.access.end(session, reason)
        self.gate.release_maintenance()
        self._emit("ended", reason=reason)

    def _watch(self) -> None:
        while not self._stop.wait(self._tick_s):
            try:
                self._check_time()
            except Exception:  # the timer must keep running
                log.exception("maintenance timer failed")

    def _check_time(self) -> None:
        # the timer only notices: ending runs on the control worker, in turn with a gesture
        # that opens the prompt again (run here, a timeout that was still releasing the gate
        # released it after the new prompt held it, and closed the new prompt's token reader)
        if self._overdue() == (False, False):
            return
        with self._lock:
            if self._ending:
                return  # one at a time: the worker may be busy (a reader closing)
            self._ending = True
        self._control.submit(self._end_overdue)

    def _overdue(self) -> tuple[bool, bool]:
        """(the open mode is over, the prompt is over) at this moment."""
        now = self._clock()
        with self._lock:
            session = self._session
            prompt_over = self._prompt_until is not None and now >= self._prompt_until
        return session is not None and not session.active(now), prompt_over

    def _end_overdue(self) -> None:
        try:
            session_over, prompt_over = self._overdue()  # again: a gesture came between?
            if session_over:
                self._end("timeout")
            if prompt_over:
                self._cancel_prompt("timeout")
        finally:
            with self._lock:
                self._ending = False

    def _require(self) -> MaintenanceSession:
        if not self.touch():
            raise MaintenanceClosed("maintenance mode is not open")
        with self._lock:
            session = self._session
        if session is None:
            raise MaintenanceClosed("maintenance mode is not open")
        return session

    def _action(self, action: str, work: Callable[[], T],
                outcome: Callable[[T], tuple[str, dict[str, Any]]]) -> Future[T]:
        session = self._require()

        def run() -> T:
            try:
                value = work()
            except Exception as exc:
                self._record(session, action, "error", error=type(exc).__name__)
                raise
            code, detail = outcome(value)
            self._record(session, action, code, **detail)
            self._emit("action", action=action, outcome=code)
            return value

        return self._pool.submit(run)

    def _record(self, session: MaintenanceSession, action: str, code: str,
                **detail: Any) -> None:
        try:
            self.access.record_action(session, action, code, **detail)
        except (OSError, AuditError, ValueError):
            log.exception("maintenance action %s not audited", action)

    def _audit(self, event: str, outcome: str, **detail: Any) -> None:
        if self.audit is None:
            return
        try:
            self.audit.append(event, outcome, None, **redact(detail, source="device"))
        except (OSError, AuditError):
            log.exception("audit record not written")

    def _device(self, name: str) -> Any:
        slot = self.devices.get(name)
        return None if slot is None else slot.device

    # -- what the screen shows without I/O (counters: one local SQLite read) ----------------
    def device_rows(self) -> list[DeviceRow]:
        """Each device, then a ``kiosk`` row for the kiosk-wide counters (sessions)."""
        critical = set(self.cfg.service.critical_devices)
        store = self.counters
        rows = []
        for name in DEVICE_NAMES:
            slot = self.devices.get(name)
            status = "no_device" if slot is None else str(slot.status.value)
            last = store.last_test(name) if store is not None else None
            rows.append(DeviceRow(name, status, bool(slot is not None and slot.usable),
                                  None if slot is None else slot.reason, name in critical,
                                  last, store.counters(name) if store is not None else {}))
        rows.append(DeviceRow(KIOSK, "online", True, None, False, None,
                              store.counters(KIOSK) if store is not None else {}))
        return rows

    def rows(self) -> Future[list[DeviceRow]]:
        """:meth:`device_rows` on a worker (not audited: the screen polls it)."""
        return self._pool.submit(self.device_rows)

    def gate_status(self) -> GateStatus:
        return self.gate.status()

    # -- actions --------------------------------------------------------------------------
    def report(self, level: HealthLevel | str = HealthLevel.INTERNAL, lang: Lang = "en"
               ) -> Future[ReadinessReport]:
        """The readiness report of this kiosk's own devices, backend, outbox and host."""
        level = HealthLevel(level)
        return self._action(f"report_{level.value}", lambda: self._build_report(level, lang),
                            lambda r: (r.verdict.value, {"level": level.value}))

    def _build_report(self, level: HealthLevel, lang: Lang) -> ReadinessReport:
        from kiosk.diag.host import collect_host
        from kiosk.diag.report import build_report, probe_backend

        present, unavailable = [], {}
        for name in DEVICE_NAMES:
            slot = self.devices.get(name)
            if slot is None:
                continue
            if slot.device is not None:
                present.append(slot.device)
            elif slot.reason != "device_disabled":
                unavailable[name] = slot.reason or "device_unavailable"
        outbox = self.outbox
        expected = [n for n in DEVICE_NAMES if getattr(self.cfg, n).enabled]
        return build_report(present, level=level, backend_probe=lambda: probe_backend(
                                self.backend),
                            outbox_stats=(lambda: outbox.stats()) if outbox is not None
                            else None,
                            host=lambda: collect_host(self.cfg.var_dir), counters=self.counters,
                            cfg=self.cfg, lang=lang, service=self.gate.state,
                            expected=expected, unavailable=unavailable)

    def test(self, device: str, level: HealthLevel | str = HealthLevel.EXTERNAL
             ) -> Future[actions.TestOutcome]:
        """The device's own health check at ``level`` (a guided test's first step)."""
        if device not in DEVICE_NAMES:
            raise ValueError(f"device must be one of {', '.join(DEVICE_NAMES)}")
        return self._action(f"test_{device}",
                            lambda: actions.check(self._device(device), device, level,
                                                  self.counters), _test_outcome)

    def print_test_page(self) -> Future[actions.TestOutcome]:
        return self._action("print_test_page",
                            lambda: actions.print_test_page(self._device("printer"),
                                                            self.counters), _test_outcome)

    def read_test_card(self) -> Future[actions.TestOutcome]:
        return self._action("read_test_card",
                            lambda: actions.read_test_card(self._device("idcard"),
                                                           self.counters), _test_outcome)

    def scan_code(self, timeout_s: float = 20.0) -> Future[actions.TestOutcome]:
        cancel = threading.Event()
        with self._lock:
            self._scan_cancel = cancel
        return self._action("scan_code",
                            lambda: actions.scan_code(self._device("qr"), self.counters,
                                                      timeout_s, cancel), _test_outcome)

    def confirm(self, device: str, test: str, ok: bool) -> Future[None]:
        """The technician's answer to an interactive step ("did the page print clearly?")."""
        if device not in DEVICE_NAMES:
            raise ValueError(f"device must be one of {', '.join(DEVICE_NAMES)}")

        def work() -> None:
            if self.counters is not None:
                self.counters.record_test(device, f"{test}_confirmed", ok,
                                          "confirmed by the technician" if ok else
                                          "the technician saw a fault")

        return self._action(f"confirm_{device}", work,
                            lambda _v: ("yes" if ok else "no", {"test": test}))

    def start_preview(self, on_frame: actions.FrameSink, seconds: float = 30.0
                      ) -> Future[actions.TestOutcome]:
        """Camera frames with the face box to ``on_frame`` (worker thread) for ``seconds``
        or until :meth:`stop_preview`; the future gives the outcome."""
        self._require()
        preview = actions.CameraPreview(self._device("camera"), on_frame,
                                        counters=self.counters, seconds=seconds)
        with self._lock:
            old, self._preview = self._preview, preview
        if old is not None:
            old.stop()

        def work() -> actions.TestOutcome:
            preview.start()
            outcome = preview.result()
            if outcome is None:
                raise MaintenanceClosed("the preview ended without a result")
            return outcome

        return self._action("camera_preview", work, _test_outcome)

    def stop_preview(self) -> None:
        with self._lock:
            preview, self._preview = self._preview, None
        if preview is not None:
            preview.stop()

    def reset_counters(self, device: str | None = None) -> Future[int]:
        """Counters and last errors back to nothing (one device, or all)."""
        def work() -> int:
            if self.counters is None:
                return 0
            return self.counters.reset(None if device is None else [device], errors=True)

        return self._action("reset_counters", work,
                            lambda n: ("done", {"device": device or "all", "removed": n}))

    def counters_now(self) -> Future[dict[str, dict[str, int]]]:
        def work() -> dict[str, dict[str, int]]:
            return self.counters.all_counters() if self.counters is not None else {}

        return self._action("show_counters", work, lambda c: ("done", {"devices": len(c)}))

    def set_out_of_service(self, note: str) -> Future[GateStatus]:
        return self._action("out_of_service",
                            lambda: self.gate.set_out_of_service("technician", note),
                            lambda s: ("set", {}))

    def back_in_service(self) -> Future[GateStatus]:
        return self._action("back_in_service",
                            lambda: self.gate.back_in_service("technician"),
                            lambda s: ("cleared" if s.decision.in_service else "faults_remain",
                                       {"reasons": [r.code for r in s.decision.reasons]}))


def _test_outcome(outcome: actions.TestOutcome) -> tuple[str, dict[str, Any]]:
    return ("ok" if outcome.ok else "failed", {"key": outcome.key, "test": outcome.test})
