"""``kiosk diag report``, ``kiosk diag issue-technician-token``, ``kiosk diag technician-pin``.

Exit codes: ``report`` 0 when the kiosk is ready, 1 when degraded or out of service, 2 for a
configuration or usage error (the key path is named); the token and PIN commands 0, or 2.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, cast

import click
import nacl.signing

from hardware.base import HealthLevel
from hardware.diag_output import printable, to_json
from kiosk.backend.outbox.queue import OutboxStats
from kiosk.config.schema import KioskConfig
from kiosk.devices import Devices
from kiosk.diag.access import (
    DEFAULT_ISSUER,
    MAX_ISSUE_TTL_S,
    hash_pin,
    issue_token,
    parse_ttl,
    token_id,
)
from kiosk.diag.counters import CounterStore
from kiosk.diag.fixes import Lang
from kiosk.diag.host import collect_host
from kiosk.diag.model import BackendReport, ReadinessReport
from kiosk.diag.protocol import Diagnosable
from kiosk.diag.redact import redact_text
from kiosk.diag.report import build_report, probe_backend
from kiosk.identity.codes import b64d, b64e, verify_key_to_text


@dataclass
class DeviceSet:
    """The devices a report checks, and why configured ones are missing (name -> reason)."""

    devices: Sequence[Diagnosable] = ()
    unavailable: Mapping[str, str] = field(default_factory=dict)


DeviceProvider = Callable[[KioskConfig], contextlib.AbstractContextManager[DeviceSet]]


@contextlib.contextmanager
def _configured_devices(cfg: KioskConfig) -> Iterator[DeviceSet]:
    """The configured devices, opened through the one composition root (simulators too in
    the simulation profile) and closed afterwards; a device that cannot be opened is named
    with its reason. (On a running kiosk the devices are the kiosk's: stop it first, or run
    the report from the maintenance screen.)"""
    from kiosk.compose import opened_devices

    with opened_devices(cfg) as devices:
        _start_and_settle(devices, cfg.service.internal_check_s)
        found: list[Diagnosable] = []
        missing: dict[str, str] = {}
        for name, slot in devices.items():
            if slot.device is None:
                missing[name] = slot.reason or "device_unavailable"
            else:
                found.append(slot.device)
        yield DeviceSet(found, missing)


def _start_and_settle(devices: Devices, within_s: float) -> None:
    """Start the devices as in service and give those still coming up (a camera's first
    frame) until ``within_s`` to report a status other than offline; their status events
    wake the wait."""
    from hardware.base import DeviceStatus

    changed = threading.Event()

    def settled() -> bool:
        return all(slot.device is None or slot.device.status is not DeviceStatus.OFFLINE
                   for slot in devices.values())

    devices.start(lambda _event: changed.set())
    end = time.monotonic() + within_s
    while not settled() and (left := end - time.monotonic()) > 0:
        changed.wait(min(left, 0.2))
        changed.clear()


# how a report opens the devices (tests may give their own)
device_provider: DeviceProvider = _configured_devices


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {printable(message)}", err=True)
    sys.exit(2)


def _load(config_path: str | None, profile: str | None) -> KioskConfig:
    from kiosk.config.loader import ConfigError, load_config

    try:
        return load_config(config_path, profile=profile)
    except ConfigError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)


def _backend_probe(cfg: KioskConfig) -> Callable[[], BackendReport]:
    def probe() -> BackendReport:
        from kiosk.backend.factory import create_backend

        try:
            backend = create_backend(cfg)
        except Exception as exc:  # an adapter that cannot be built: the backend is unusable
            code = getattr(exc, "code", None) or type(exc).__name__
            return BackendReport(reachable=False, detail=redact_text(f"not built: {code}"))
        try:
            return probe_backend(backend)
        finally:
            closer = getattr(backend, "close", None)
            if callable(closer):
                closer()

    return probe


def _outbox_stats(cfg: KioskConfig) -> Callable[[], OutboxStats | None]:
    def stats() -> OutboxStats | None:
        from kiosk.backend.outbox.queue import Outbox

        outbox = Outbox(cfg.outbox, None, inspect=True)
        try:
            return outbox.stats()
        finally:
            outbox.close()

    return stats


def _text(report: ReadinessReport) -> list[str]:
    lines = [f"kiosk: {report.kiosk_id} ({report.group}, {report.location})",
             f"verdict: {report.verdict.value}"]
    lines += [f"reason: {r}" for r in report.reasons]
    for d in report.devices:
        checks = ", ".join(f"{c.level} {'ok' if c.ok else 'FAIL'}: {c.detail}" for c in d.checks)
        lines.append(f"device {d.name}: {d.status}; {checks}")
        lines += [f"  fix: {f}" for f in d.fixes]
    b, o, h = report.backend, report.outbox, report.host
    lines.append(f"backend: {'reachable' if b.reachable else 'unreachable'}"
                 + (f" {b.latency_ms:.0f} ms" if b.latency_ms is not None else "")
                 + (f" ({b.detail})" if b.detail else ""))
    lines.append(f"outbox: {o.pending} pending, {o.needs_operator} need an operator, oldest "
                 f"pending {o.oldest_pending_age_s if o.oldest_pending_age_s is not None else '-'}"
                 " s")
    lines.append(f"host: disk {h.disk.free_percent}% free, clock {h.clock.source} "
                 f"(synchronized: {h.clock.synchronized}), uptime {h.uptime_s} s")
    lines.append(f"generated: {report.generated_at} {report.timezone} in "
                 f"{report.duration_ms:.0f} ms")
    return [printable(line) for line in lines]


@click.command("report")
@click.option("--level", type=click.Choice([lv.value for lv in HealthLevel]),
              default="internal", show_default=True, help="checks up to this level")
@click.option("--json", "as_json", is_flag=True, help="one JSON document")
@click.option("--pdf", "pdf_target", type=click.Path(), default=None,
              help="write the PDF here (a folder: readiness-report__<kiosk>__<time>.pdf)")
@click.option("--lang", type=click.Choice(["en", "zh_CN", "zh_HK"]), default="en",
              show_default=True, help="language of the reasons and fixes")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None)
@click.option("--profile", type=click.Choice(["simulation", "production"]), default=None)
def report(level: str, as_json: bool, pdf_target: str | None, lang: str,
           config_path: str | None, profile: str | None) -> None:
    """The whole kiosk's readiness: devices, backend, outbox, host, and a verdict."""
    cfg = _load(config_path, profile)
    Path(cfg.var_dir).mkdir(parents=True, exist_ok=True)
    with CounterStore.in_var_dir(cfg.var_dir) as counters, device_provider(cfg) as found:
        result = build_report(
            found.devices, level=level, backend_probe=_backend_probe(cfg),
            outbox_stats=_outbox_stats(cfg), host=lambda: collect_host(cfg.var_dir),
            counters=counters, cfg=cfg, lang=cast(Lang, lang),
            unavailable=found.unavailable)
    if pdf_target is not None:
        from kiosk.diag.pdf import write_pdf

        try:
            written = write_pdf(result, pdf_target)
        except OSError as exc:
            _fail(f"--pdf {pdf_target}: {exc.strerror}")
        click.echo(f"pdf: {printable(str(written))}", err=as_json)
    if as_json:
        click.echo(to_json(result.as_json()))
    else:
        for line in _text(result):
            click.echo(line)
    sys.exit(0 if result.verdict == "ready" else 1)


