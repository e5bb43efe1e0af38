"""Pure mapping of CUPS printer and job state to the kiosk device model (no I/O).

``printer-state`` is 3 idle, 4 processing, 5 stopped. ``printer-state-reasons`` are IPP
keywords, optionally suffixed ``-report``, ``-warning`` or ``-error`` (RFC 8011 s.5.4.12);
the suffix sets the severity. Each known reason maps to a device status (or ``None`` when it
does not affect usability), a paper detail, and a message key for the citizen/technician.
Anything that prevents printing maps to a status that is not ``usable``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from hardware.base import DeviceStatus

Paper = Literal["ok", "low", "out", "jam", "unknown"]

PRINTER_IDLE, PRINTER_PROCESSING, PRINTER_STOPPED = 3, 4, 5

# job-state values (RFC 8011 s.5.3.7)
JOB_STATES: dict[int, str] = {3: "pending", 4: "held", 5: "processing", 6: "stopped",
                              7: "canceled", 8: "aborted", 9: "completed"}
JOB_FINAL = {7: "canceled", 8: "aborted", 9: "completed"}


@dataclass(frozen=True)
class ReasonRule:
    status: DeviceStatus | None  # None: informational, the printer can still print
    paper: Paper | None
    message_key: str


# base keyword (without -report/-warning/-error) -> rule; first match by PRIORITY wins.
REASONS: dict[str, ReasonRule] = {
    "media-empty": ReasonRule(DeviceStatus.HARDWARE_ERROR, "out", "printer.paper_out"),
    "media-needed": ReasonRule(DeviceStatus.HARDWARE_ERROR, "out", "printer.paper_out"),
    "input-tray-missing": ReasonRule(DeviceStatus.HARDWARE_ERROR, "out", "printer.paper_out"),
    "media-jam": ReasonRule(DeviceStatus.HARDWARE_ERROR, "jam", "printer.paper_jam"),
    "cover-open": ReasonRule(DeviceStatus.HARDWARE_ERROR, None, "printer.cover_open"),
    "door-open": ReasonRule(DeviceStatus.HARDWARE_ERROR, None, "printer.cover_open"),
    "toner-empty": ReasonRule(DeviceStatus.HARDWARE_ERROR, None, "printer.toner_empty"),
    "marker-supply-empty": ReasonRule(DeviceStatus.HARDWARE_ERROR, None, "printer.toner_empty"),
    "offline": ReasonRule(DeviceStatus.OFFLINE, None, "printer.offline"),
    "shutdown": ReasonRule(DeviceStatus.OFFLINE, None, "printer.offline"),
    "paused": ReasonRule(DeviceStatus.OFFLINE, None, "printer.paused"),
    "stopped": ReasonRule(DeviceStatus.OFFLINE, None, "printer.paused"),
    "moving-to-paused": ReasonRule(DeviceStatus.OFFLINE, None, "printer.paused"),
    "cups-missing-filter": ReasonRule(DeviceStatus.HARDWARE_ERROR, None, "printer.driver_error"),
    "cups-insecure-filter": ReasonRule(DeviceStatus.HARDWARE_ERROR, None, "printer.driver_error"),
    "connecting-to-device": ReasonRule(None, None, "printer.connecting"),
    "cups-waiting-for-job-completed": ReasonRule(None, None, "printer.busy"),
    "media-low": ReasonRule(None, "low", "printer.paper_low"),
    "toner-low": ReasonRule(None, None, "printer.toner_low"),
    "marker-supply-low": ReasonRule(None, None, "printer.toner_low"),
    "other": ReasonRule(None, None, "printer.other"),
}
PRIORITY = ("media-jam", "media-empty", "media-needed", "input-tray-missing", "cover-open",
            "door-open", "toner-empty", "marker-supply-empty", "cups-missing-filter",
            "cups-insecure-filter", "offline", "shutdown", "paused", "stopped",
            "moving-to-paused", "connecting-to-device", "cups-waiting-for-job-completed",
            "media-low", "toner-low", "marker-supply-low", "other")
_SUFFIXES = ("-error", "-warning", "-report")


@dataclass(frozen=True)
class PrinterState:
    """The device model's view of one CUPS queue."""

    status: DeviceStatus
    paper: Paper
    reasons: list[str] = field(default_factory=list)
    message_key: str | None = None
    accepting: bool = True

    def details(self) -> dict[str, Any]:
        return {"paper": self.paper, "reasons": list(self.reasons),
                "message_key": self.message_key, "accepting": self.accepting}


