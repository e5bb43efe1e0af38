"""The device model every hardware adapter follows (after XFS4IoT and UnifiedPOS).

Each adapter exposes a status with class details, capabilities and inventory, a health check
at three levels, status-change events carrying only what changed, counters, and one typed
error set. Long waits take a deadline and a cancel event.

One lifecycle for every device: ``start(sink)`` begins background work and delivers every
event (typed :class:`DeviceEvent` subclasses, :mod:`hardware.events`) to the one ``sink``;
``close()`` ends it and releases the transport (and the simulator a ``sim://`` URL started).
``status``, ``details``, ``counters``, ``capabilities()`` and ``inventory()`` never do I/O
(any thread may read them: diagnostics, fleet telemetry); ``check_health(EXTERNAL)`` and
``check_health(INTERACTIVE)`` talk to the device.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from hardware.listeners import Listeners

log = logging.getLogger("hardware")


class DeviceStatus(enum.StrEnum):
    """Overall state of a device, as shown to operators and used to hide matters."""

    ONLINE = "online"
    OFFLINE = "offline"
    NO_DEVICE = "no_device"
    HARDWARE_ERROR = "hardware_error"
    USER_ERROR = "user_error"
    BUSY = "busy"

    @property
    def usable(self) -> bool:
        return self in (DeviceStatus.ONLINE, DeviceStatus.BUSY, DeviceStatus.USER_ERROR)


class HealthLevel(enum.StrEnum):
    INTERNAL = "internal"  # the driver's own state, no I/O
    EXTERNAL = "external"  # talk to the device
    INTERACTIVE = "interactive"  # needs a person (place a card, look at the camera)


class DeviceErrorCode(enum.StrEnum):
    TIMEOUT = "timeout"
    DEVICE_NOT_READY = "device_not_ready"
    HARDWARE_ERROR = "hardware_error"
    INVALID_DATA = "invalid_data"
    CANCELED = "canceled"
    UNSUPPORTED = "unsupported"


class DeviceError(Exception):
    """Base of the typed error set shared by all devices.

    ``code`` is one of :class:`DeviceErrorCode`; ``detail`` is a short machine-readable
    reason specific to the device (``no_card``, ``checksum``, ``media-empty`` ...). The
    message never holds personal data.
    """

    code: DeviceErrorCode = DeviceErrorCode.HARDWARE_ERROR

    def __init__(self, message: str, *, detail: str | None = None) -> None:
        super().__init__(message)
        self.detail = detail or self.code.value

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.detail


class DeviceTimeout(DeviceError):
    code = DeviceErrorCode.TIMEOUT


class DeviceNotReady(DeviceError):
    code = DeviceErrorCode.DEVICE_NOT_READY


class HardwareError(DeviceError):
    code = DeviceErrorCode.HARDWARE_ERROR


class InvalidData(DeviceError):
    code = DeviceErrorCode.INVALID_DATA


class Canceled(DeviceError):
    code = DeviceErrorCode.CANCELED


class Unsupported(DeviceError):
    code = DeviceErrorCode.UNSUPPORTED


@dataclass(frozen=True)
class HealthResult:
    """Outcome of :meth:`Device.check_health`: machine-readable and a human text."""

    device: str
    level: HealthLevel
    ok: bool
    status: DeviceStatus
    text: str
    details: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "device": self.device,
            "level": self.level.value,
            "ok": self.ok,
            "status": self.status.value,
            "text": self.text,
            "details": dict(self.details),
        }


@dataclass(frozen=True)
class DeviceEvent:
    """Base of every event a device delivers to its sink (see :mod:`hardware.events`).

    ``kind`` names the event in JSON output (diag commands); code matches events by type.
    """

    kind: ClassVar[str] = "device_event"


@dataclass(frozen=True)
class StatusChange(DeviceEvent):
    """A status-change event: only the keys that changed, with their new values."""

    kind: ClassVar[str] = "status_changed"
    device: str
    changed: Mapping[str, Any]
    status: DeviceStatus
    at: float


StatusListener = Callable[[StatusChange], None]
EventSink = Callable[[DeviceEvent], None]


class Deadline:
    """A monotonic deadline with an optional cancel event, for every long wait."""

    def __init__(self, seconds: float, cancel: threading.Event | None = None) -> None:
        self.end = time.monotonic() + seconds
        self.cancel = cancel or threading.Event()

    def remaining(self) -> float:
        return max(0.0, self.end - time.monotonic())

    @property
    def expired(self) -> bool:
        return time.monotonic() >= self.end

    def check(self, what: str) -> None:
        """Raise :class:`Canceled` or :class:`DeviceTimeout` when the wait must end."""
        if self.cancel.is_set():
            raise Canceled(f"{what}: canceled")
        if self.expired:
            raise DeviceTimeout(f"{what}: timed out")


class Device:
    """Base class of a device adapter: status, details, events, counters, health.

    Subclasses call :meth:`_update` whenever something changes: the sink given to
    :meth:`start` (and any :meth:`subscribe` listener) gets one :class:`StatusChange` holding
    only the keys that changed. Device-specific events go out with :meth:`emit`. Subclasses
    start their background work in :meth:`_start` and call ``super().close()`` last.
    """

    name: str = "device"

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._status = DeviceStatus.OFFLINE
        self._details: dict[str, Any] = {}
        self._listeners: Listeners[StatusListener] = Listeners()
        self._sink: EventSink | None = None
        self.counters: dict[str, int] = {}

    # -- lifecycle ------------------------------------------------------------------------
    def start(self, sink: EventSink) -> None:
        """Start background work; every event from now on goes to ``sink`` (called on the
        device's own threads: it must not block)."""
        with self._lock:
            self._sink = sink
        self._start()

    def _start(self) -> None:
        """Subclass hook: start polling or grabbing (default: nothing to start)."""

    def emit(self, event: DeviceEvent) -> None:
        """Deliver ``event`` to the sink; a failing sink is logged, never raised here."""
        with self._lock:
            sink = self._sink
        if sink is None:
            return
        try:
            sink(event)
        except Exception:  # the device's thread must survive its listener's bugs
            log.exception("%s: event sink failed on %s", self.name, type(event).__name__)

    # -- status ---------------------------------------------------------------------------
    @property
    def status(self) -> DeviceStatus:
        return self._status

    @property
    def details(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._details)

    def subscribe(self, listener: StatusListener) -> Callable[[], None]:
        return self._listeners.subscribe(listener)

    def _update(self, status: DeviceStatus | None = None, **details: Any) -> None:
        with self._lock:
            changed: dict[str, Any] = {}
            if status is not None and status != self._status:
                self._status = status
                changed["status"] = status.value
            for key, value in details.items():
                if self._details.get(key, object()) != value:
                    self._details[key] = value
                    changed[key] = value
            if not changed:
                return
            event = StatusChange(self.name, changed, self._status, time.time())
        for listener in self._listeners.snapshot():
            listener(event)
        self.emit(event)

    def count(self, counter: str, n: int = 1) -> None:
        with self._lock:
            self.counters[counter] = self.counters.get(counter, 0) + n

    # -- description ----------------------------------------------------------------------
    def capabilities(self) -> dict[str, Any]:
        return {}

    def inventory(self) -> dict[str, Any]:
        return {}

    def check_health(self, level: HealthLevel = HealthLevel.INTERNAL) -> HealthResult:
        ok = self._status.usable
        return HealthResult(self.name, level, ok, self._status, f"{self.name}: {self._status}")

    def close(self) -> None:
        """Release the transport; safe to call twice. Subclasses call this last: no event
        reaches the sink afterwards."""
        with self._lock:
            self._sink = None
