"""The kiosk's devices, typed by role: one container the journey, the UI, diagnostics and
fleet telemetry read, instead of reaching into drivers.

A configured device that could not be built (disabled, not installed, port missing, queue
absent) is a slot with a ``reason`` (a message key) and no device: the kiosk runs on, and the
matters that need it are blocked. :meth:`Devices.snapshot` is the health the fleet reports:
status, details, counters, capabilities and inventory of every device, redacted like Home
Assistant's diagnostics (``async_redact_data``), never a call into a driver's internals.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from hardware.base import DeviceError, DeviceStatus, EventSink, HealthLevel, HealthResult
from hardware.roles import Camera, CardReader, CodeScanner, DeviceModel, Printer
from kiosk.privacy import redact

log = logging.getLogger("kiosk.devices")

DEVICE_NAMES = ("idcard", "qr", "camera", "printer")
D = TypeVar("D", bound=DeviceModel)


@dataclass
class DeviceSlot(Generic[D]):
    """A configured device: the adapter when it could be built, else why not."""

    name: str
    device: D | None = None
    reason: str | None = None  # message key when disabled

    @property
    def status(self) -> DeviceStatus:
        if self.device is None:
            return DeviceStatus.NO_DEVICE
        return self.device.status

    @property
    def usable(self) -> bool:
        return self.device is not None and self.status.usable


class Devices(Mapping[str, DeviceSlot[Any]]):
    """The four roles of a kiosk, by name (``idcard``, ``qr``, ``camera``, ``printer``).

    ``simulators`` maps a device name to the control socket of the simulator that stands in
    for it (``sim://`` URLs); the simulation dock and tests talk to those sockets.
    """

    def __init__(self, *, idcard: DeviceSlot[CardReader] | None = None,
                 qr: DeviceSlot[CodeScanner] | None = None,
                 camera: DeviceSlot[Camera] | None = None,
                 printer: DeviceSlot[Printer] | None = None,
                 simulators: Mapping[str, str] | None = None) -> None:
        self._idcard = idcard or DeviceSlot("idcard", reason="device_disabled")
        self._qr = qr or DeviceSlot("qr", reason="device_disabled")
        self._camera = camera or DeviceSlot("camera", reason="device_disabled")
        self._printer = printer or DeviceSlot("printer", reason="device_disabled")
        self._slots: dict[str, DeviceSlot[Any]] = {
            "idcard": self._idcard, "qr": self._qr, "camera": self._camera,
            "printer": self._printer}
        self.simulators: dict[str, str] = dict(simulators or {})

    @classmethod
    def of(cls, *, card_reader: CardReader | None = None, scanner: CodeScanner | None = None,
           camera: Camera | None = None, printer: Printer | None = None,
           simulators: Mapping[str, str] | None = None) -> Devices:
        """A container of already built devices (tests, tools); a missing one is disabled."""
        def slot(name: str, device: D | None) -> DeviceSlot[D]:
            return DeviceSlot(name, device, None if device is not None else "device_disabled")

        return cls(idcard=slot("idcard", card_reader), qr=slot("qr", scanner),
                   camera=slot("camera", camera), printer=slot("printer", printer),
                   simulators=simulators)

    # -- typed access ---------------------------------------------------------------------
    @property
    def card_reader(self) -> CardReader | None:
        return self._idcard.device

    @property
    def scanner(self) -> CodeScanner | None:
        return self._qr.device

    @property
    def camera(self) -> Camera | None:
        return self._camera.device

    @property
    def printer(self) -> Printer | None:
        return self._printer.device

    def usable(self, name: str) -> bool:
        slot = self.get(name)
        return slot is not None and slot.usable

    # -- Mapping --------------------------------------------------------------------------
    def __getitem__(self, name: str) -> DeviceSlot[Any]:
        return self._slots[name]

    def __iter__(self) -> Iterator[str]:
        return iter(DEVICE_NAMES)

    def __len__(self) -> int:
        return len(DEVICE_NAMES)

    # -- lifecycle ------------------------------------------------------------------------
    def start(self, sink: EventSink) -> None:
        """Start every device with the one sink; a device that fails to start is disabled
        (``device_unavailable``), the others run."""
        for slot in self.values():
            if slot.device is None:
                continue
            try:
                slot.device.start(sink)
            except (DeviceError, OSError) as exc:
                log.warning("device %s could not start: %s", slot.name, exc)
                slot.reason = "device_unavailable"

    def close(self) -> None:
        """Close every device (and the simulators they own); one failing never stops the
        others from closing."""
        for slot in self.values():
            if slot.device is None:
                continue
            try:
                slot.device.close()
            except Exception:  # closing must never stop the others from closing
                log.exception("closing %s failed", slot.name)

    # -- diagnostics and telemetry ---------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """The devices' health for diagnostics and the fleet twin, without I/O::

            {"at": UNIX, "devices": {NAME: {"status", "usable", "reason", "details",
                                           "counters", "capabilities", "inventory",
                                           "simulated"}}}

        Disabled devices have ``status`` ``no_device`` and their ``reason``; everything is
        passed through :func:`kiosk.privacy.redact`.
        """
        devices: dict[str, Any] = {}
        for name, slot in self.items():
            entry: dict[str, Any] = {"status": slot.status.value, "usable": slot.usable,
                                     "reason": slot.reason, "simulated": name in self.simulators}
            device = slot.device
            if device is not None:
                try:
                    entry.update(details=device.details, counters=dict(device.counters),
                                 capabilities=device.capabilities(),
                                 inventory=device.inventory())
                except Exception:  # a driver's description must not break telemetry
                    log.exception("describing %s failed", name)
                    entry["reason"] = entry["reason"] or "describe_failed"
            devices[name] = entry
        snapshot: dict[str, Any] = redact({"at": round(time.time(), 3), "devices": devices})
        return snapshot

    def check_health(self, level: HealthLevel = HealthLevel.INTERNAL,
                     names: tuple[str, ...] = DEVICE_NAMES) -> dict[str, HealthResult]:
        """Each named device's health check at ``level`` (``external`` and ``interactive``
        talk to the devices: call off the UI thread)."""
        results: dict[str, HealthResult] = {}
        for name in names:
            slot = self[name]
            if slot.device is None:
                results[name] = HealthResult(name, level, False, DeviceStatus.NO_DEVICE,
                                             f"{name}: {slot.reason or 'not configured'}")
                continue
            try:
                results[name] = slot.device.check_health(level)
            except DeviceError as exc:
                results[name] = HealthResult(name, level, False, slot.status,
                                             f"{name}: {exc.message}", {"error": exc.detail})
        return results

    def summary(self) -> str:
        return ", ".join(f"{name}={slot.status.value}" for name, slot in self.items())
