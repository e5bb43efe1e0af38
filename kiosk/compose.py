"""The one composition root: configuration -> devices -> backend -> outbox -> audit ->
session -> journey -> diagnostics, started, and torn down in reverse.

``kiosk run``, the UI (through ``kiosk run`` or the UI driver), the tests and the benchmarks
all build a kiosk here, so there is one wiring to read and to test::

    with compose.running(cfg) as kiosk:      # or: kiosk = compose.build(cfg); kiosk.stop()
        kiosk.journey.start_session()

Each step that opens something pushes its undo on a :class:`Teardown`; ``stop()`` runs them
last-in first-out, each guarded, so one part failing to close never keeps the others open.
Device factories get their own config section and a :class:`~hardware.context.DeviceContext`
(var dir, kiosk id, whether ``sim://`` is allowed: only in the simulation profile).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias, cast

from pydantic import BaseModel

from hardware.base import DeviceError, DeviceEvent, EventSink
from hardware.context import DeviceContext
from hardware.roles import Camera, CardReader, CodeScanner, DeviceModel, Printer
from hardware.sim.kit import SimRegistry
from hardware.sim.url import SimUrlError
from kiosk.audit import AuditLog
from kiosk.backend.contract import BackendAdapter, BackendError
from kiosk.config.schema import KioskConfig
from kiosk.core import GatedSessionMachine, KioskCore, timeout_policy
from kiosk.devices import DEVICE_NAMES, Devices, DeviceSlot
from kiosk.session.journey import Journey
from kiosk.session.machine import SessionMachine
from kiosk.session.states import IDENTIFY_FROM
from kiosk.simulation import SimulationControls

if TYPE_CHECKING:
    from kiosk.diag.attach import Diagnostics

log = logging.getLogger("kiosk.compose")

DiagnosticsFactory: TypeAlias = "Callable[[KioskCore], Diagnostics]"

ROLES: dict[str, type[Any]] = {"idcard": CardReader, "qr": CodeScanner, "camera": Camera,
                               "printer": Printer}


class Teardown:
    """Undo steps, run last-in first-out; each one's failure is logged, never raised."""

    def __init__(self) -> None:
        self._steps: list[tuple[str, Callable[[], object]]] = []

    def push(self, what: str, step: Callable[[], object]) -> None:
        self._steps.append((what, step))

    def __call__(self) -> None:
        while self._steps:
            what, step = self._steps.pop()
            try:
                step()
            except Exception:  # closing one part must never keep the others open
                log.exception("stopping %s failed", what)


# -- devices ----------------------------------------------------------------------------------
def device_context(cfg: KioskConfig, sims: SimRegistry | None = None) -> DeviceContext:
    """What device factories may know of this kiosk; simulators only in simulation."""
    return DeviceContext(var_dir=Path(cfg.var_dir), kiosk_id=cfg.kiosk.id,
                         allow_simulation=cfg.profile == "simulation",
                         sims=sims or SimRegistry())


def device_sections(cfg: KioskConfig) -> dict[str, tuple[bool, BaseModel]]:
    """Each device's own config section (and whether it is enabled), by device name."""
    return {"idcard": (cfg.idcard.enabled, cfg.idcard), "qr": (cfg.qr.enabled, cfg.qr),
            "camera": (cfg.camera.enabled, cfg.camera),
            "printer": (cfg.printer.enabled, cfg.printer)}


def open_device(name: str, section: BaseModel, ctx: DeviceContext, *,
                enabled: bool = True) -> DeviceSlot[Any]:
    """Build one device from ``hardware.<name>.factory.create(section, ctx)``; a device that
    cannot be built is a slot with a reason (a message key), never an exception."""
    if not enabled:
        return DeviceSlot(name, reason="device_disabled")
    try:
        factory = importlib.import_module(f"hardware.{name}.factory")
    except ModuleNotFoundError as exc:
        log.warning("device %s: adapter not installed (%s)", name, exc.name)
        return DeviceSlot(name, reason="device_not_installed")
    try:
        device: DeviceModel = factory.create(section, ctx)
    except (DeviceError, OSError, SimUrlError) as exc:
        log.warning("device %s unavailable: %s", name, exc)
        return DeviceSlot(name, reason="device_unavailable")
    if not isinstance(device, ROLES[name]):
        log.error("device %s: %s is not a %s", name, type(device).__name__,
                  ROLES[name].__name__)
        device.close()
        return DeviceSlot(name, reason="device_unsupported")
    return DeviceSlot(name, device)


