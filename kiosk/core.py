"""The running kiosk without UI: what :func:`kiosk.compose.build` assembled, in one object.

The UI and ``kiosk run --no-ui`` both sit on it: its ``session`` and ``journey``, its
``devices`` (typed by role, :class:`~kiosk.devices.Devices`), readiness, the inactivity tick,
and :meth:`KioskCore.snapshot`, the health that diagnostics and the fleet read. It builds
nothing itself; :meth:`KioskCore.stop` runs the composition root's teardown.

What the fleet agent and the service manager need of a running kiosk is here too:

* in service or not (:attr:`KioskCore.service`, a :class:`~kiosk.diag.service.ServiceState`
  fed with the devices at every tick and the operator's or technician's flag, which survives
  restarts); while out of service, or while a restart is pending, the session machine starts
  no new journey (:class:`GatedSessionMachine`), a citizen already served finishes;
* :meth:`~KioskCore.health_summary` (the heartbeat's health), :meth:`~KioskCore.
  current_problems` (the health-window probe), :meth:`~KioskCore.session_active` (the idle
  gate), :meth:`~KioskCore.apply_config` and :meth:`~KioskCore.remote_command`;
* restarts (:meth:`~KioskCore.request_restart`): a configuration change that needs new
  devices or a new backend, ``restart_when_idle`` and the nightly restart are all taken by
  restarting the process between sessions (``kiosk run`` exits 75 for the service manager).
"""

from __future__ import annotations

import base64
import collections
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hardware.base import DeviceStatus
from kiosk.audit import AuditLog
from kiosk.backend.contract import BackendAdapter, Matter
from kiosk.config.schema import KioskConfig
from kiosk.devices import DEVICE_NAMES, Devices
from kiosk.diag.service import DeviceCondition, ServiceState, starting_condition
from kiosk.session.journey import Journey
from kiosk.session.machine import InvalidTransition, SessionMachine, TimeoutPolicy
from kiosk.session.states import Event, State
from kiosk.simulation import SimulationControls

if TYPE_CHECKING:
    from kiosk.backend.outbox import Outbox
    from kiosk.diag.attach import Diagnostics
    from kiosk.diag.flag import FlagFile
    from kiosk.fleet.agent import ApplyResult
    from kiosk.fleet.changes import ConfigChange

log = logging.getLogger("kiosk.core")

# a device still coming up (a camera before its first frame) is not a problem yet
STARTUP_GRACE_S = 10.0
# device details that mean it cannot serve (the dashboard's red details)
BAD_DETAILS = frozenset({"out", "jam", "jammed", "no_frames", "missing"})
MAX_LOG_LINES = 500
SCREENSHOT_TIMEOUT_S = 5.0


def timeout_policy(cfg: KioskConfig) -> TimeoutPolicy:
    """The session's inactivity policy from the ``session`` section."""
    s = cfg.session
    return TimeoutPolicy(timeout_s=s.inactivity_timeout_s, warning_s=s.warning_s,
                         elderly_factor=s.elderly_timeout_factor,
                         per_state=dict(s.per_screen_timeout_s))


class JourneyRefused(InvalidTransition):
    """A new journey asked for while the kiosk refuses them (``reason``)."""

    def __init__(self, event: Event, state: State, reason: str) -> None:
        super().__init__(event, state)
        self.args = (f"event {event.value!r}: no new journey ({reason})",)
        self.reason = reason


