"""The MQTT topics of the fleet (see ARCHITECTURE.md, Fleet)."""

from __future__ import annotations

FLEET_DESIRED = "fleet/config/desired"
ONLINE = b"online"
OFFLINE = b"offline"


def group_desired(group: str) -> str:
    return f"fleet/{group}/config/desired"


def kiosk_desired(kiosk_id: str) -> str:
    return f"kiosk/{kiosk_id}/config/desired"


def kiosk_staged(kiosk_id: str) -> str:
    """A group or fleet bundle staged for this kiosk alone by a rollout batch."""
    return f"kiosk/{kiosk_id}/config/staged"


def sync(kiosk_id: str) -> str:
    """The kiosk's own marker topic: its marker comes back after the retained snapshot."""
    return f"kiosk/{kiosk_id}/sync"


def status(kiosk_id: str) -> str:
    return f"kiosk/{kiosk_id}/status"


def reported(kiosk_id: str) -> str:
    return f"kiosk/{kiosk_id}/reported"


def cmd(kiosk_id: str) -> str:
    return f"kiosk/{kiosk_id}/cmd"


def cmd_result(kiosk_id: str) -> str:
    return f"kiosk/{kiosk_id}/cmd/result"


def kiosk_of(topic: str) -> str | None:
    """The kiosk id in a ``kiosk/<id>/...`` topic."""
    parts = topic.split("/")
    return parts[1] if len(parts) >= 3 and parts[0] == "kiosk" and parts[1] else None
