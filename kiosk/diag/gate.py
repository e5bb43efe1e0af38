"""The gate between citizens and journeys: closed while the kiosk is out of service or a
technician holds it for maintenance.

:class:`ServiceGate` feeds the out-of-service decision (:class:`~kiosk.diag.service.
ServiceState`) from what the running kiosk shows, on a worker thread of its own: the devices'
status (no I/O: their status-change events wake it), the backend's ``health()`` every
``backend_every_s``, and the flag a person set (:mod:`kiosk.diag.flag`, one ``stat`` a turn).
Listeners hear of every change of :class:`GateStatus` (on that thread; a UI marshals it).

While the gate is closed no new journey runs: the gate listens to the session machine and
wipes a session that leaves the attract state (a card placed on an out-of-service kiosk), and
a journey already under way when the kiosk goes out of service is left to finish. Maintenance
is stricter: the citizen session is wiped when the technician prompt opens, and any journey
the devices start meanwhile is wiped at once. :meth:`ServiceGate.device_sink` is the earlier
stop the composition root puts before the journey: during maintenance it keeps card reads and
scans from the journey, so nothing a technician shows the kiosk reaches the platform.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from hardware.base import DeviceEvent, EventSink
from hardware.events import CardInserted, CardRead, CodeScanned
from hardware.listeners import Listeners
from kiosk.audit import AuditError, AuditLog
from kiosk.diag.fixes import Lang
from kiosk.diag.flag import FlagFile, ServiceFlag
from kiosk.diag.model import BackendReport
from kiosk.diag.service import DeviceCondition, ServiceDecision, ServiceState
from kiosk.session.machine import InvalidTransition, Transition
from kiosk.session.states import Event, State

log = logging.getLogger("kiosk.diag.gate")

Mode = Literal["in_service", "out_of_service", "maintenance"]
Hold = Literal["login", "open"]
GateListener = Callable[["GateStatus"], None]
# what a journey must not get while the gate is closed (status changes still pass)
IDENTIFYING = (CardRead, CardInserted, CodeScanned)


class Machine(Protocol):
    """What the gate needs of the session machine."""

    @property
    def state(self) -> State: ...

    def subscribe(self, listener: Callable[[Transition, Any], None]) -> None: ...

    def dispatch(self, event: Event, /, **payload: Any) -> Transition: ...


class Slot(Protocol):
    """A device slot (:class:`kiosk.devices.DeviceSlot`): its status without I/O."""

    @property
    def device(self) -> Any: ...

    @property
    def usable(self) -> bool: ...

    @property
    def status(self) -> Any: ...


@dataclass(frozen=True)
class GateStatus:
    """What the screens show: the mode, the decision's reasons, who holds maintenance."""

    mode: Mode
    decision: ServiceDecision
    hold: Hold | None = None
    flag: ServiceFlag | None = None
    backend: BackendReport | None = field(default=None, compare=False)

    @property
    def closed(self) -> bool:
        return self.mode != "in_service"

    def reasons(self, lang: Lang = "en") -> list[str]:
        return self.decision.texts(lang)

    def key(self) -> tuple[Any, ...]:
        """What a change is: mode, hold and the reasons' codes."""
        return (self.mode, self.hold, tuple(r.code for r in self.decision.reasons),
                self.flag.version if self.flag else None)