def open_devices(cfg: KioskConfig, ctx: DeviceContext) -> Devices:
    sections = device_sections(cfg)
    slots = {name: open_device(name, sections[name][1], ctx, enabled=sections[name][0])
             for name in DEVICE_NAMES}
    return Devices(idcard=slots["idcard"], qr=slots["qr"], camera=slots["camera"],
                   printer=slots["printer"], simulators=ctx.sims.controls())


@contextlib.contextmanager
def opened_devices(cfg: KioskConfig) -> Iterator[Devices]:
    """The configured devices, opened (not started: no events) for a diagnostic run, and
    closed afterwards with the simulators they started. ``Devices.values()`` gives each
    slot: its device (a ``hardware.roles.DeviceModel``) or the reason it has none."""
    sims = SimRegistry()
    devices = open_devices(cfg, device_context(cfg, sims))
    try:
        yield devices
    finally:
        devices.close()
        sims.close()


# -- backend ----------------------------------------------------------------------------------
def open_backend(cfg: KioskConfig) -> tuple[BackendAdapter | None, str | None]:
    """The configured backend adapter, or ``None`` and why not (a message key)."""
    try:
        factory = importlib.import_module("kiosk.backend.factory")
        backend: BackendAdapter = factory.create_backend(cfg)
    except ModuleNotFoundError as exc:
        log.error("backend adapter not installed (%s)", exc.name)
        return None, "backend_not_installed"
    except BackendError as exc:
        log.error("backend unavailable: %s", exc.code)
        return None, exc.code
    return backend, None


def simulation_controls(cfg: KioskConfig, devices: Devices, backend: BackendAdapter | None,
                        *, switchable: bool = True) -> tuple[BackendAdapter | None,
                                                             SimulationControls | None]:
    """In the simulation profile the backend (when ``switchable``: the configured one) can
    be cut and restored like a real outage (the dock, fault tests), and the simulators are
    driven through their sockets."""
    if cfg.profile != "simulation":
        return backend, None
    from kiosk.backend.embedded import EmbeddedBackend
    from kiosk.backend.switch import SwitchableBackend

    issue = backend.service.issue_identity_code if isinstance(backend, EmbeddedBackend) else None
    switch = SwitchableBackend(backend) if backend is not None and switchable else None
    if switch is None:
        return backend, SimulationControls(devices.simulators, issue_code=issue)
    controls = SimulationControls(devices.simulators, backend=switch, issue_code=issue)
    # SwitchableBackend forwards every BackendAdapter call (by __getattr__, cut or not)
    return cast(BackendAdapter | None, switch), controls


# -- the whole kiosk --------------------------------------------------------------------------
def build(cfg: KioskConfig, *, backend: BackendAdapter | None = None,
          devices: Devices | None = None,
          diagnostics: bool | DiagnosticsFactory = True) -> KioskCore:
    """Build and start a kiosk. ``backend`` and ``devices`` replace the configured ones
    (tests); whatever is built here is stopped by ``kiosk.stop()``, in reverse order.

    ``diagnostics``: the service gate, counters and maintenance mode
    (:func:`kiosk.diag.attach.attach`) are attached here, once, as ``kiosk.diagnostics``,
    so ``kiosk run --no-ui`` has them as the UI does (the UI takes these); a callable
    builds them instead (tests move its clocks); ``False``: none."""
    teardown = Teardown()
    try:
        core, events = _build(cfg, backend, devices, teardown)
        if diagnostics:
            from kiosk.diag.attach import attach

            make = diagnostics if callable(diagnostics) else attach
            diag = make(core)
            teardown.push("diagnostics", diag.close)  # closed first: before the devices
            core.diagnostics = diag
            events.route(diag.gate.device_sink(core.journey.on_device_event))
        return core
    except BaseException:
        teardown()
        raise


