"""In service or out of service, from what the kiosk observes; pure, with an injected clock.

Out of service when a critical device is not usable (or missing), when the backend has been
unreachable for ``backend_unreachable_limit_s`` or longer, or when a technician or operator
says so. With ``auto_return`` the kiosk returns by itself once the faults clear; without it a
fault-caused outage holds until someone puts the kiosk back in service. A device that is not
critical never takes the kiosk out of service (it only disables the matters that need it).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kiosk.config.schema import ServiceConfig
from kiosk.diag.fixes import Lang, device_label

_TEXT: dict[str, dict[Lang, str]] = {
    "device": {"zh_CN": "{device}不可用（{status}）", "zh_HK": "{device}不可用（{status}）",
               "en": "{device} is not usable ({status})"},
    "missing": {"zh_CN": "{device}未连接", "zh_HK": "{device}未連接",
                "en": "{device} is not connected"},
    "backend": {"zh_CN": "后台服务已 {minutes} 分钟无法连接",
                "zh_HK": "後台服務已 {minutes} 分鐘無法連接",
                "en": "the government platform has been unreachable for {minutes} min"},
    "operator": {"zh_CN": "由{by}设为暂停服务：{note}", "zh_HK": "由{by}設為暫停服務：{note}",
                 "en": "set out of service by the {by}: {note}"},
    "latched": {"zh_CN": "故障已排除，等待技术人员恢复服务",
                "zh_HK": "故障已排除，等待技術人員恢復服務",
                "en": "faults cleared; waiting for a technician to put it back in service"},
}
_BY: dict[str, dict[Lang, str]] = {
    "technician": {"zh_CN": "技术人员", "zh_HK": "技術人員", "en": "technician"},
    "operator": {"zh_CN": "运维人员", "zh_HK": "運維人員", "en": "operator"},
}


@dataclass(frozen=True)
class DeviceCondition:
    """What the kiosk knows of one device: usable or not, and its status word."""

    usable: bool
    status: str


def starting_condition(status: Any, *, usable: bool, settling: bool) -> DeviceCondition:
    """A device's condition as the kiosk starts: within the start-up grace a device still
    ``offline`` (not opened yet) counts as starting; a fault it reports (a missing port, a
    SAM error) is a fault at once, so a technician's or a test's injected fault shows."""
    word = str(getattr(status, "value", status))
    return DeviceCondition(usable or (settling and word == "offline"), word)


@dataclass(frozen=True)
class Reason:
    """Why the kiosk is out of service: a stable code and its words in each language."""

    code: str  # device:<name> | missing:<name> | backend | operator | latched
    params: Mapping[str, str] = field(default_factory=dict)

    def text(self, lang: Lang = "en") -> str:
        kind = self.code.split(":", 1)[0]
        params = dict(self.params)
        if "device" in params:
            params["device"] = device_label(params["device"], lang)
        if "by" in params:
            params["by"] = _BY.get(params["by"], {}).get(lang, params["by"])
        return _TEXT[kind][lang].format(**params)


@dataclass(frozen=True)
class ServiceDecision:
    in_service: bool
    reasons: tuple[Reason, ...]
    recheck_in_s: float | None = None  # when the decision may change without new input

    def texts(self, lang: Lang = "en") -> list[str]:
        return [r.text(lang) for r in self.reasons]


@dataclass(frozen=True)
class _Flag:
    by: str
    note: str


class ServiceState:
    """Decides in service / out of service; thread-safe; ``clock`` is monotonic seconds."""

    def __init__(self, critical: Iterable[str], *, backend_unreachable_limit_s: float,
                 auto_return: bool = True,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.critical = tuple(critical)
        self.limit_s = float(backend_unreachable_limit_s)
        self.auto_return = auto_return
        self._clock = clock
        self._lock = threading.Lock()
        self._devices: dict[str, DeviceCondition] = {}
        self._unreachable_since: float | None = None
        self._flag: _Flag | None = None
        self._latched = False

    @classmethod
    def from_config(cls, service_cfg: ServiceConfig, *,
                    clock: Callable[[], float] = time.monotonic) -> ServiceState:
        """From the ``service`` configuration section."""
        return cls(service_cfg.critical_devices,
                   backend_unreachable_limit_s=service_cfg.backend_unreachable_limit_s,
                   auto_return=service_cfg.auto_return, clock=clock)

    # -- inputs ---------------------------------------------------------------------------
    def observe(self, *, devices: Mapping[str, DeviceCondition] | None = None,
                backend_reachable: bool | None = None) -> ServiceDecision:
        """Record what was seen (devices: all of them, or the ones that changed)."""
        with self._lock:
            if devices is not None:
                self._devices.update(devices)
            if backend_reachable is True:
                self._unreachable_since = None
            elif backend_reachable is False and self._unreachable_since is None:
                self._unreachable_since = self._clock()
            return self._decide()

    def set_out_of_service(self, by: str, note: str) -> ServiceDecision:
        """A technician's or operator's decision (``by``: technician | operator)."""
        with self._lock:
            self._flag = _Flag(by, note.strip()[:200] or "-")
            return self._decide()

    def back_in_service(self) -> ServiceDecision:
        """Clear the technician/operator flag and a held outage; faults still present keep
        the kiosk out of service."""
        with self._lock:
            self._flag = None
            self._latched = False
            return self._decide()

    def unreachable_for_s(self) -> float | None:
        with self._lock:
            since = self._unreachable_since
        return None if since is None else max(0.0, self._clock() - since)

    # -- decision -------------------------------------------------------------------------
    def decision(self) -> ServiceDecision:
        with self._lock:
            return self._decide()

    def _decide(self) -> ServiceDecision:
        now = self._clock()
        reasons: list[Reason] = []
        for name in self.critical:
            cond = self._devices.get(name)
            if cond is None:
                reasons.append(Reason(f"missing:{name}", {"device": name}))
            elif not cond.usable:
                reasons.append(Reason(f"device:{name}", {"device": name,
                                                         "status": cond.status}))
        recheck: float | None = None
        if self._unreachable_since is not None:
            down = now - self._unreachable_since
            if down >= self.limit_s:
                reasons.append(Reason("backend", {"minutes": f"{down / 60:.0f}"}))
            else:
                recheck = self.limit_s - down
        if reasons:
            self._latched = not self.auto_return
        if self._flag is not None:
            reasons.append(Reason("operator", {"by": self._flag.by, "note": self._flag.note}))
        if not reasons and self._latched:
            reasons.append(Reason("latched"))
        return ServiceDecision(not reasons, tuple(reasons), recheck)