class ServiceGate:
    """Decides and enforces in service / out of service / maintenance for one kiosk.

    ``devices``: device name -> slot (a :class:`kiosk.devices.Devices`); ``backend``: the
    adapter (``health()``), or None when it could not be built (unreachable); ``flags``: the
    persisted flag. Call :meth:`start` once, :meth:`close` at the end.
    """

    def __init__(self, state: ServiceState, machine: Machine, *,
                 devices: Mapping[str, Slot] | None = None, backend: Any = None,
                 flags: FlagFile | None = None, audit: AuditLog | None = None,
                 observe: Callable[[], None] | None = None,
                 poll_s: float = 1.0, backend_every_s: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.state = state
        self.machine = machine
        self.devices = devices or {}
        self._observe = observe  # the core feeds the devices itself (with its start grace)
        self.backend = backend
        self.flags = flags
        self.audit = audit
        self.poll_s = poll_s
        self.backend_every_s = backend_every_s
        self._clock = clock
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._listeners: Listeners[GateListener] = Listeners()
        self._hold: Hold | None = None
        self._flag: ServiceFlag | None = None
        self._applied: tuple[int, int, int] | None = None  # the flag file version applied
        self._next_probe = 0.0
        self._backend: BackendReport | None = None
        # who lifted the flag: known when lifted here; the file alone does not say
        self._lifted_by, self._lifted_via = "unknown", "flag_file"
        self._unsubscribe: list[Callable[[], None]] = []
        self._status = GateStatus("in_service", state.decision())
        machine.subscribe(self._on_transition)

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> ServiceGate:
        """Evaluate once now (so the first screen is right), then watch on a worker."""
        for slot in self.devices.values():
            subscribe = getattr(slot.device, "subscribe", None)
            if callable(subscribe):
                self._unsubscribe.append(subscribe(lambda _event: self._wake.set()))
        self.evaluate(probe=False)  # the backend is probed on the worker's first turn
        self._thread = threading.Thread(target=self._run, name="service-gate", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
        if self._thread is not None:
            self._thread.join(timeout=15)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                status = self.evaluate(probe=self._clock() >= self._next_probe)
            except Exception:  # the gate must keep watching whatever one turn hit
                log.exception("service gate turn failed")
                status = self._status
            wait = self.poll_s
            if status.decision.recheck_in_s is not None:
                wait = min(wait, max(0.05, status.decision.recheck_in_s))
            self._wake.wait(wait)
            self._wake.clear()

    # -- reading --------------------------------------------------------------------------
    def status(self) -> GateStatus:
        with self._lock:
            return self._status

    @property
    def mode(self) -> Mode:
        return self.status().mode

    def accepting(self) -> bool:
        """May a new citizen journey start now? (The predicate for a journey's own gate.)"""
        return not self.status().closed

    def subscribe(self, listener: GateListener) -> Callable[[], None]:
        return self._listeners.subscribe(listener)

    def refresh(self) -> None:
        """Evaluate again soon (on the worker)."""
        self._wake.set()

    # -- inputs ---------------------------------------------------------------------------
    def evaluate(self, *, probe: bool = False) -> GateStatus:
        """One turn: the flag, the devices, the backend when ``probe``; returns the status
        (listeners told when it changed). Runs on the worker; callable from tests."""
        self._apply_flag()
        devices: dict[str, DeviceCondition] | None = None
        if self._observe is not None:
            self._observe()
        else:
            devices = {name: DeviceCondition(bool(slot.usable), _status_word(slot))
                       for name, slot in self.devices.items()}
        reachable: bool | None = None
        if probe:
            self._next_probe = self._clock() + self.backend_every_s
            report = self._probe()
            reachable = report.reachable
            with self._lock:
                self._backend = report
        decision = self.state.observe(devices=devices, backend_reachable=reachable)
        return self._publish(decision)

    def _probe(self) -> BackendReport:
        from kiosk.diag.report import probe_backend

        return probe_backend(self.backend)

    def _apply_flag(self) -> None:
        if self.flags is None:
            return
        flag = self.flags.read()
        version = None if flag is None else flag.version
        with self._lock:
            before = self._flag
            self._flag = flag
            if version == self._applied:
                return
            self._applied = version
        if flag is not None:
            self.state.set_out_of_service(flag.by, flag.note)
            self._audit("service.flag", "out", by=flag.by, via=flag.via)
        elif before is not None:
            self.state.back_in_service()
            self._audit("service.flag", "in", by=self._lifted_by, via=self._lifted_via)
        self._lifted_by, self._lifted_via = "unknown", "flag_file"

    def set_out_of_service(self, by: str, note: str, *, via: str = "screen") -> GateStatus:
        """A person's decision, persisted (``kiosk diag service`` and the fleet set the same
        flag), applied at once."""
        if self.flags is not None:
            self.flags.out_of_service(by=by, note=note, via=via)
        else:
            self.state.set_out_of_service(by, note)
            self._audit("service.flag", "out", by=by, via=via)
        return self.evaluate()

    def back_in_service(self, by: str, *, via: str = "screen") -> GateStatus:
        """Clear a person's flag and an outage held without ``auto_return``; faults still
        present keep the kiosk out of service."""
        self.state.back_in_service()  # also releases an outage held without auto_return
        if self.flags is not None and self.flags.read() is not None:
            self._lifted_by, self._lifted_via = by, via
            self.flags.back_in_service()
        else:
            self._audit("service.flag", "in", by=by, via=via)
        return self.evaluate(probe=True)

    def hold_for_maintenance(self, hold: Hold) -> GateStatus:
        """A technician holds the kiosk (``login``: the prompt is open; ``open``: the
        maintenance screen): the citizen session is wiped now, before anything is shown."""
        with self._lock:
            self._hold = hold
        self._wipe("maintenance")
        return self._publish(self.state.decision())

    def release_maintenance(self) -> GateStatus:
        with self._lock:
            self._hold = None
        return self.evaluate(probe=True)

    # -- enforcing ------------------------------------------------------------------------
    def device_sink(self, inner: EventSink) -> EventSink:
        """``inner`` (the journey's sink) without card reads and scans during maintenance:
        nothing read then is a citizen's (a technician's token or test scan, which the
        journey took for a citizen's code or checked with the platform). Out of service they
        pass: the journey refuses them plainly, before any platform call, and says why.
        The composition root starts the devices on it (:mod:`kiosk.compose`)."""
        def sink(event: DeviceEvent) -> None:
            if isinstance(event, IDENTIFYING) and self.status().mode == "maintenance":
                log.info("%s kept from the journey: maintenance", type(event).__name__)
                return
            inner(event)

        return sink

    def _on_transition(self, transition: Transition, _machine: Any) -> None:
        if self._stop.is_set():
            return  # closed (the machine keeps its listeners)
        if transition.target is State.ATTRACT:
            return
        mode = self._mode_now()
        if mode != self.status().mode:
            self.refresh()  # the listeners hear of it from the worker
        if mode == "in_service":
            return
        if mode == "out_of_service" and transition.source is not State.ATTRACT:
            return  # a journey under way when the kiosk went out of service finishes
        self._audit("service.journey_refused", mode)
        self._wipe(mode)

    def _mode_now(self) -> Mode:
        """The mode on the service state of this moment (no I/O), not the last turn's: a
        kiosk put back in service a moment ago lets the next citizen in."""
        with self._lock:
            hold = self._hold
        if hold is not None:
            return "maintenance"
        return "in_service" if self.state.decision().in_service else "out_of_service"

    def _wipe(self, why: str) -> None:
        if self.machine.state is State.ATTRACT:
            return
        try:
            self.machine.dispatch(Event.TIMEOUT)
            log.info("citizen session wiped: %s", why)
        except InvalidTransition:
            pass

    # -- publishing -----------------------------------------------------------------------
    def _publish(self, decision: ServiceDecision) -> GateStatus:
        with self._lock:
            mode: Mode = "maintenance" if self._hold is not None else \
                "in_service" if decision.in_service else "out_of_service"
            status = GateStatus(mode, decision, self._hold, self._flag, self._backend)
            old = self._status
            self._status = status
            changed = status.key() != old.key()
            listeners = self._listeners.snapshot() if changed else []
        if changed and status.mode != old.mode:
            log.info("service: %s (%s)", status.mode,
                     ", ".join(r.code for r in decision.reasons) or "-")
            self._audit("service.mode", status.mode,
                        reasons=[r.code for r in decision.reasons])
        for listener in listeners:
            try:
                listener(status)
            except Exception:  # a broken screen must not stop the gate
                log.exception("service gate listener failed")
        return status

    def _audit(self, event: str, outcome: str, **detail: Any) -> None:
        if self.audit is None:
            return
        try:
            self.audit.append(event, outcome, None, **detail)
        except (OSError, AuditError):
            log.exception("audit record not written")


def _status_word(slot: Slot) -> str:
    status = slot.status
    return str(getattr(status, "value", status))