def _signing_key(path: Path, create: bool) -> nacl.signing.SigningKey:
    from kiosk.files import write_private

    if create:
        if path.exists():
            _fail(f"--key {path}: exists; leave out --new-key to use it")
        seed = nacl.signing.SigningKey.generate()
        write_private(path, (b64e(bytes(seed)) + "\n").encode("ascii"))
        return seed
    try:
        raw = b64d(path.read_text(encoding="ascii").strip())
    except OSError as exc:
        _fail(f"--key {path}: {exc.strerror} (give --new-key to create one)")
    except (ValueError, UnicodeDecodeError):
        _fail(f"--key {path}: not an Ed25519 seed (base64url, one line)")
    if len(raw) != 32:
        _fail(f"--key {path}: not an Ed25519 seed (32 bytes)")
    return nacl.signing.SigningKey(raw)


@click.command("issue-technician-token")
@click.option("--kiosk", "kiosk_id", required=True, help="the one kiosk the token opens")
@click.option("--ttl", default="8h", show_default=True, help="lifetime: 8h, 30m, 3600s, 1d")
@click.option("--key", "key_path", required=True, type=click.Path(dir_okay=False),
              help="the issuer's Ed25519 seed file (base64url)")
@click.option("--new-key", is_flag=True, help="create the key file (0600) first")
@click.option("--issuer", default=DEFAULT_ISSUER, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="one JSON document")
def issue_technician_token(kiosk_id: str, ttl: str, key_path: str, new_key: bool, issuer: str,
                           as_json: bool) -> None:
    """A maintenance token for one kiosk, to show to its scanner or camera (with the PIN).
    Prints the token, its id (what the audit log records), expiry and the public key line
    for the kiosk's service.technician.trust_key_file."""
    try:
        seconds = parse_ttl(ttl)
    except ValueError as exc:
        _fail(f"--ttl: {exc}")
    key = _signing_key(Path(key_path), new_key)
    now = time.time()
    try:
        token = issue_token(key, kiosk_id, seconds, now, issuer=issuer)
    except ValueError as exc:
        _fail(str(exc))
    from kiosk.diag.access import verify_token

    claim = verify_token(token, key.verify_key, kiosk_id, now, max_ttl_s=MAX_ISSUE_TTL_S)
    out: dict[str, Any] = {
        "token": token, "token_id": token_id(claim.nonce), "kiosk": kiosk_id,
        "expires_at": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(claim.expires_at)),
        "public_key": verify_key_to_text(key.verify_key)}
    if as_json:
        click.echo(to_json(out))
    else:
        for k, v in out.items():
            click.echo(f"{k}: {printable(str(v))}")


