"""Build the readiness report of a kiosk from its devices and its surroundings.

:func:`build_report` runs every device's checks concurrently (:mod:`kiosk.diag.runner`), and
beside them the backend probe, the outbox statistics and the host facts when they are given as
callables; each step has a deadline, so the report always completes. Everything taken from a
device passes :func:`kiosk.diag.redact.redact` (``device``) on the way in, the finished report
again (``output``) on the way out.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import importlib.metadata
import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeAlias, TypeVar

from hardware.base import DeviceStatus, HealthLevel, HealthResult
from kiosk.backend.outbox.queue import OutboxStats
from kiosk.config.schema import KioskConfig
from kiosk.diag.counters import CounterStore
from kiosk.diag.fixes import Lang, device_label, printer_fixes, status_text
from kiosk.diag.model import (
    NO_TEST_PRINT,
    BackendReport,
    Check,
    ConfigFacts,
    DeviceReport,
    DiskFacts,
    ErrorEntry,
    HostFacts,
    LastTestPrint,
    OutboxReport,
    ReadinessReport,
    Verdict,
)
from kiosk.diag.protocol import Diagnosable, details_of
from kiosk.diag.redact import redact, redact_text
from kiosk.diag.runner import Step, StepResult, run_lanes
from kiosk.diag.service import DeviceCondition, ServiceState

DEVICE_NAMES = ("idcard", "qr", "camera", "printer")
LEVELS: tuple[HealthLevel, ...] = (HealthLevel.INTERNAL, HealthLevel.EXTERNAL,
                                   HealthLevel.INTERACTIVE)
SIDE_DEADLINE_S = 10.0  # backend probe, outbox statistics, host facts
PACKAGE = "smart-counter-kiosk"

T = TypeVar("T")
Provided: TypeAlias = T | Callable[[], T]  # a value, or what computes it

_TEXT: dict[str, dict[Lang, str]] = {
    "backend_down": {"zh_CN": "后台服务无法连接：{detail}", "zh_HK": "後台服務無法連接：{detail}",
                     "en": "the government platform is unreachable: {detail}"},
    "outbox_parked": {"zh_CN": "待发送队列中有 {n} 条需要运维处理（kiosk outbox list）",
                      "zh_HK": "待發送隊列中有 {n} 條需要運維處理（kiosk outbox list）",
                      "en": "{n} outbox entries need an operator (kiosk outbox list)"},
    "outbox_key": {"zh_CN": "待发送队列的密钥有问题：{detail}",
                   "zh_HK": "待發送隊列的密鑰有問題：{detail}",
                   "en": "the outbox key is not usable: {detail}"},
    "outbox_unknown": {"zh_CN": "无法读取待发送队列：{detail}",
                       "zh_HK": "無法讀取待發送隊列：{detail}",
                       "en": "the outbox cannot be read: {detail}"},
    "disk": {"zh_CN": "磁盘剩余空间不足 5%（{percent}%）",
             "zh_HK": "磁碟剩餘空間不足 5%（{percent}%）",
             "en": "free disk under 5% ({percent}%)"},
    "clock": {"zh_CN": "系统时钟未同步", "zh_HK": "系統時鐘未同步",
              "en": "the system clock is not synchronized"},
}


def levels_up_to(level: HealthLevel) -> tuple[HealthLevel, ...]:
    """The levels a report at ``level`` runs: that one and every cheaper one."""
    return LEVELS[: LEVELS.index(level) + 1]


def software_version() -> str:
    try:
        return importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def config_hash(cfg: KioskConfig) -> str:
    """``sha256:<hex>`` of the effective configuration (canonical JSON)."""
    text = json.dumps(cfg.model_dump(mode="json"), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def timezone_name(now: dt.datetime) -> str:
    offset = now.strftime("%z")
    utc = f"UTC{offset[:3]}:{offset[3:]}" if offset else "UTC"
    key = getattr(now.tzinfo, "key", None) or now.tzname()
    return f"{key} ({utc})" if key and key != utc else utc


def probe_backend(adapter: Any, *, clock: Callable[[], float] = time.monotonic
                  ) -> BackendReport:
    """One ``health()`` call of the backend adapter, timed; an error is 'unreachable'."""
    if adapter is None:
        return BackendReport(reachable=False, detail="no backend adapter")
    start = clock()
    try:
        health = adapter.health()
    except Exception as exc:  # BackendError and transport errors alike mean unreachable
        code = getattr(exc, "code", None) or type(exc).__name__
        return BackendReport(reachable=False, latency_ms=round((clock() - start) * 1000, 1),
                             detail=redact_text(str(code)))
    kind = health.get("kind") if isinstance(health, Mapping) else None
    return BackendReport(reachable=True, latency_ms=round((clock() - start) * 1000, 1),
                         kind=str(kind) if kind is not None else None)


def outbox_report(stats: OutboxStats | None) -> OutboxReport:
    if stats is None:
        return OutboxReport(available=False, detail="no outbox")
    return OutboxReport(available=True, pending=stats.pending, parked=stats.parked,
                        refused=stats.refused, delivered=stats.delivered,
                        followups_pending=stats.followups_pending,
                        followups_parked=stats.followups_parked,
                        oldest_pending_age_s=None if stats.oldest_pending_age_s is None
                        else round(stats.oldest_pending_age_s, 1),
                        needs_operator=stats.needs_operator, key_error=stats.key_error)


def _describe(device: Diagnosable) -> dict[str, Any]:
    """Status, inventory, capabilities, counters and class details, read in the device's
    lane (a property that blocks on the device must not block the report)."""
    return {"status": DeviceStatus(device.status).value,
            "inventory": dict(device.inventory()),
            "capabilities": dict(device.capabilities()),
            "counters": {str(k): int(v) for k, v in dict(device.counters).items()},
            "details": dict(details_of(device))}


def _check_step(device: Diagnosable, level: HealthLevel) -> Callable[[], HealthResult]:
    def call() -> HealthResult:
        result = device.check_health(level)
        if not isinstance(result, HealthResult):
            raise TypeError(f"check_health returned {type(result).__name__}")
        return result

    return call


def _device_name(device: Diagnosable) -> str:
    try:
        return str(device.name)
    except Exception:
        return "device"


def _iso(at: float, tz: dt.tzinfo | None) -> str:
    return dt.datetime.fromtimestamp(at, tz=tz).isoformat(timespec="seconds")


def _provided_step(key: str, value: Any) -> Step:
    call = value if callable(value) else (lambda: value)
    return Step(key, call, SIDE_DEADLINE_S)


def build_report(devices: Sequence[Diagnosable], *, level: HealthLevel | str,
                 backend_probe: Provided[BackendReport],
                 outbox_stats: Provided[OutboxStats | None],
                 host: Provided[HostFacts], counters: CounterStore | None,
                 cfg: KioskConfig, clock: Callable[[], dt.datetime] | None = None,
                 lang: Lang = "en", config_version: str = "local",
                 service: ServiceState | None = None,
                 expected: Sequence[str] | None = None,
                 unavailable: Mapping[str, str] | None = None) -> ReadinessReport:
    """The readiness report at ``level`` (that level and the cheaper ones).

    ``backend_probe``, ``outbox_stats`` and ``host`` are values or callables (run beside the
    device checks, each with a deadline). ``service`` is the kiosk's live out-of-service state
    (the report feeds it what it saw); without one the report decides on what it sees now.
    ``expected`` are the device names the kiosk should have (default: the enabled ones); one
    missing from ``devices`` is reported as ``no_device``, with its reason from
    ``unavailable`` (name -> why it could not be built) when given.
    """
    started = time.monotonic()
    clock = clock or (lambda: dt.datetime.now().astimezone())
    level = HealthLevel(level)
    levels = levels_up_to(level)
    svc = cfg.service
    deadlines = {HealthLevel.INTERNAL: svc.internal_check_s,
                 HealthLevel.EXTERNAL: svc.external_check_s,
                 HealthLevel.INTERACTIVE: svc.interactive_check_s}
    lanes: list[tuple[str, list[Step]]] = []
    for device in devices:
        steps = [Step("describe", functools.partial(_describe, device), svc.internal_check_s)]
        steps += [Step(lv.value, _check_step(device, lv), deadlines[lv]) for lv in levels]
        lanes.append((_device_name(device), steps))
    side = [("backend", [_provided_step("backend", backend_probe)]),
            ("outbox", [_provided_step("outbox", outbox_stats)]),
            ("host", [_provided_step("host", host)])]
    results = run_lanes([*lanes, *side])
    now = clock()
    tz = now.tzinfo

    backend = _side_backend(results[-3][0])
    outbox = _side_outbox(results[-2][0])
    host_facts = _side_host(results[-1][0], cfg.var_dir)

    reports: list[DeviceReport] = []
    for device, lane in zip(devices, results[: len(devices)], strict=True):
        reports.append(_device_report(_device_name(device), lane, counters, cfg, tz, lang))
    wanted = expected if expected is not None else \
        [n for n in DEVICE_NAMES if getattr(cfg, n).enabled]
    present = {r.name for r in reports}
    for name in wanted:
        if name not in present:
            why = (unavailable or {}).get(name, "not built or not found")
            reports.append(_missing_device(name, redact_text(why), counters, tz, levels))

    state = service or ServiceState.from_config(svc, clock=time.monotonic)
    decision = state.observe(
        devices={r.name: DeviceCondition(_usable(r), _effective_status(r)) for r in reports},
        backend_reachable=backend.reachable)
    if not backend.reachable:
        backend.unreachable_for_s = state.unreachable_for_s()
    for r in reports:
        r.critical = r.name in state.critical
    # the device and backend reasons of the decision are said in more detail by the issues
    reasons = [r.text(lang) for r in decision.reasons
               if r.code.split(":", 1)[0] not in ("device", "missing", "backend")]
    issues = _issues(reports, backend, outbox, host_facts, lang)
    if any(r.code == "backend" for r in decision.reasons):
        issues = [next(r.text(lang) for r in decision.reasons if r.code == "backend")
                  if t == _backend_text(backend, lang) else t for t in issues]
    reasons += issues
    verdict = (Verdict.OUT_OF_SERVICE if not decision.in_service
               else Verdict.DEGRADED if issues else Verdict.READY)
    report = ReadinessReport(
        kiosk_id=cfg.kiosk.id, verdict=verdict, reasons=reasons, devices=reports,
        group=cfg.kiosk.group, location=redact_text(cfg.kiosk.location, source="kiosk"),
        software_version=software_version(),
        config=ConfigFacts(version=redact_text(config_version, source="kiosk"),
                           hash=config_hash(cfg), profile=cfg.profile),
        generated_at=now.isoformat(timespec="seconds"), timezone=timezone_name(now),
        level=level.value, lang=lang, backend=backend, outbox=outbox, host=host_facts,
        duration_ms=round((time.monotonic() - started) * 1000, 1))
    return ReadinessReport.model_validate(redact(report.as_json(), source="output"))


# -- pieces -------------------------------------------------------------------------------
def _side_backend(result: StepResult) -> BackendReport:
    if result.ok and isinstance(result.value, BackendReport):
        return result.value
    return BackendReport(reachable=False, detail=redact_text(result.error or "no answer"))


def _side_outbox(result: StepResult) -> OutboxReport:
    if result.ok and (result.value is None or isinstance(result.value, OutboxStats)):
        return outbox_report(result.value)
    return OutboxReport(available=False, detail=redact_text(result.error or "no answer"))


def _side_host(result: StepResult, var_dir: str) -> HostFacts:
    if result.ok and isinstance(result.value, HostFacts):
        return result.value
    return HostFacts(disk=DiskFacts(path=var_dir, detail=redact_text(result.error or "-")))


def _history(name: str, counters: CounterStore | None, tz: dt.tzinfo | None
             ) -> dict[str, Any]:
    if counters is None:
        return {}
    last = counters.last_test_print(name)
    test = None if last is None else LastTestPrint(at=_iso(last.at, tz), ok=last.ok,
                                                   detail=last.detail)
    return {
        "counters": counters.counters(name),
        "last_errors": [ErrorEntry(at=_iso(e.at, tz), code=e.code, text=e.text)
                        for e in counters.last_errors(name)],
        "last_test_print": test,
        "last_test_print_text": NO_TEST_PRINT if test is None else
        f"{'ok' if test.ok else 'failed'} at {test.at}: {test.detail}",
    }


def _device_report(name: str, lane: list[StepResult], counters: CounterStore | None,
                   cfg: KioskConfig, tz: dt.tzinfo | None, lang: Lang) -> DeviceReport:
    describe, checks = lane[0], lane[1:]
    desc: dict[str, Any] = redact(describe.value, source="device") if describe.ok else {}
    report = DeviceReport(
        name=name,
        status=desc.get("status", "hardware_error" if describe.ok else "no_answer"),
        inventory=desc.get("inventory", {}), capabilities=desc.get("capabilities", {}),
        driver_counters=desc.get("counters", {}), **_history(name, counters, tz))
    if not describe.ok:
        report.checks.append(Check(level="describe", ok=False,
                                   detail=redact_text(describe.error or "-"),
                                   duration_ms=round(describe.duration_s * 1000, 1)))
    reasons: list[str] = list(desc.get("details", {}).get("reasons") or [])
    for step in checks:
        result: HealthResult | None = step.value if step.ok else None
        if result is None:
            report.checks.append(Check(level=step.key, ok=False,
                                       detail=redact_text(step.error or "-"),
                                       duration_ms=round(step.duration_s * 1000, 1)))
            continue
        details = redact(dict(result.details), source="device")
        reasons += [r for r in details.get("reasons") or [] if isinstance(r, str)]
        report.checks.append(Check(level=step.key, ok=bool(result.ok),
                                   detail=redact_text(result.text),
                                   duration_ms=round(step.duration_s * 1000, 1),
                                   status=result.status.value, details=details))
    fresh = [c.status for c in report.checks if c.status is not None]
    if fresh:  # the status after the checks (an external check refreshes it)
        report.status = fresh[-1]
    if reasons:
        report.fixes = printer_fixes(dict.fromkeys(reasons), paper=cfg.printer.paper,
                                     lang=lang)
    return report


def _missing_device(name: str, why: str, counters: CounterStore | None,
                    tz: dt.tzinfo | None, levels: Sequence[HealthLevel]) -> DeviceReport:
    return DeviceReport(name=name, status=DeviceStatus.NO_DEVICE.value, unavailable=why,
                        checks=[Check(level=levels[0].value, ok=False, detail=why)],
                        **_history(name, counters, tz))


def _usable(report: DeviceReport) -> bool:
    """Usable: its status now is, and its last check passed (a later, fresher check
    supersedes an earlier one: an external check after a stale internal state)."""
    if report.status not in _STATUSES or not DeviceStatus(report.status).usable:
        return False
    return bool(report.checks) and report.checks[-1].ok


def _effective_status(report: DeviceReport) -> str:
    if report.status in _STATUSES and not DeviceStatus(report.status).usable:
        return report.status
    failed = _first_of_last_failures(report.checks)
    return f"{failed.level} check failed" if failed else report.status


def _first_of_last_failures(checks: Sequence[Check]) -> Check | None:
    """The check that explains a failure: the first of the failed checks at the end (a
    timed-out check, not the later ones it kept from running)."""
    found = None
    for check in reversed(checks):
        if check.ok:
            break
        found = check
    return found


_STATUSES = frozenset(s.value for s in DeviceStatus)
_CRITICAL: dict[Lang, str] = {"zh_CN": "关键设备：", "zh_HK": "關鍵設備：", "en": "critical: "}


def _device_issue(report: DeviceReport, lang: Lang) -> str | None:
    prefix = _CRITICAL[lang] if report.critical else ""
    if _usable(report):
        test = report.last_test_print
        if test is not None and not test.ok:  # until a test page prints again
            return prefix + status_text(report.name, "test_print_failed", lang=lang,
                                        detail=test.detail)
        return None
    if report.unavailable:
        return f"{prefix}{status_text(report.name, report.status, lang=lang)} " \
               f"({report.unavailable})"
    if report.fixes:
        return f"{prefix}{device_label(report.name, lang)}: {'; '.join(report.fixes)}"
    failed = _first_of_last_failures(report.checks)
    if report.status in _STATUSES and DeviceStatus(report.status).usable and failed:
        return prefix + status_text(report.name, "check_failed", lang=lang,
                                    detail=f"{failed.level}: {failed.detail}")
    return prefix + status_text(report.name, report.status, lang=lang)


def _backend_text(backend: BackendReport, lang: Lang) -> str:
    return _TEXT["backend_down"][lang].format(detail=backend.detail or "-")


def _issues(reports: Sequence[DeviceReport], backend: BackendReport, outbox: OutboxReport,
            host: HostFacts, lang: Lang) -> list[str]:
    """Plain-words problems; any of them makes a ready kiosk degraded."""
    out: list[str] = []
    for report in sorted(reports, key=lambda r: (not r.critical, r.name)):
        issue = _device_issue(report, lang)
        if issue:
            out.append(issue)
    if not backend.reachable:
        out.append(_backend_text(backend, lang))
    if outbox.available and outbox.key_error:
        out.append(_TEXT["outbox_key"][lang].format(detail=outbox.key_error))
    elif outbox.available and outbox.needs_operator:
        out.append(_TEXT["outbox_parked"][lang].format(n=outbox.needs_operator))
    elif not outbox.available and outbox.detail != "no outbox":
        out.append(_TEXT["outbox_unknown"][lang].format(detail=outbox.detail))
    if host.disk.warning:
        out.append(_TEXT["disk"][lang].format(percent=host.disk.free_percent))
    if host.clock.synchronized is False:
        out.append(_TEXT["clock"][lang])
    return out
