"""Diagnostics on a running kiosk, built from its parts: the service gate, maintenance mode,
the persisted counters (fed from the devices' status changes and the sessions).

    diag = attach(core)          # a kiosk.core.KioskCore (or anything with its attributes)
    diag.gate.status().mode      # in_service | out_of_service | maintenance
    diag.maintenance.open_prompt()
    diag.close()

The composition root (:func:`kiosk.compose.build`) builds this once, as ``core.diagnostics``,
for ``kiosk run`` with or without the UI (the UI takes it; the fleet agent's out_of_service /
back_in_service go through the same flag file the gate follows). While the gate is closed the
session machine refuses new journeys and the journey refuses identifications before any
platform call (``journey_refused``); the gate still wipes any journey that starts while
closed, and :meth:`ServiceGate.device_sink`, which the composition root routes the devices'
events through, keeps card reads and scans from the journey during maintenance.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from kiosk.diag.access import TechnicianAccess
from kiosk.diag.counters import KIOSK, CounterStore, DriverCounterSync, watch
from kiosk.diag.flag import FlagFile
from kiosk.diag.gate import ServiceGate
from kiosk.diag.maintenance import Maintenance
from kiosk.diag.service import ServiceState
from kiosk.session.states import State

log = logging.getLogger("kiosk.diag.attach")


@dataclass
class Diagnostics:
    """The running kiosk's diagnostics; :meth:`close` stops what :func:`attach` started."""

    gate: ServiceGate
    maintenance: Maintenance
    counters: CounterStore
    access: TechnicianAccess
    sync_counters: Callable[[], int] = lambda: 0  # persist the drivers' counts now
    _undo: list[Callable[[], object]] = field(default_factory=list)

    def close(self) -> None:
        while self._undo:
            step = self._undo.pop()
            try:
                step()
            except Exception:  # closing one part must never keep the others open
                log.exception("closing diagnostics failed")


def attach(core: Any, *, clock: Callable[[], float] = time.time,
           monotonic: Callable[[], float] = time.monotonic, poll_s: float = 1.0,
           backend_every_s: float = 10.0, prompt_timeout_s: float = 120.0,
           sync_every_s: float = 5.0) -> Diagnostics:
    """Diagnostics for ``core`` (its ``cfg``, ``devices``, ``backend``, ``session``,
    ``audit``, ``outbox``), started. ``clock`` is the wall clock of tokens and counters,
    ``monotonic`` the one of outages (tests move them)."""
    cfg = core.cfg
    undo: list[Callable[[], object]] = []
    try:
        counters = CounterStore.in_var_dir(cfg.var_dir, clock=clock)
        undo.append(counters.close)
        writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="diag-counters")
        closed = threading.Event()  # the machine keeps its listeners: they check this
        undo.append(lambda: writer.shutdown(wait=True))
        undo.append(closed.set)
        for slot in core.devices.values():
            if slot.device is not None:
                undo.append(watch(slot.device, counters))

        def count_sessions(transition: Any, _machine: Any) -> None:
            if closed.is_set():
                return
            if transition.source is State.ATTRACT and transition.target is not State.ATTRACT:
                writer.submit(counters.bump, KIOSK, "sessions")  # not on the UI's thread

        core.session.subscribe(count_sessions)
        sync = DriverCounterSync(core.devices, counters)  # reads, read failures, prints

        def sync_loop() -> None:
            while not closed.wait(sync_every_s):
                try:
                    sync()
                except Exception:  # counting must never stop the kiosk
                    log.exception("counter sync failed")

        syncer = threading.Thread(target=sync_loop, name="diag-counter-sync", daemon=True)
        syncer.start()

        def stop_sync() -> None:
            closed.set()
            syncer.join(timeout=5)
            sync()  # what was counted since the last turn

        undo.append(stop_sync)
        # one decision for the whole kiosk: the core's (which its session machine and the
        # fleet agent follow) when it has one, fed here with the backend's reachability
        state = getattr(core, "service", None)
        if not isinstance(state, ServiceState):
            state = ServiceState.from_config(cfg.service, clock=monotonic)
        observe = getattr(core, "observe", None)
        gate = ServiceGate(state, core.session, devices=core.devices, backend=core.backend,
                           flags=FlagFile(cfg.var_dir, clock=clock), audit=core.audit,
                           observe=observe if callable(observe) else None, poll_s=poll_s,
                           backend_every_s=backend_every_s, clock=monotonic)
        gate.start()
        undo.append(gate.close)
        _refuse_in_maintenance(core.session, gate, undo)
        access = TechnicianAccess(cfg.service.technician, cfg.kiosk.id, cfg.var_dir,
                                  audit=core.audit, clock=clock)
        undo.append(access.close)
        maintenance = Maintenance(cfg, gate=gate, access=access, devices=core.devices,
                                  counters=counters, backend=core.backend,
                                  outbox=core.outbox, audit=core.audit,
                                  prompt_timeout_s=prompt_timeout_s, clock=clock)
        undo.append(maintenance.close)
    except BaseException:
        for step in reversed(undo):
            try:
                step()
            except Exception:
                log.exception("closing diagnostics failed")
        raise
    return Diagnostics(gate, maintenance, counters, access, sync, undo)


def _refuse_in_maintenance(session: Any, gate: ServiceGate,
                           undo: list[Callable[[], object]]) -> None:
    """A session machine with a refusal hook (the core's ``GatedSessionMachine``) also
    refuses new journeys while a technician holds the kiosk: checked under its lock, so a
    test card read during maintenance starts nothing (the gate's wipe is the fallback)."""
    before = getattr(session, "refusal", None)
    if not callable(before):
        return

    def refusal() -> str | None:
        return "maintenance" if gate.mode == "maintenance" else before()

    session.refusal = refusal
    undo.append(lambda: setattr(session, "refusal", before))