@click.command("technician-pin")
@click.option("--pin", prompt=True, hide_input=True, confirmation_prompt=True,
              help="6 to 16 digits (prompted, not echoed)")
def technician_pin(pin: str) -> None:
    """The scrypt hash of a technician PIN, for service.technician.pin_hash."""
    try:
        click.echo(hash_pin(pin))
    except ValueError as exc:
        _fail(f"--pin: {exc}")


# -- what a technician does over SSH (the maintenance screen's actions) ----------------------
@click.command("counters")
@click.option("--reset", is_flag=True, help="set the counters and last errors back to nothing")
@click.option("--device", type=click.Choice(["kiosk", "idcard", "qr", "camera", "printer"]),
              default=None, help="only this device's (default: all)")
@click.option("--json", "as_json", is_flag=True, help="one JSON document")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None)
@click.option("--profile", type=click.Choice(["simulation", "production"]), default=None)
def counters_command(reset: bool, device: str | None, as_json: bool, config_path: str | None,
                     profile: str | None) -> None:
    """The counters that survive restarts (sessions, reads, prints, jams, paper-outs,
    errors), each device's last test and last errors; --reset clears them. Safe beside a
    running kiosk (one shared SQLite file)."""
    cfg = _load(config_path, profile)
    Path(cfg.var_dir).mkdir(parents=True, exist_ok=True)
    with CounterStore.in_var_dir(cfg.var_dir) as store:
        removed = store.reset(None if device is None else [device], errors=True) \
            if reset else None
        names = [device] if device else ["kiosk", "idcard", "qr", "camera", "printer"]
        out: dict[str, Any] = {"counters": {n: store.counters(n) for n in names}}
        tests: dict[str, Any] = {}
        errors: dict[str, Any] = {}
        for name in names:
            last = store.last_test(name)
            tests[name] = None if last is None else {
                "test": last.test, "ok": last.ok, "detail": last.detail,
                "at": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(last.at))}
            errors[name] = [{"code": e.code, "text": e.text,
                             "at": time.strftime("%Y-%m-%dT%H:%M:%S%z",
                                                 time.localtime(e.at))}
                            for e in store.last_errors(name)]
        out.update(last_test=tests, last_errors=errors)
        if removed is not None:
            out["removed"] = removed
    if as_json:
        click.echo(to_json(out))
        return
    if removed is not None:
        click.echo(f"reset: {removed} counters removed")
    for name in names:
        counts = ", ".join(f"{k} {v}" for k, v in out["counters"][name].items()) or "-"
        test = tests[name]
        said = "no test on record" if test is None else \
            f"{test['test']} {'ok' if test['ok'] else 'FAILED'} at {test['at']}: {test['detail']}"
        click.echo(printable(f"{name}: {counts}; last test: {said}"))
        for e in errors[name][:3]:
            click.echo(printable(f"  error {e['at']} {e['code']}: {e['text']}"))


@click.group("service")
def service_group() -> None:
    """Out of service / back in service: the flag the kiosk follows within a second (the
    maintenance screen and the fleet set the same one); kept across restarts."""


def _flags(config_path: str | None, profile: str | None) -> Any:
    from kiosk.diag.flag import FlagFile

    cfg = _load(config_path, profile)
    Path(cfg.var_dir).mkdir(parents=True, exist_ok=True)
    return FlagFile(cfg.var_dir)


