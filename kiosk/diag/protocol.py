"""What diagnostics needs of a device: the device-model surface of :mod:`hardware.base`.

Every adapter (and the typed role protocols of the device container) satisfies
:class:`Diagnosable`; diagnostics never imports a concrete driver or factory.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from hardware.base import DeviceStatus, HealthLevel, HealthResult


@runtime_checkable
class Diagnosable(Protocol):
    """A device as diagnostics sees it."""

    @property
    def name(self) -> str: ...

    @property
    def status(self) -> DeviceStatus: ...

    @property
    def counters(self) -> Mapping[str, int]: ...

    def capabilities(self) -> Mapping[str, Any]: ...

    def inventory(self) -> Mapping[str, Any]: ...

    def check_health(self, level: HealthLevel = HealthLevel.INTERNAL) -> HealthResult: ...


def details_of(device: Diagnosable) -> Mapping[str, Any]:
    """The device's class details (``paper``, ``reasons`` ...) when it offers them."""
    try:
        details = getattr(device, "details", None)
    except Exception:  # a property that fails is a device fault, reported elsewhere
        return {}
    return details if isinstance(details, Mapping) else {}