class DeviceEvents:
    """The one sink the devices and the camera's QR decoder are started on: the journey's,
    until the diagnostics exist and put their gate before it (:meth:`route`)."""

    def __init__(self, sink: EventSink) -> None:
        self._sink = sink

    def route(self, sink: EventSink) -> None:
        self._sink = sink  # one reference swapped: atomic, no lock on the event path

    def __call__(self, event: DeviceEvent) -> None:
        self._sink(event)


def _build(cfg: KioskConfig, backend: BackendAdapter | None, devices: Devices | None,
           teardown: Teardown) -> tuple[KioskCore, DeviceEvents]:
    Path(cfg.var_dir).mkdir(parents=True, exist_ok=True)
    # devices: opened, not started (nothing reaches the journey before it exists)
    if devices is None:
        sims = SimRegistry()
        teardown.push("simulator sockets", sims.close)
        devices = open_devices(cfg, device_context(cfg, sims))
        teardown.push("devices", devices.close)
    # backend
    backend_error: str | None = None
    given = backend is not None
    if backend is None:
        backend, backend_error = open_backend(cfg)
        if backend is not None:
            teardown.push("backend", _closer(backend))
    backend, simulation = simulation_controls(cfg, devices, backend, switchable=not given)
    # outbox: the citizen's promise; without a key that opens it, none (submissions go
    # straight to the platform until a technician restores the key)
    outbox, outbox_error = _open_outbox(cfg, backend)
    if outbox is not None:
        teardown.push("outbox", outbox.close)
    audit = AuditLog.open(Path(cfg.var_dir) / "audit.jsonl", cfg.kiosk.id)
    # no new journey while out of service or restarting (the core sets the gate)
    session: SessionMachine = GatedSessionMachine(policy=timeout_policy(cfg))
    journey = Journey(session=session, devices=devices, backend=backend, audit=audit, cfg=cfg,
                      outbox=outbox, outbox_error=outbox_error)
    teardown.push("journey", journey.stop)
    # start: the outbox's delivery, the devices' events, the camera's QR decoding; the
    # threads they start are the workers the watchdog waits for
    before = set(threading.enumerate())
    if outbox is not None:
        outbox.start()
        teardown.push("outbox delivery", outbox.stop)
    events = DeviceEvents(journey.on_device_event)
    devices.start(events)
    camera_qr = _start_camera_qr(cfg, devices, session, events)
    if camera_qr is not None:
        teardown.push("camera QR decoding", camera_qr)
    workers = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    return KioskCore(cfg, devices=devices, backend=backend, backend_error=backend_error,
                     session=session, journey=journey, audit=audit, outbox=outbox,
                     simulation=simulation, teardown=teardown, workers=workers), events


@contextlib.contextmanager
def running(cfg: KioskConfig, *, backend: BackendAdapter | None = None,
            devices: Devices | None = None,
            diagnostics: bool | DiagnosticsFactory = True) -> Iterator[KioskCore]:
    """``with running(cfg) as kiosk:`` build, yield, stop."""
    kiosk = build(cfg, backend=backend, devices=devices, diagnostics=diagnostics)
    try:
        yield kiosk
    finally:
        kiosk.stop()


def _closer(backend: BackendAdapter) -> Callable[[], object]:
    close = getattr(backend, "close", None)  # adapters without a connection have no close
    return close if callable(close) else (lambda: None)


def _open_outbox(cfg: KioskConfig, backend: BackendAdapter | None) -> tuple[Any, str | None]:
    if backend is None:
        return None, None
    from kiosk.backend.outbox import Outbox, OutboxKeyError

    try:
        return Outbox(cfg.outbox, backend), None
    except OutboxKeyError as exc:
        log.critical("outbox stopped: %s", exc)
        return None, exc.code


def _start_camera_qr(cfg: KioskConfig, devices: Devices, session: SessionMachine,
                     sink: EventSink) -> Callable[[], None] | None:
    """Decode QR codes shown to the camera while identification is possible."""
    camera = devices.camera
    if not (cfg.qr.enabled and cfg.qr.camera_decode) or camera is None:
        return None
    from hardware.qr.camera_decode import CameraQrWatcher, preview_frames

    watcher = CameraQrWatcher(preview_frames(camera, lambda: session.state in IDENTIFY_FROM),
                              dedup_window_s=cfg.qr.dedup_window_s, interval_s=0.2)
    watcher.start(sink)
    return watcher.close