def split_reason(reason: str) -> tuple[str, str]:
    """``media-empty-error`` -> (``media-empty``, ``error``); no suffix -> severity ``error``
    for keywords CUPS sets itself (``paused``) and ``report`` for unknown ones."""
    for suffix in _SUFFIXES:
        if reason.endswith(suffix):
            return reason[: -len(suffix)], suffix[1:]
    return reason, "error"


def clean_reasons(reasons: Iterable[str] | str | None) -> list[str]:
    if reasons is None:
        return []
    if isinstance(reasons, str):
        reasons = [reasons]
    return [r for r in reasons if r and r != "none"]


_SEVERITY_RANK = {"report": 0, "warning": 1, "error": 2}


def map_printer(attrs: Mapping[str, Any] | None, *, reachable: bool = True) -> PrinterState:
    """Map a queue's CUPS attributes (``None``: the queue does not exist) to a device state."""
    if not reachable:
        return PrinterState(DeviceStatus.OFFLINE, "unknown", ["cups-unreachable"],
                            "printer.cups_unreachable", False)
    if attrs is None:
        return PrinterState(DeviceStatus.NO_DEVICE, "unknown", ["queue-missing"],
                            "printer.queue_missing", False)
    reasons = clean_reasons(attrs.get("printer-state-reasons"))
    state = int(attrs.get("printer-state", PRINTER_IDLE))
    accepting = bool(attrs.get("printer-is-accepting-jobs", True))
    by_base: dict[str, str] = {}
    for reason in reasons:
        base, severity = split_reason(reason)
        if severity == "report" and base not in ("offline",):
            continue  # reports are informational
        # the same condition may be listed twice (media-empty-warning, media-empty): the
        # most severe listing decides
        if _SEVERITY_RANK[severity] > _SEVERITY_RANK.get(by_base.get(base, ""), -1):
            by_base[base] = severity
    status: DeviceStatus | None = None
    paper: Paper = "ok"
    key: str | None = None
    for base in PRIORITY:
        if base not in by_base:
            continue
        rule = REASONS[base]
        severity = by_base[base]
        if rule.paper is not None and paper == "ok":
            paper = rule.paper
        if status is None and rule.status is not None and severity != "warning":
            status, key = rule.status, rule.message_key
        elif key is None:
            key = rule.message_key
    if status is None:
        if state == PRINTER_STOPPED:
            status, key = DeviceStatus.OFFLINE, "printer.paused"
        elif not accepting:
            status, key = DeviceStatus.OFFLINE, "printer.not_accepting"
        elif state == PRINTER_PROCESSING:
            status = DeviceStatus.BUSY
        else:
            status = DeviceStatus.ONLINE
    return PrinterState(status, paper, reasons, key, accepting)


# What a job stuck short of a final state most likely means, from the printer's state message
# or reasons (CUPS' socket backend wording), for the message shown when the deadline passes.
STUCK_HINTS: tuple[tuple[str, str], ...] = (
    ("may not exist or is unavailable", "printer.unreachable"),
    ("unable to connect", "printer.unreachable"),
    ("network host", "printer.unreachable"),
    ("connecting-to-device", "printer.unreachable"),
    ("waiting for printer to finish", "printer.not_finishing"),
    ("cups-waiting-for-job-completed", "printer.not_finishing"),
    ("paused", "printer.paused"),
    ("held", "printer.paused"),
)


def stuck_message_key(*texts: str | Iterable[str] | None) -> str:
    """A message key for a job that did not finish in time."""
    words: list[str] = []
    for text in texts:
        if text is None:
            continue
        words += [text] if isinstance(text, str) else list(text)
    blocking = {split_reason(w)[0] for w in words if w and " " not in w.strip()}
    for base in PRIORITY:  # a printer condition that stops printing names itself
        rule = REASONS[base]
        if base in blocking and rule.status is DeviceStatus.HARDWARE_ERROR:
            return rule.message_key
    blob = " ".join(words).lower()
    for needle, key in STUCK_HINTS:
        if needle in blob:
            return key
    return "printer.timeout"


def job_failure_key(state: str, reasons: Iterable[str] | str | None) -> str | None:
    """The message key of a finished job (``None`` when it completed)."""
    if state == "completed":
        return None
    if state == "canceled":
        return "printer.canceled"
    for reason in clean_reasons(reasons):
        base, _ = split_reason(reason)
        if base in REASONS and REASONS[base].status is not None:
            return REASONS[base].message_key
    return "printer.job_failed"