def _show_flag(flag: Any, as_json: bool) -> None:
    data: dict[str, Any] = {"out_of_service": flag is not None}
    if flag is not None:
        at = None if flag.at is None else time.strftime("%Y-%m-%dT%H:%M:%S%z",
                                                        time.localtime(flag.at))
        data.update(by=flag.by, note=flag.note, via=flag.via, at=at)
    if as_json:
        click.echo(to_json(data))
    elif flag is None:
        click.echo("in service as far as people are concerned: no out-of-service flag "
                   "(the kiosk still goes out of service by itself on a fault)")
    else:
        click.echo(printable(f"OUT OF SERVICE, set by the {flag.by} via {flag.via}"
                             f"{' at ' + data['at'] if data['at'] else ''}: {flag.note}"))


_common = [click.option("--json", "as_json", is_flag=True, help="one JSON document"),
           click.option("--config", "config_path", type=click.Path(dir_okay=False),
                        default=None),
           click.option("--profile", type=click.Choice(["simulation", "production"]),
                        default=None)]


def _with_common(fn: Any) -> Any:
    for option in reversed(_common):
        fn = option(fn)
    return fn


@service_group.command("status")
@_with_common
def service_status(as_json: bool, config_path: str | None, profile: str | None) -> None:
    """The flag as set now."""
    _show_flag(_flags(config_path, profile).read(), as_json)


@service_group.command("out")
@click.option("--note", required=True, help="why (shown to technicians; no personal data)")
@click.option("--operator", is_flag=True, help="set by the operator (default: technician)")
@_with_common
def service_out(note: str, operator: bool, as_json: bool, config_path: str | None,
                profile: str | None) -> None:
    """Take the kiosk out of service: its out-of-service screen shows, no journey starts."""
    flag = _flags(config_path, profile).out_of_service(
        by="operator" if operator else "technician", note=note, via="cli")
    _show_flag(flag, as_json)


@service_group.command("in")
@_with_common
def service_in(as_json: bool, config_path: str | None, profile: str | None) -> None:
    """Lift the flag (faults still present keep the kiosk out of service; an outage held
    without service.auto_return is released on the maintenance screen or by the fleet)."""
    flags = _flags(config_path, profile)
    flags.back_in_service()
    _show_flag(flags.read(), as_json)


@click.command("test")
@click.argument("device", type=click.Choice(["idcard", "qr", "camera", "printer"]))
@click.option("--level", type=click.Choice([lv.value for lv in HealthLevel]),
              default="external", show_default=True,
              help="interactive: read a test card, scan a code, look for a face, print a "
                   "test page")
@click.option("--timeout", type=click.FloatRange(min=1.0), default=20.0, show_default=True,
              help="seconds to wait for the card, the code or a face")
@_with_common
def test_command(device: str, level: str, timeout: float, as_json: bool,
                 config_path: str | None, profile: str | None) -> None:
    """One device's guided test, kept as its last test (what the maintenance screen shows).
    Opens the devices like `kiosk diag report` (stop the kiosk first, or use the screen).
    Exit 0 when it passed, 1 when not, 2 for a usage error."""
    from kiosk.diag import actions

    cfg = _load(config_path, profile)
    Path(cfg.var_dir).mkdir(parents=True, exist_ok=True)
    with CounterStore.in_var_dir(cfg.var_dir) as store, device_provider(cfg) as found:
        target = next((d for d in found.devices if _name_of(d) == device), None)
        if target is None:
            why = found.unavailable.get(device, "not configured")
            outcome = actions.TestOutcome(device, f"check_{level}", False, "mt_device_missing",
                                          redact_text(why), at=time.time())
        elif level != "interactive":
            outcome = actions.check(target, device, level, store)
        elif device == "printer":
            outcome = actions.print_test_page(target, store)
        elif device == "idcard":
            outcome = actions.read_test_card(target, store)
        elif device == "qr":
            outcome = actions.scan_code(target, store, timeout)
        else:
            preview = actions.CameraPreview(target, lambda _frame: None, counters=store,
                                            seconds=timeout).start()
            result = preview.result(timeout + 30)
            outcome = result or actions.TestOutcome("camera", "preview", False,
                                                    "mt_preview_no_frames", at=time.time())
    data = {"device": outcome.device, "test": outcome.test, "ok": outcome.ok,
            "result": outcome.key, "detail": outcome.text, "params": dict(outcome.params)}
    if as_json:
        click.echo(to_json(data))
    else:
        click.echo(printable(f"{device} {outcome.test}: {'ok' if outcome.ok else 'FAILED'}"
                             f" ({outcome.key}) {outcome.text}"))
    sys.exit(0 if outcome.ok else 1)


def _name_of(device: Diagnosable) -> str:
    try:
        return str(device.name)
    except Exception:
        return ""
