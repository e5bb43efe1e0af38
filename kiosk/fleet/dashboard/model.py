"""What the pages show, computed from a :class:`~kiosk.fleet.dashboard.monitor.Snapshot`
(pure functions, no I/O): each kiosk's red/amber/green with its reasons, applied against
desired versions per layer, device states, and the progress of rollouts.

Red: offline, heartbeat stale, health verdict down/failed/unknown, a device fault (offline,
no device, hardware error, paper out or jammed, camera without frames) or a listed problem.
Amber: out of service, degraded, a device needing attention (paper low, user error), a
config layer behind its desired version, a refused bundle or a roll-back. Else green.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kiosk.fleet import topics
from kiosk.fleet.bundle import LAYERS, parse_scope
from kiosk.fleet.dashboard.monitor import DesiredDoc, Snapshot
from kiosk.fleet.rollout import verdict as rollout_verdict

RAG_ORDER = {"red": 0, "amber": 1, "green": 2}
GREEN_STATUS = frozenset({"online", "ok", "ready", "busy"})
RED_STATUS = frozenset({"offline", "no_device", "hardware_error", "error", "failed"})
RED_DETAIL = frozenset({"out", "jam", "jammed", "no_frames", "missing"})
AMBER_DETAIL = frozenset({"low", "near_end", "warning"})
GREEN_VERDICT = frozenset({"ok", "ready"})
AMBER_VERDICT = frozenset({"degraded", "warning", "warn"})
_WORDS = re.compile(r"[\s._:\-]+")


@dataclass(frozen=True)
class DeviceView:
    name: str
    status: str
    details: dict[str, str]
    rag: str
    reason: str | None


@dataclass(frozen=True)
class LayerView:
    layer: str
    scope: str | None
    applied: int | None
    desired: int | None

    @property
    def behind(self) -> bool:
        return self.desired is not None and (self.applied is None or self.applied < self.desired)


@dataclass
class KioskView:
    """One row of the fleet table, and the head of the kiosk's page."""

    kiosk_id: str
    group: str | None
    online: bool
    rag: str
    reasons: list[str]
    verdict: str
    out_of_service: bool
    last_heartbeat: float | None
    heartbeat_age: float | None
    applied_version: int | None
    layers: list[LayerView]
    devices: list[DeviceView]
    reported: dict[str, Any] = field(repr=False)

    @property
    def health(self) -> dict[str, Any]:
        h = self.reported.get("health")
        return h if isinstance(h, dict) else {}


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _words(text: str) -> str:
    return _WORDS.sub(" ", text).strip().lower()


def device_view(name: str, value: Any) -> DeviceView:
    """A device entry of the reported health: ``"online"`` or ``{"status": ..., "paper":
    "out", ...}``."""
    if isinstance(value, Mapping):
        status = str(value.get("status", "unknown"))
        details = {str(k): str(v) for k, v in value.items()
                   if k != "status" and isinstance(v, str | int | float | bool)}
    else:
        status, details = str(value), {}
    bad = [f"{k} {v}" for k, v in details.items() if v in RED_DETAIL]
    low = [f"{k} {v}" for k, v in details.items() if v in AMBER_DETAIL]
    if bad:
        return DeviceView(name, status, details, "red", f"{name}: {', '.join(bad)}")
    if status in RED_STATUS:
        return DeviceView(name, status, details, "red", f"{name}: {status.replace('_', ' ')}")
    if low or status not in GREEN_STATUS:
        what = ", ".join(low) or status.replace("_", " ")
        return DeviceView(name, status, details, "amber", f"{name}: {what}")
    return DeviceView(name, status, details, "green", None)


