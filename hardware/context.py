"""The small context every device factory takes beside its own config section.

Factories never see the kiosk's whole configuration: ``create(section, ctx)`` gets its own
section (``IdCardConfig``, ``PrinterConfig`` ...) and this: where state goes, which kiosk this
is (printed on test pages), whether ``sim://`` URLs are allowed, and the registry where the
simulators it starts record their control sockets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from hardware.sim.kit import SimRegistry


@dataclass(frozen=True)
class DeviceContext:
    """What a device factory may know about the kiosk around it."""

    var_dir: Path = Path("var")
    kiosk_id: str = ""
    allow_simulation: bool = True
    sims: SimRegistry = field(default_factory=SimRegistry)
