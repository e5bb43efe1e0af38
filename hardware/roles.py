"""The typed contract between the kiosk core and its devices: one Protocol per role.

The core names a role (``CardReader``, ``CodeScanner``, ``Camera``, ``Printer``), never a
driver class: the serial SAM reader and any future USB reader are both a ``CardReader``.
Every role shares the device-model surface of :class:`DeviceModel` (after XFS4IoT and
UnifiedPOS: status, capabilities, inventory, a health check at three levels, counters) and
one lifecycle, ``start(sink)`` / ``close()``, where ``sink`` receives the typed events of
:mod:`hardware.events`. Like python-escpos' single abstract ``_raw``, each role adds only the
few operations the journey needs. Value types that cross the seam live here as well.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

import numpy.typing as npt

from hardware.base import Deadline, DeviceStatus, EventSink, HealthLevel, HealthResult
from hardware.idcard.card import IdCardData

Frame = npt.NDArray[Any]  # uint8 BGR
OutcomeState = Literal["completed", "aborted", "canceled", "timeout", "duplicate"]


@dataclass(frozen=True)
class Preview:
    """The newest camera frame: a read-only view, valid until the next frame replaces it;
    ``at`` is when it was grabbed (``time.monotonic()``, 0 when unknown)."""

    seq: int
    frame: Frame
    at: float = 0.0


@dataclass(frozen=True)
class PrintOutcome:
    """How a print request ended. ``duplicate``: the document was already printed."""

    job_id: int | None
    state: OutcomeState
    elapsed_ms: float
    message_key: str | None = None

    @property
    def ok(self) -> bool:
        return self.state in ("completed", "duplicate")

    def as_dict(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "state": self.state,
                "elapsed_ms": round(self.elapsed_ms, 1), "message_key": self.message_key}


@runtime_checkable
class DeviceModel(Protocol):
    """What every device offers: diagnostics and fleet telemetry call only this.

    ``status``, ``details``, ``counters``, ``capabilities()`` and ``inventory()`` never do
    I/O; ``check_health`` at ``external`` / ``interactive`` level talks to the device.
    """

    name: str
    counters: dict[str, int]

    @property
    def status(self) -> DeviceStatus: ...

    @property
    def details(self) -> dict[str, Any]: ...

    def capabilities(self) -> dict[str, Any]: ...

    def inventory(self) -> dict[str, Any]: ...

    def check_health(self, level: HealthLevel = HealthLevel.INTERNAL) -> HealthResult: ...

    def start(self, sink: EventSink) -> None: ...

    def close(self) -> None: ...


@runtime_checkable
class CardReader(DeviceModel, Protocol):
    """An ID-card reader: emits CardInserted / CardRead / CardRemoved / CardReadFailed."""

    def read_card(self, deadline: Deadline) -> IdCardData: ...


@runtime_checkable
class CodeScanner(DeviceModel, Protocol):
    """A QR code scanner: emits CodeScanned / ScanRejected."""

    def read_code(self, deadline: Deadline, *, held: bool = False) -> str:
        """The next scan; ``held``: a code held under the scanner since before counts."""
        ...

    @property
    def sightings(self) -> int: ...

    def next_sighting(self, deadline: Deadline, after: int) -> tuple[int, str]:
        """The latest read (repeats too) once there is one after number ``after``."""
        ...


@runtime_checkable
class Camera(DeviceModel, Protocol):
    """A camera: frames for face verification and QR decoding, a preview for the UI;
    emits FrameSourceOnline / FrameSourceOffline."""

    def latest_frame(self, timeout: float = 1.0) -> Frame | None:
        """A copy of a frame newer than the last one returned, or None (waits ``timeout``)."""
        ...

    def preview(self) -> Preview | None:
        """The newest frame without waiting (never blocks on I/O)."""
        ...

    def frames(self, timeout: float = 0.5) -> Callable[[], Frame | None]:
        """A callable returning successive frames (for the face package)."""
        ...

    def on_challenge(self, challenge: str | None) -> None:
        """The liveness challenge the citizen is shown now (a real camera ignores it; the
        simulated person acts it out)."""
        ...


@runtime_checkable
class Printer(DeviceModel, Protocol):
    """A document printer: prints each ``doc_id`` at most once; emits JobProgress."""

    def print_document(self, doc_id: str, pdf: bytes, title: str,
                       deadline_s: float | None = None,
                       cancel: threading.Event | None = None) -> PrintOutcome: ...