class GatedSessionMachine(SessionMachine):
    """A session machine that starts no new journey while ``refusal()`` names a reason
    (out of service, restarting). Checked under the machine's lock with the transition, so
    a card read at the attract screen cannot slip in; a journey under way is not touched."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.refusal: Callable[[], str | None] = lambda: None

    def _target(self, event: Event, payload: dict[str, Any]) -> State:
        target = super()._target(event, payload)
        if self.state is State.ATTRACT and target is not State.ATTRACT:
            reason = self.refusal()
            if reason:
                raise JourneyRefused(event, self.state, reason)
        return target


class LogTail(logging.Handler):
    """The last log lines of this process, for ``collect_logs`` (redacted when read)."""

    def __init__(self, size: int = MAX_LOG_LINES) -> None:
        super().__init__()
        self._lines: collections.deque[str] = collections.deque(maxlen=size)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._lines.append(self.format(record))
        except Exception:  # logging must never raise into the caller
            self.handleError(record)

    def lines(self) -> list[str]:
        return list(self._lines)


class KioskCore:
    """One kiosk's long-lived parts, built by :mod:`kiosk.compose` (not here).

    ``simulation`` drives the simulators and the platform link in the simulation profile
    (``None`` otherwise); ``backend`` is ``None`` when it could not be built
    (``backend_error`` says why). ``workers`` are the threads the kiosk's parts started (device
    pollers, the outbox): the watchdog holds its pings when one of them dies.
    """

    def __init__(self, cfg: KioskConfig, *, devices: Devices, backend: BackendAdapter | None,
                 session: SessionMachine, journey: Journey, audit: AuditLog,
                 outbox: Outbox | None = None, backend_error: str | None = None,
                 simulation: SimulationControls | None = None,
                 teardown: Callable[[], None] | None = None,
                 service: ServiceState | None = None,
                 workers: Sequence[threading.Thread] = (),
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.cfg = cfg
        self.devices = devices
        self.backend = backend
        self.backend_error = backend_error
        self.session = session
        self.journey = journey
        self.audit = audit
        self.outbox = outbox
        self.simulation = simulation
        self.workers = tuple(workers)
        self.service = service or ServiceState.from_config(cfg.service)
        self.log_tail: LogTail | None = None
        # the service gate, counters and maintenance mode (set by the composition root)
        self.diagnostics: Diagnostics | None = None
        # set by the UI: (timeout) -> PNG bytes of what the screen shows
        self.screenshot_provider: Callable[[float], bytes] | None = None
        self._teardown = teardown
        self._clock = clock
        self._started = clock()
        self._ready = threading.Event()
        self._on_ready: list[Callable[[], None]] = []
        self._on_tick: list[Callable[[], None]] = []
        self._restart: str | None = None
        self.restart_wanted = threading.Event()
        self._stopped = False
        self._load_service_flag()
        if isinstance(session, GatedSessionMachine):
            session.refusal = self.refusal
        self.observe()

    # -- lifecycle ------------------------------------------------------------------------
    def stop(self) -> None:
        """Tear everything down in the reverse order it was built (safe to call twice)."""
        if self._stopped:
            return
        self._stopped = True
        if self._teardown is not None:
            self._teardown()

    def __enter__(self) -> KioskCore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def mark_ready(self, ready_file: str | None = None) -> None:
        first = not self._ready.is_set()
        self._ready.set()
        if ready_file:
            Path(ready_file).write_text("ready\n", encoding="utf-8")
        if first:
            for callback in list(self._on_ready):
                callback()

    def when_ready(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once the kiosk is ready (at once if it is already)."""
        self._on_ready.append(callback)
        if self._ready.is_set():
            callback()

    def wait_ready(self, timeout: float) -> bool:
        return self._ready.wait(timeout)

    def on_tick(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` after every :meth:`tick` (a liveness heartbeat)."""
        self._on_tick.append(callback)

    def tick(self) -> None:
        """Drive the inactivity timer and the service state (called about twice a second)."""
        self.session.tick()
        self.observe()
        for callback in list(self._on_tick):
            callback()

    # -- what the citizen can do ----------------------------------------------------------
    def matter_blockers(self, matter: Matter) -> list[str]:
        """Message keys of the reasons a matter cannot be done now (empty: available)."""
        return self.journey.matter_blockers(matter)

    def session_active(self) -> bool:
        """A citizen is being served (anything but the attract screen): the idle gate, read
        under the session's lock (after :meth:`request_restart`, a start cannot slip by)."""
        return not self.session.idle()

    def refusal(self) -> str | None:
        """Why no new journey may start now (None: one may)."""
        if self._restart is not None:
            return "restarting"
        if not self.service.decision().in_service:
            return "out_of_service"
        return None

    # -- in service -----------------------------------------------------------------------
    def observe(self) -> None:
        """Feed the service state what the devices say now (no I/O)."""
        self.service.observe(devices=self._conditions(),
                             backend_reachable=False if self.backend is None else None)

    @property
    def out_of_service(self) -> bool:
        return not self.service.decision().in_service

    def set_out_of_service(self, by: str, note: str = "", via: str = "fleet") -> None:
        """An operator's or technician's decision, kept across restarts until lifted (the
        one flag file of :mod:`kiosk.diag.flag`, which the maintenance screen sets too)."""
        flag = self._flags().out_of_service(by=by, note=note, via=via)
        self.service.set_out_of_service(flag.by, flag.note)
        log.warning("out of service (set by the %s)", by)

    def back_in_service(self) -> None:
        self.service.back_in_service()
        self._flags().back_in_service()
        if self.out_of_service:
            log.info("flag cleared; still out of service: %s", ", ".join(self._reason_codes()))
        else:
            log.info("back in service")

    def _flags(self) -> FlagFile:
        from kiosk.diag.flag import FlagFile

        return FlagFile(self.cfg.var_dir)

    def _load_service_flag(self) -> None:
        flag = self._flags().read()  # unreadable: out of service, a person decides
        if flag is not None:
            self.service.set_out_of_service(flag.by, flag.note)

    def _reason_codes(self) -> list[str]:
        return [r.code for r in self.service.decision().reasons]

    def _settling(self) -> bool:
        return self._clock() - self._started < STARTUP_GRACE_S

    def _conditions(self) -> dict[str, DeviceCondition]:
        settling = self._settling()
        out: dict[str, DeviceCondition] = {}
        for name, slot in self.devices.items():
            out[name] = starting_condition(slot.status, usable=bool(slot.usable),
                                           settling=settling)
        return out

    # -- restarts -------------------------------------------------------------------------
    def request_restart(self, reason: str) -> None:
        """Restart the kiosk at the next idle moment (no new journey starts meanwhile)."""
        if self._restart is None:
            self._restart = reason
            log.info("restart requested (%s)", reason)
        self.restart_wanted.set()

    @property
    def restart_requested(self) -> str | None:
        return self._restart

    # -- health ---------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """Devices (status, details, counters, capabilities, inventory: see
        :meth:`Devices.snapshot`), backend and outbox (counts from its local database),
        redacted; no device or network I/O."""
        snap = self.devices.snapshot()
        snap["backend"] = {"ok": self.backend is not None, "error": self.backend_error}
        outbox: dict[str, Any] = {"ok": self.outbox is not None,
                                  "error": self.journey.outbox_error}
        if self.outbox is not None:
            stats = self.outbox.stats()
            outbox.update(pending=stats.pending, needs_operator=stats.needs_operator,
                          key_error=stats.key_error)
        snap["outbox"] = outbox
        return snap

    def current_problems(self, snap: Mapping[str, Any] | None = None) -> list[str]:
        """What is wrong now, as stable codes (``printer.paper_out``, ``camera.offline``,
        ``backend.unavailable``): the fleet's health-window probe. A device still starting
        (offline within :data:`STARTUP_GRACE_S` of the start) is not a problem yet."""
        snap = snap if snap is not None else self.snapshot()
        settling = self._settling()
        out: set[str] = set()
        for name, entry in snap["devices"].items():
            if entry.get("reason") == "device_disabled":
                continue
            status = str(entry.get("status"))
            if settling and status == DeviceStatus.OFFLINE.value:
                continue
            if not entry.get("usable"):
                out.add(f"{name}.{status}")
            for key, value in (entry.get("details") or {}).items():
                if isinstance(value, str) and value in BAD_DETAILS:
                    out.add(f"{name}.{key}_{value}")
        if not snap["backend"]["ok"]:
            out.add(f"backend.{snap['backend']['error'] or 'unavailable'}")
        box = snap["outbox"]
        if box.get("error"):
            out.add(f"outbox.{box['error']}")
        if box.get("key_error"):
            out.add("outbox.key_error")
        elif box.get("needs_operator"):
            out.add("outbox.needs_operator")
        return sorted(out)

    def health_summary(self) -> dict[str, Any]:
        """The health the fleet reports (JSON-able, no personal data): ``verdict`` (ready |
        degraded | out_of_service, the readiness report's rules), ``problems``,
        ``out_of_service`` with its reason codes, ``devices`` (status and plain details per
        device, counters), backend, outbox depth, session idle or busy, ready (the UI drew its
        attract screen), a pending restart,
        and the hash of the configuration in force (``sha256:...``, as in the report)."""
        from kiosk.diag.report import config_hash

        snap = self.snapshot()
        problems = self.current_problems(snap)
        decision = self.service.decision()
        verdict = "out_of_service" if not decision.in_service else \
            "degraded" if problems else "ready"
        devices: dict[str, Any] = {}
        for name, entry in snap["devices"].items():
            if entry.get("reason") == "device_disabled":
                continue
            details = {k: v for k, v in (entry.get("details") or {}).items()
                       if isinstance(v, str | int | float | bool) and k != "status"}
            devices[name] = {"status": entry["status"], **details,
                             "counters": dict(entry.get("counters") or {})}
            if entry.get("reason"):
                devices[name]["reason"] = entry["reason"]
        return {"verdict": verdict, "problems": problems,
                "out_of_service": not decision.in_service,
                "out_of_service_reasons": [r.code for r in decision.reasons],
                "devices": devices, "backend": snap["backend"], "outbox": snap["outbox"],
                "outbox_depth": snap["outbox"].get("pending", 0),
                "session": "busy" if self.session_active() else "idle",
                "ready": self._ready.is_set(), "restart_pending": self._restart,
                "config_hash": config_hash(self.cfg)}

    def summary(self) -> str:
        parts = [self.devices.summary()]
        parts.append("backend=" + ("ok" if self.backend is not None else str(self.backend_error)))
        if self.journey.outbox_error:
            parts.append(f"outbox={self.journey.outbox_error}")
        return ", ".join(parts)

    # -- the fleet: configuration ---------------------------------------------------------
    def apply_config(self, change: ConfigChange) -> ApplyResult:
        """Take a new configuration (the fleet agent's ``apply`` hook, at an idle moment when
        ``change.idle``). Live settings (:data:`kiosk.fleet.changes.LIVE`: timeouts,
        languages, texts, location, log level) take effect at once in the session and in the
        config the journey and the UI read; anything else needs new devices or a new backend
        and is taken by a restart (the agent resumes the health window in the new process)."""
        from kiosk.fleet.agent import ApplyResult
        from kiosk.fleet.changes import needs_idle

        idle = needs_idle(change.changed)
        if idle:
            log.info("configuration change needs a restart (%s)", ", ".join(idle[:5]))
            self.request_restart("config")
            return ApplyResult(True, restart=True)
        cfg = change.config
        self.cfg = cfg
        self.journey.cfg = cfg
        self.session.policy = timeout_policy(cfg)
        logging.getLogger().setLevel(cfg.logging.level)
        log.info("configuration taken live (%d settings)", len(change.changed))
        return ApplyResult(True)

    # -- the fleet: remote commands -------------------------------------------------------
    def remote_command(self, name: str, args: Mapping[str, Any]) -> dict[str, Any]:
        """Run a verified remote command (the agent's ``command`` hook); raises
        :class:`~kiosk.fleet.agent.CommandFailed` with a code when refused."""
        from kiosk.fleet.agent import CommandFailed

        if name == "out_of_service":
            self.set_out_of_service("operator", str(args.get("note", "")))
            return {"out_of_service": True, "reasons": self._reason_codes(),
                    "session": "busy" if self.session_active() else "idle"}
        if name == "back_in_service":
            self.back_in_service()
            return {"out_of_service": self.out_of_service, "reasons": self._reason_codes()}
        if name == "restart_when_idle":
            self.request_restart("command")
            return {"restarting": True}
        if name == "run_diagnostics":
            return self.readiness_report()
        if name == "collect_logs":
            return {"lines": self.collect_logs(_bounded_int(args.get("lines"), 200))}
        if name == "screenshot":
            if self.session_active():
                raise CommandFailed("busy", "a citizen session is on screen")
            if self.screenshot_provider is None:
                raise CommandFailed("unsupported", "this kiosk runs without its screen")
            try:
                png = self.screenshot_provider(SCREENSHOT_TIMEOUT_S)
            except TimeoutError:
                raise CommandFailed("failed", "the screen did not answer in time") from None
            return {"png": base64.b64encode(png).decode("ascii"), "bytes": len(png)}
        raise CommandFailed("unknown_command", name[:40])

    def readiness_report(self) -> dict[str, Any]:
        """The readiness report (internal level: no device I/O) of the running devices, with
        the live service state; redacted by the report builder."""
        from kiosk.diag.counters import CounterStore
        from kiosk.diag.host import collect_host
        from kiosk.diag.report import build_report, probe_backend

        cfg = self.cfg
        found = [slot.device for slot in self.devices.values() if slot.device is not None]
        unavailable = {name: slot.reason or "device_unavailable"
                       for name, slot in self.devices.items() if slot.device is None}
        expected = [name for name in DEVICE_NAMES if getattr(cfg, name).enabled]
        outbox = self.outbox
        with CounterStore.in_var_dir(cfg.var_dir) as counters:
            report = build_report(
                found, level="internal", backend_probe=lambda: probe_backend(self.backend),
                outbox_stats=outbox.stats if outbox is not None else None,
                host=lambda: collect_host(cfg.var_dir), counters=counters, cfg=cfg,
                service=self.service, expected=expected, unavailable=unavailable)
        return report.as_json()

    def collect_logs(self, lines: int = 200) -> list[str]:
        """The last ``lines`` log lines of this process (or of the log file), redacted: ID
        numbers and any Han text masked."""
        from kiosk.diag.redact import redact_text

        source: Iterable[str] = self.log_tail.lines() if self.log_tail is not None else \
            _file_tail(self.cfg.logging.file, lines)
        return [redact_text(line) for line in list(source)[-lines:]]


def _bounded_int(value: Any, default: int, low: int = 1, high: int = MAX_LOG_LINES) -> int:
    try:
        return max(low, min(high, int(value)))
    except (TypeError, ValueError):
        return default


def _file_tail(path: str | None, lines: int) -> list[str]:
    if not path:
        return []
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 256 * 1024))
            return f.read().decode("utf-8", "replace").splitlines()[-lines:]
    except OSError:
        return []
