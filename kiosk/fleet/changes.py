"""What a new configuration changes, and whether that can happen during a citizen session.

Settings a running kiosk takes at once (texts, timeouts, languages, the location shown) are
listed in :data:`LIVE`; everything else (device ports, printer queue, backend endpoint,
broker) waits for the idle gate: it is applied between sessions, never inside one. A setting
not listed is treated as needing idle, so a new section is safe by default.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kiosk.config.schema import KioskConfig

LIVE = ("session", "ui.default_language", "ui.languages", "ui.voice", "kiosk.location",
        "kiosk.district", "logging.level", "fleet.heartbeat_s", "fleet.health_window_s",
        "fleet.health_probe_s", "fleet.idle_poll_s", "matters", "notices", "hours", "texts",
        "features",
        # opening hours, the closed screen, dimming and the nightly restart are read by the
        # running kiosk at every turn (kiosk.appliance.opening, kiosk.run); the backlight
        # device itself is opened once (appliance.backlight*: a restart)
        "appliance.timezone", "appliance.hours", "appliance.closed_on",
        "appliance.closing_grace_s", "appliance.closed_text", "appliance.dim_when_closed",
        "appliance.dim_level", "appliance.bright_level", "appliance.dim_after_idle_s",
        "appliance.wake_s", "appliance.nightly_restart")


def _flatten(data: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(data, Mapping) and data:
        for key, value in data.items():
            _flatten(value, f"{prefix}.{key}" if prefix else str(key), out)
    else:
        out[prefix] = data


def changed_keys(old: KioskConfig, new: KioskConfig) -> list[str]:
    """The key paths whose values differ between ``old`` and ``new`` (leaves, sorted)."""
    a: dict[str, Any] = {}
    b: dict[str, Any] = {}
    _flatten(old.model_dump(mode="json"), "", a)
    _flatten(new.model_dump(mode="json"), "", b)
    return sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))


def is_live(key: str) -> bool:
    return any(key == p or key.startswith(p + ".") for p in LIVE)


def needs_idle(keys: Iterable[str]) -> list[str]:
    """The keys among ``keys`` that may change only when no citizen session is on."""
    return [k for k in keys if not is_live(k)]


@dataclass(frozen=True)
class ConfigChange:
    """What the agent asks the kiosk to take: ``config`` replacing ``previous``.

    ``reason`` is ``apply`` (a new bundle) or ``rollback`` (back to ``config`` after the new
    one failed); ``changed`` are the key paths that differ; ``idle`` says whether some of them
    needed the idle gate (the agent has waited for it).
    """

    config: KioskConfig
    previous: KioskConfig
    changed: tuple[str, ...]
    idle: bool
    reason: str = "apply"