def desired_layers(snap: Snapshot, kiosk_id: str, group: str | None) -> dict[str, DesiredDoc]:
    """The desired bundle per layer for one kiosk (a rollout's staged copy counts)."""
    found: dict[str, DesiredDoc] = {}
    candidates = [snap.desired.get(topics.FLEET_DESIRED),
                  snap.desired.get(topics.group_desired(group)) if group else None,
                  snap.desired.get(topics.kiosk_desired(kiosk_id)),
                  snap.desired.get(topics.kiosk_staged(kiosk_id))]
    for doc in candidates:
        if doc is None:
            continue
        layer, _ = parse_scope(doc.scope)
        if layer not in found or doc.version > found[layer].version:
            found[layer] = doc
    return found


def kiosk_view(snap: Snapshot, kiosk_id: str, stale_after_s: float) -> KioskView:
    rep = snap.reported.get(kiosk_id) or {}
    health = _mapping(rep.get("health"))
    group = rep.get("group") if isinstance(rep.get("group"), str) else None
    online = snap.status.get(kiosk_id) == "online"
    red: list[str] = []
    amber: list[str] = []
    beat = rep.get("heartbeat_at") if isinstance(rep.get("heartbeat_at"), int | float) else None
    age = max(0.0, snap.at - beat) if beat is not None else None
    if not online:
        red.append("offline" if kiosk_id in snap.status else "no status")
    elif age is None:
        red.append("no heartbeat yet")
    elif age > stale_after_s:
        red.append(f"no heartbeat for {ago(age)}")
    verdict = str(health.get("verdict", "unknown")) if rep else "unknown"
    out_of_service = health.get("out_of_service") is True
    if out_of_service:
        amber.append("out of service")
    elif verdict in AMBER_VERDICT:
        amber.append(f"health {verdict}")
    elif verdict not in GREEN_VERDICT and rep:
        red.append(f"health {verdict.replace('_', ' ')}")
    devices_raw = health.get("devices")
    devices = [device_view(str(n), v) for n, v in sorted(devices_raw.items())] \
        if isinstance(devices_raw, Mapping) else []
    for d in devices:
        if d.reason:
            (red if d.rag == "red" else amber).append(d.reason)
    problems = health.get("problems")
    if isinstance(problems, list):
        red.extend(str(p)[:120] for p in problems)
    layers = _layers(snap, kiosk_id, group, rep)
    for la in layers:
        if la.behind:
            amber.append(f"{la.layer} config v{la.applied or 0} of v{la.desired}")
    rejection = rep.get("last_rejection")
    if isinstance(rejection, dict) and _newer_than_applied(rejection, rep):
        amber.append(f"refused v{rejection.get('version')}: {rejection.get('reason')}")
    outcome = rep.get("last_outcome")
    if isinstance(outcome, dict) and outcome.get("result") == "rolled_back":
        amber.append(f"rolled back: {str(outcome.get('reason', ''))[:80]}")
    reasons = _dedupe(red + amber)
    rag = "red" if red else "amber" if amber else "green"
    applied = rep.get("applied_version")
    return KioskView(kiosk_id, group, online, rag, reasons, verdict, out_of_service, beat, age,
                     applied if isinstance(applied, int) else None, layers, devices, rep)


def _layers(snap: Snapshot, kiosk_id: str, group: str | None,
            rep: Mapping[str, Any]) -> list[LayerView]:
    desired = desired_layers(snap, kiosk_id, group)
    applied = _mapping(rep.get("applied"))
    out = []
    for layer in LAYERS:
        a = applied.get(layer) if isinstance(applied.get(layer), dict) else None
        d = desired.get(layer)
        if a is None and d is None:
            continue
        version = a.get("version") if a else None
        out.append(LayerView(layer, (d.scope if d else a.get("scope") if a else None),
                             version if isinstance(version, int) else None,
                             d.version if d else None))
    return out


def _newer_than_applied(rejection: Mapping[str, Any], rep: Mapping[str, Any]) -> bool:
    at = rejection.get("at")
    outcome = rep.get("last_outcome")
    applied_at = outcome.get("at") if isinstance(outcome, dict) else None
    if not isinstance(at, int | float):
        return True
    return not isinstance(applied_at, int | float) or at >= applied_at


