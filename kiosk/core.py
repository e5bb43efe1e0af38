"""The kiosk's application core without UI: devices, backend, session, journey.

Devices are built from ``hardware/<name>/factory.py:create(cfg)``. A device that cannot be
built or started (missing port, no queue, module absent) is kept as *disabled* with a reason;
the kiosk runs on, and the matters that need it are hidden or shown disabled.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hardware.base import Device, DeviceError, DeviceStatus
from kiosk.backend.contract import BackendAdapter, BackendError, Matter
from kiosk.config.schema import KioskConfig
from kiosk.session.machine import SessionMachine, TimeoutPolicy

log = logging.getLogger("kiosk.core")

DEVICE_NAMES = ("idcard", "qr", "camera", "printer")


@dataclass
class DeviceSlot:
    """A configured device: the adapter when it could be built, else why not."""

    name: str
    device: Device | None = None
    reason: str | None = None  # message key when disabled

    @property
    def status(self) -> DeviceStatus:
        if self.device is None:
            return DeviceStatus.NO_DEVICE
        return self.device.status

    @property
    def usable(self) -> bool:
        return self.device is not None and self.status.usable


class KioskCore:
    """Owns every long-lived part of one kiosk; the UI and ``--no-ui`` both sit on it."""

    def __init__(self, cfg: KioskConfig, backend: BackendAdapter | None = None) -> None:
        self.cfg = cfg
        Path(cfg.var_dir).mkdir(parents=True, exist_ok=True)
        s = cfg.session
        self.session = SessionMachine(policy=TimeoutPolicy(
            timeout_s=s.inactivity_timeout_s, warning_s=s.warning_s,
            elderly_factor=s.elderly_timeout_factor, per_state=dict(s.per_screen_timeout_s)))
        self.devices: dict[str, DeviceSlot] = {}
        self.backend: BackendAdapter | None = backend
        self.backend_error: str | None = None
        self._ready = threading.Event()
        self._device_listeners: list[Callable[[str, Any], None]] = []
        self.journey: Any = None
        self._camera_qr: Any = None

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        for name in DEVICE_NAMES:
            self.devices[name] = self._build_device(name)
        if self.backend is None:
            self.backend = self._build_backend()
        from kiosk.session.journey import Journey

        self.journey = Journey(self)
        self.journey.start()
        for slot in self.devices.values():
            starter = getattr(slot.device, "start", None)
            if callable(starter):
                try:
                    starter(self._device_event(slot.name))
                except (DeviceError, OSError) as exc:
                    log.warning("device %s could not start: %s", slot.name, exc)
                    slot.reason = "device_unavailable"
        self._start_camera_qr()

    def _start_camera_qr(self) -> None:
        """Decode QR codes shown to the camera while identification is possible."""
        camera = self.device("camera")
        if not (self.cfg.qr.enabled and self.cfg.qr.camera_decode) or camera is None:
            return
        from hardware.qr.camera_decode import CameraQrWatcher
        from kiosk.session.states import IDENTIFY_FROM

        last_seq, last_at = -1, 0.0

        def source() -> Any:
            nonlocal last_seq, last_at
            if self.session.state not in IDENTIFY_FROM:
                return None  # the camera is busy with faces, or nobody needs a code now
            now = time.monotonic()
            if now - last_at < 0.25:  # 4 frames a second is enough for a code held still
                return None
            preview = camera.preview()  # type: ignore[attr-defined]
            if preview is None or preview.seq == last_seq:
                return None
            last_seq, last_at = preview.seq, now
            return preview.frame.copy()

        self._camera_qr = CameraQrWatcher(source, self._device_event("qr"),
                                          dedup_window_s=self.cfg.qr.dedup_window_s,
                                          interval_s=0.2)
        self._camera_qr.start()

    def stop(self) -> None:
        if self._camera_qr is not None:
            self._camera_qr.stop()
        if self.journey is not None:
            self.journey.stop()
        for slot in self.devices.values():
            if slot.device is not None:
                try:
                    slot.device.close()
                except Exception:  # closing must never stop the others from closing
                    log.exception("closing %s failed", slot.name)
        closer = getattr(self.backend, "close", None)
        if callable(closer):
            closer()

    def mark_ready(self, ready_file: str | None = None) -> None:
        self._ready.set()
        if ready_file:
            Path(ready_file).write_text("ready\n", encoding="utf-8")

    def wait_ready(self, timeout: float) -> bool:
        return self._ready.wait(timeout)

    def tick(self) -> None:
        """Drive the inactivity timer (called about twice a second)."""
        self.session.tick()

    # -- devices --------------------------------------------------------------------------
    def _build_device(self, name: str) -> DeviceSlot:
        section = getattr(self.cfg, name)
        if not section.enabled:
            return DeviceSlot(name, reason="device_disabled")
        try:
            factory = importlib.import_module(f"hardware.{name}.factory")
        except ModuleNotFoundError as exc:
            log.warning("device %s: adapter not installed (%s)", name, exc.name)
            return DeviceSlot(name, reason="device_not_installed")
        try:
            device = factory.create(self.cfg)
        except (DeviceError, OSError, ValueError) as exc:
            log.warning("device %s unavailable: %s", name, exc)
            return DeviceSlot(name, reason="device_unavailable")
        assert isinstance(device, Device)
        return DeviceSlot(name, device)

    def device(self, name: str) -> Device | None:
        slot = self.devices.get(name)
        return slot.device if slot else None

    def on_device_event(self, listener: Callable[[str, Any], None]) -> None:
        self._device_listeners.append(listener)

    def _device_event(self, name: str) -> Callable[[Any], None]:
        def emit(event: Any) -> None:
            for listener in list(self._device_listeners):
                try:
                    listener(name, event)
                except Exception:
                    log.exception("device event listener failed (%s)", name)

        return emit

    # -- backend --------------------------------------------------------------------------
    def _build_backend(self) -> BackendAdapter | None:
        try:
            factory = importlib.import_module("kiosk.backend.factory")
            backend: BackendAdapter = factory.create_backend(self.cfg)
            if self.cfg.profile == "simulation":
                from kiosk.backend.switch import SwitchableBackend

                # the simulation dock and fault tests cut and restore it like a real outage
                return SwitchableBackend(backend)  # type: ignore[return-value]
            return backend
        except ModuleNotFoundError as exc:
            log.error("backend adapter not installed (%s)", exc.name)
            self.backend_error = "backend_not_installed"
        except BackendError as exc:
            log.error("backend unavailable: %s", exc.code)
            self.backend_error = exc.code
        return None

    # -- what the citizen can do ----------------------------------------------------------
    def matter_blockers(self, matter: Matter) -> list[str]:
        """Message keys of the reasons a matter cannot be done now (empty: available)."""
        reasons = []
        for name in matter.devices:
            slot = self.devices.get(name)
            if slot is None or not slot.usable:
                reasons.append(f"{name}_down")
        if self.backend is None:
            reasons.append("backend_down")
        return reasons

    def summary(self) -> str:
        parts = [f"{n}={s.status.value}" for n, s in self.devices.items()]
        parts.append("backend=" + ("ok" if self.backend is not None else str(self.backend_error)))
        journey = self.journey
        if journey is not None and journey.outbox_error:
            parts.append(f"outbox={journey.outbox_error}")
        return ", ".join(parts)