def _dedupe(reasons: list[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for r in reasons:
        key = _words(r)
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out


def fleet_views(snap: Snapshot, stale_after_s: float,
                group: str | None = None) -> list[KioskView]:
    """Every kiosk (of ``group``), red first, then amber, then green; by id within."""
    ids = sorted(set(snap.reported) | set(snap.status))
    views = [kiosk_view(snap, k, stale_after_s) for k in ids]
    if group:
        views = [v for v in views if v.group == group]
    return sorted(views, key=lambda v: (RAG_ORDER[v.rag], v.kiosk_id))


def groups(snap: Snapshot) -> list[str]:
    return sorted({str(r["group"]) for r in snap.reported.values()
                   if isinstance(r.get("group"), str)})


def summary(views: list[KioskView]) -> dict[str, int]:
    return {"total": len(views), "red": sum(v.rag == "red" for v in views),
            "amber": sum(v.rag == "amber" for v in views),
            "green": sum(v.rag == "green" for v in views),
            "offline": sum(not v.online for v in views),
            "out_of_service": sum(v.out_of_service for v in views)}


@dataclass
class RolloutView:
    """A group or fleet bundle on its way: staged batch by batch, then published."""

    scope: str
    version: int
    state: str  # "rolling out" | "published"
    total: int
    applied: list[str]
    failed: dict[str, str]
    in_batch: list[str]
    waiting: list[str]

    @property
    def percent(self) -> int:
        return round(100 * len(self.applied) / self.total) if self.total else 0

    @property
    def complete(self) -> bool:
        return self.state == "published" and len(self.applied) == self.total


def rollouts(snap: Snapshot, group: str | None = None) -> list[RolloutView]:
    """Progress of each group or fleet bundle seen on a desired or staged topic."""
    versions: dict[str, int] = {}
    published: dict[str, int] = {}
    staged: dict[str, set[str]] = {}
    for doc in snap.desired.values():
        kind, name = parse_scope(doc.scope)
        if kind == "kiosk" or (group and kind == "group" and name != group):
            continue
        versions[doc.scope] = max(versions.get(doc.scope, 0), doc.version)
        if doc.staged_for is None:
            published[doc.scope] = max(published.get(doc.scope, 0), doc.version)
    for doc in snap.desired.values():
        if doc.staged_for is not None and versions.get(doc.scope) == doc.version:
            staged.setdefault(doc.scope, set()).add(doc.staged_for)
    out = []
    for scope, version in versions.items():
        kind, name = parse_scope(scope)
        targets = sorted(k for k, r in snap.reported.items()
                         if kind == "fleet" or r.get("group") == name)
        if kind == "fleet" and group:
            targets = [k for k in targets if snap.reported[k].get("group") == group]
        view = RolloutView(scope, version,
                           "published" if published.get(scope, 0) >= version else "rolling out",
                           len(targets), [], {}, [], [])
        for k in targets:
            got = rollout_verdict(snap.reported.get(k), scope, version)
            if got == "applied":
                view.applied.append(k)
            elif got is not None:
                view.failed[k] = got.removeprefix("failed: ")
            elif k in staged.get(scope, set()):
                view.in_batch.append(k)
            else:
                view.waiting.append(k)
        out.append(view)
    return sorted(out, key=lambda r: (r.complete, r.scope))


def ago(seconds: float | None) -> str:
    """``4 s``, ``3 min``, ``2 h``, ``5 d``."""
    if seconds is None:
        return "never"
    s = max(0.0, seconds)
    if s < 90:
        return f"{s:.0f} s"
    if s < 90 * 60:
        return f"{s / 60:.0f} min"
    if s < 36 * 3600:
        return f"{s / 3600:.0f} h"
    return f"{s / 86400:.0f} d"
