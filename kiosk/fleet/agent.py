"""The device-twin agent in the kiosk.

It needs only the kiosk's configuration (and how it was built, :class:`ConfigSource`) and
five callables (:class:`KioskHooks`): ``health`` (a JSON-able summary), ``apply`` (take a new
configuration), ``problems`` (the health-window probe), ``busy`` (a citizen session is on:
the idle gate) and ``command`` (run a remote command). Everything runs on the agent's own
threads: paho's network thread only queues what arrives; one worker verifies, applies,
answers and reports. No call into the agent blocks its caller.

Twin rules: subscribe first, then take the retained desired documents (fleet, group, kiosk,
and a rollout's staged one); a retained document not newer than the high-water mark of its
scope is ignored (it was seen before), a live push of one is refused ``old_version``. Each
bundle is verified (:func:`kiosk.fleet.bundle.verify`), merged over the base configuration
and validated, written to a new slot, applied, watched for a health window, and committed or
rolled back; the outcome is reported either way on ``kiosk/<id>/reported`` (retained).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import logging
import queue
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kiosk.config.loader import ConfigError
from kiosk.config.schema import KioskConfig
from kiosk.fleet import topics
from kiosk.fleet.bundle import LAYERS, Bundle, forbidden_keys, verify
from kiosk.fleet.canonical import NotCanonical, canonical, strict_loads
from kiosk.fleet.changes import ConfigChange, changed_keys, needs_idle
from kiosk.fleet.commands import Command, NonceLedger, peek_nonce, verify_command
from kiosk.fleet.errors import OperatorError, Rejected
from kiosk.fleet.keys import load_trust_root
from kiosk.fleet.mqtt import BrokerSettings, MqttLink
from kiosk.fleet.slots import Boot, ConfigSource, Layer, Layers
from kiosk.fleet.state import FleetState
from kiosk.privacy import REDACT_KEYS, redact

log = logging.getLogger("kiosk.fleet")

MAX_RESULT_BYTES = 512 * 1024
SNAPSHOT_WAIT_S = 3.0  # at most this long for the sync marker after (re)subscribing
MAX_REPORT_BYTES = 64 * 1024
# At most this many agents of one process do their work at once. A kiosk runs one agent; a
# process hosting many (a fleet simulator: the benchmark's 250) would otherwise have hundreds
# of threads runnable at once after a push, and CPython's GIL thrashes: 1000 agents took 20 s
# and 22 s of CPU instead of 2 s (issue 14's benchmark).
WORK_CONCURRENCY = 4
_WORK_GATE = threading.BoundedSemaphore(WORK_CONCURRENCY)


@dataclass(frozen=True)
class ApplyResult:
    """What the kiosk's ``apply`` hook answers: ``ok``, or why not.

    ``restart``: the kiosk takes this change by restarting (it cannot rebuild its devices or
    backend in place). The agent then hands the trial over to the next process
    (:meth:`SlotStore.hand_over <kiosk.fleet.slots.SlotStore.hand_over>`), which resumes the
    health window; a process that dies during it has the change rolled back at its start.
    """

    ok: bool
    reason: str = ""
    restart: bool = False


class CommandFailed(Exception):
    """Raised by the ``command`` hook: the command was refused or failed (``code``)."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(detail or code)
        self.code = code
        self.detail = detail


def problems_from_health(health: Mapping[str, Any]) -> list[str]:
    """The default health-window probe: ``health["problems"]``, else the verdict if not ok."""
    listed = health.get("problems")
    if isinstance(listed, list):
        return [str(p) for p in listed]
    verdict = health.get("verdict", "ok")
    return [] if verdict in ("ok", None) else [f"verdict {verdict}"]


@dataclass
class KioskHooks:
    """What the agent calls in the kiosk (each from the agent's worker thread).

    ``problems`` lists what is wrong now (empty: healthy); the health window fails when a
    problem appears that was not there before the change. By default it is read from
    ``health()`` (:func:`problems_from_health`). ``audit(event, outcome, **detail)`` matches
    :meth:`kiosk.audit.AuditLog.append`.
    """

    health: Callable[[], Mapping[str, Any]]
    apply: Callable[[ConfigChange], ApplyResult]
    busy: Callable[[], bool]
    command: Callable[[str, Mapping[str, Any]], Mapping[str, Any] | None]
    problems: Callable[[], Iterable[str]] | None = None
    audit: Callable[..., object] | None = None


@dataclass
class Candidate:
    """New layers that passed verification and the schema, not yet applied."""

    layers: Layers
    config: KioskConfig
    bundles: list[Bundle]

    def versions(self) -> dict[str, int]:
        return {b.scope: b.version for b in self.bundles}


@dataclass
class Trial:
    """A candidate in force during its health window."""

    candidate: Candidate
    change: ConfigChange
    baseline: set[str]
    started: float
    deadline: float
    next_probe: float


@dataclass
class _Item:
    kind: str
    topic: str = ""
    payload: bytes = b""
    retained: bool = False
    done: threading.Event | None = field(default=None, compare=False)


@functools.cache
def software_version() -> str:
    try:
        return importlib.metadata.version("smart-counter-kiosk")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


class FleetAgent:
    """One kiosk's twin: ``start()``, ``stop()``; everything else happens on its threads."""

    def __init__(self, source: ConfigSource, boot: Boot, hooks: KioskHooks, *,
                 client_id: str | None = None) -> None:
        cfg = boot.config
        if not cfg.fleet.trust_root:
            raise OperatorError("fleet.trust_root", "the fleet agent needs the root.pub of "
                                "`kiosk ops keygen` to verify bundles and commands")
        self.root = load_trust_root(cfg.fleet.trust_root)
        self.source = source
        self.hooks = hooks
        self.config = cfg
        self.layers: Layers = dict(boot.layers)
        self.store = boot.store
        self.kiosk_id = cfg.kiosk.id
        self.group = cfg.kiosk.group
        state_dir = cfg.fleet.state_dir
        self.state = FleetState.load(f"{state_dir}/state.json")
        for layer in self.layers.values():  # never below what is in force
            self.state.raise_mark(layer.scope, layer.version, layer.digest)
        for note in boot.notes:
            self.state.last_outcome = {"result": note.split(":", 1)[0],
                                       "reason": note, "at": time.time()}
        self.nonces = NonceLedger(f"{state_dir}/nonces.json")
        self.pending: Candidate | None = None
        self.trial: Trial | None = None
        self.handed_over: Trial | None = None  # waiting for the restart that takes it
        self._inbox: list[_Item] = []
        self._restarts: list[Command] = []
        self._refused: set[str] = set()
        self._marker: str | None = None  # outstanding sync marker: gathering the snapshot
        self._snapshot: list[_Item] = []
        self._snapshot_until = 0.0
        self._queue: queue.Queue[_Item] = queue.Queue()
        self._started = time.time()
        self._software = software_version()
        self.reports = 0
        self._thread: threading.Thread | None = None
        me = self.kiosk_id
        if boot.resumed is not None:
            self._resume(boot)
        self.desired_topics = [topics.FLEET_DESIRED, topics.group_desired(self.group),
                               topics.kiosk_desired(me), topics.kiosk_staged(me)]
        self.link = MqttLink(
            BrokerSettings.for_kiosk(cfg.fleet, me), client_id or f"kiosk-{me}",
            on_message=self._arrived, on_connect=lambda: self._put(_Item("connected")),
            will=(topics.status(me), topics.OFFLINE, 1, True),
            subscriptions=[(t, 1) for t in [*self.desired_topics, topics.cmd(me),
                                            topics.sync(me)]])

    # -- public, non-blocking -----------------------------------------------------------
    def start(self) -> None:
        self.state.save()
        self._thread = threading.Thread(target=self._work, name=f"fleet-{self.kiosk_id}",
                                        daemon=True)
        self._thread.start()
        self.link.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Say ``offline`` (retained), disconnect, end the threads. A change still in its
        health window is rolled back at the next start (unless it was handed over to it)."""
        self._put(_Item("stop"))
        if self._thread is not None:
            self._thread.join(timeout)
        info = self.link.publish(topics.status(self.kiosk_id), topics.OFFLINE, retain=True)
        if info is not None:
            try:
                info.wait_for_publish(min(timeout, 2.0))
            except (RuntimeError, ValueError):
                pass
        self.link.stop(timeout)

    def wake(self) -> None:
        """Tell the agent something changed (a session ended): deferred work is retried."""
        self._put(_Item("wake"))

    def sync(self, timeout: float = 10.0) -> bool:
        """Wait until the worker has handled everything queued before this call (tests,
        diagnostics); True when it has."""
        done = threading.Event()
        self._put(_Item("sync", done=done))
        return done.wait(timeout)

    @property
    def in_force(self) -> KioskConfig:
        """The configuration running now (a trial's during its health window)."""
        return self.trial.candidate.config if self.trial else self.config

    # -- network thread -----------------------------------------------------------------
    def _put(self, item: _Item) -> None:
        self._queue.put(item)

    def _arrived(self, topic: str, payload: bytes, retained: bool) -> None:
        me = self.kiosk_id
        kind = {topics.cmd(me): "cmd", topics.sync(me): "synced"}.get(topic, "desired")
        self._put(_Item(kind, topic, payload, retained))

    # -- worker -------------------------------------------------------------------------
    def _work(self) -> None:
        next_beat = time.monotonic()
        while True:
            now = time.monotonic()
            due = [next_beat]
            if self.trial is not None:
                due.append(self.trial.next_probe)
            if self.pending is not None or self._restarts:
                due.append(now + self.config.fleet.idle_poll_s)
            if self._marker is not None:
                due.append(self._snapshot_until)
            try:
                item: _Item | None = self._queue.get(timeout=max(0.0, min(due) - now))
            except queue.Empty:
                item = None
            if item is not None and item.kind == "stop":
                return
            try:
                with _WORK_GATE:
                    if item is not None:
                        self._handle(item)
                    self._tick()
                    if time.monotonic() >= next_beat:
                        self._report()
                        next_beat = time.monotonic() + self.config.fleet.heartbeat_s
            except Exception:  # noqa: BLE001 - the agent must outlive any one bad event
                log.exception("fleet agent: unexpected error")
            finally:
                if item is not None and item.done is not None:
                    item.done.set()

    def _handle(self, item: _Item) -> None:
        if self.handed_over is not None and item.kind in ("desired", "synced"):
            return  # the process restarts; the next one takes the retained documents
        if item.kind == "connected":
            me = self.kiosk_id
            self.link.publish(topics.status(me), topics.ONLINE, retain=True)
            self._report()
            # the retained desired documents follow the SUBACK; a marker published after
            # the SUBSCRIBE comes back after them, so the snapshot is taken as one change
            self._marker = secrets.token_hex(8)
            self._snapshot_until = time.monotonic() + SNAPSHOT_WAIT_S
            self.link.publish(topics.sync(me), self._marker.encode("ascii"))
        elif item.kind == "synced":
            if self._marker is not None and item.payload == self._marker.encode("ascii"):
                self._end_snapshot()
        elif item.kind == "cmd":
            self._command(item.payload)
        elif item.kind == "desired":
            if self._marker is not None:
                self._snapshot.append(item)
            elif self.trial is not None:
                self._inbox.append(item)  # after the health window
            else:
                self._consider([item])

    def _end_snapshot(self) -> None:
        batch, self._snapshot, self._marker = self._snapshot, [], None
        if self.trial is not None:
            self._inbox.extend(batch)
        elif batch:
            self._consider(batch)

    def _tick(self) -> None:
        if self.handed_over is not None:
            return
        if self._marker is not None and time.monotonic() >= self._snapshot_until:
            log.warning("fleet: the sync marker did not come back; taking the snapshot")
            self._end_snapshot()
        if self.trial is not None and time.monotonic() >= self.trial.next_probe:
            self._probe()
        if self.trial is None and self._inbox:
            batch, self._inbox = self._inbox, []
            self._consider(batch)
        if self.trial is None and self.pending is not None and not self._busy():
            candidate, self.pending = self.pending, None
            self._start_trial(candidate)
        if self._restarts and not self._busy():
            waiting, self._restarts = self._restarts, []
            for cmd in waiting:
                self._run_command(cmd)

    def _busy(self) -> bool:
        try:
            return bool(self.hooks.busy())
        except Exception:  # noqa: BLE001 - unknown means busy: never disturb a citizen
            log.exception("fleet agent: busy() failed")
            return True

    # -- bundles ------------------------------------------------------------------------
    def _consider(self, batch: list[_Item]) -> None:
        accepted: dict[str, Bundle] = {}
        for item in batch:
            if not item.payload:
                continue  # a cleared retained topic
            bundle = self._check(item)
            if bundle is None:
                continue
            prev = accepted.get(bundle.layer)
            if prev is None or bundle.version > prev.version:
                accepted[bundle.layer] = bundle
        if not accepted:
            return
        base = dict(self.pending.layers if self.pending else self.layers)
        prior = self.pending.bundles if self.pending else []
        kept: list[Bundle] = []
        config = self.pending.config if self.pending else self.config
        for name in LAYERS:
            bundle = accepted.get(name)
            if bundle is None:
                continue
            bad = forbidden_keys(bundle.overlay)
            trial_layers = {**base, name: Layer(bundle.scope, bundle.version, bundle.digest,
                                                bundle.overlay, time.time())}
            try:
                if bad:
                    raise ConfigError(bundle.scope, [f"{bad[0]}: a bundle may not set this"])
                config = self.source.load(trial_layers)
            except ConfigError as exc:  # authentic but unusable: never tried again
                self.state.raise_mark(bundle.scope, bundle.version, bundle.digest)
                self._reject(bundle.scope, bundle.version, Rejected(
                    "invalid_config", exc.problems[0] if exc.problems else "invalid"))
                continue
            base = trial_layers
            kept.append(bundle)
        if kept:
            merged = [b for b in prior if b.layer not in {k.layer for k in kept}] + kept
            self._schedule(Candidate(base, config, merged))

    def _check(self, item: _Item) -> Bundle | None:
        """The verified bundle in ``item``; None when refused (reported) or already seen."""
        fingerprint = hashlib.sha256(item.payload).hexdigest()
        if fingerprint in self._refused:
            return None
        try:
            bundle = verify(item.payload, self.root, self.kiosk_id, self.group)
        except Rejected as exc:
            self._refused.add(fingerprint)
            self._reject(_claimed_scope(item.payload), _claimed_version(item.payload), exc)
            return None
        mark = self.state.mark(bundle.scope)
        pending = self.pending.versions() if self.pending else {}
        if bundle.digest == mark.digest or pending.get(bundle.scope) == bundle.version:
            return None  # seen before: a retained copy, or the rollout's final publish
        if bundle.version <= mark.version:
            if item.retained:  # the twin rule: a snapshot not newer than applied is ignored
                log.info("fleet: retained %s version %d not newer than %d; ignored",
                         bundle.scope, bundle.version, mark.version)
                return None
            self._refused.add(fingerprint)
            self._reject(bundle.scope, bundle.version, Rejected(
                "old_version", f"version {bundle.version} is not newer than {mark.version}"))
            return None
        return bundle

    def _reject(self, scope: str | None, version: int | None, exc: Rejected) -> None:
        log.warning("fleet: bundle %s version %s refused: %s", scope, version, exc)
        self.state.last_rejection = {"version": version, "reason": exc.code, "scope": scope,
                                     "detail": exc.detail, "at": time.time()}
        self.state.save()
        self._audit("fleet.bundle", exc.code, scope=scope, version=version)
        self._report()

    def _schedule(self, candidate: Candidate) -> None:
        keys = changed_keys(self.config, candidate.config)
        idle = needs_idle(keys)
        if idle and self._busy():
            self.pending = candidate
            log.info("fleet: %s waits for the session to end (%s)", candidate.versions(),
                     ", ".join(idle[:5]))
            self._report()
            return
        self.pending = None
        self._start_trial(candidate, keys)

    def _start_trial(self, candidate: Candidate, keys: list[str] | None = None) -> None:
        """``keys``: what changed against ``self.config``, when just computed."""
        keys = changed_keys(self.config, candidate.config) if keys is None else keys
        change = ConfigChange(candidate.config, self.config, tuple(keys),
                              bool(needs_idle(keys)))
        baseline = set(self._problems())
        for b in candidate.bundles:  # before applying: a bundle that kills the kiosk is
            self.state.raise_mark(b.scope, b.version, b.digest)  # not tried again at start
        self.state.save()
        name = self.store.write(candidate.layers)
        self.store.begin_trial(name)
        now = time.monotonic()
        window = self.config.fleet.health_window_s
        self.trial = Trial(candidate, change, baseline, now, now + window, now)
        result = self._apply(change)
        if not result.ok:
            self._rollback(f"apply_failed: {result.reason}"[:300])
        elif window <= 0:
            self._commit()
        elif result.restart:
            self._hand_over()
        else:
            self._report()

    def _hand_over(self) -> None:
        """The kiosk restarts to take the trial: the next process resumes its window."""
        trial = self.trial
        assert trial is not None
        self.store.hand_over(trial.deadline - time.monotonic(), sorted(trial.baseline))
        self.trial, self.handed_over = None, trial
        log.info("fleet: %s handed over to the restarted kiosk", trial.candidate.versions())
        self._report()

    def _resume(self, boot: Boot) -> None:
        """Take over the trial the previous process handed over (see :meth:`_hand_over`)."""
        resumed = boot.resumed
        assert resumed is not None
        self.layers, self.config = dict(resumed.previous_layers), resumed.previous_config
        bundles = [Bundle(layer.scope, name, layer.version, 0, 0, layer.overlay, layer.digest)
                   for name, layer in boot.layers.items()
                   if name not in self.layers or self.layers[name].digest != layer.digest]
        keys = changed_keys(self.config, boot.config)
        change = ConfigChange(boot.config, self.config, tuple(keys), bool(needs_idle(keys)))
        now = time.monotonic()
        self.trial = Trial(Candidate(dict(boot.layers), boot.config, bundles), change,
                           set(resumed.resume.baseline), now, now + resumed.resume.remaining_s,
                           now)

    def _apply(self, change: ConfigChange) -> ApplyResult:
        try:
            result = self.hooks.apply(change)
        except Exception as exc:  # noqa: BLE001 - a failing hook is an outcome to report
            log.exception("fleet: apply hook failed")
            return ApplyResult(False, f"apply raised {exc.__class__.__name__}")
        return result if isinstance(result, ApplyResult) else ApplyResult(bool(result))

    def _problems(self) -> list[str]:
        try:
            if self.hooks.problems is not None:
                return [str(p) for p in self.hooks.problems()]
            return problems_from_health(self.hooks.health())
        except Exception as exc:  # noqa: BLE001
            return [f"health probe raised {exc.__class__.__name__}"]

    def _probe(self) -> None:
        trial = self.trial
        assert trial is not None
        now = time.monotonic()
        new = sorted(set(self._problems()) - trial.baseline)
        if new:
            self._rollback(f"health_window: {', '.join(new)} after {now - trial.started:.1f} s"
                           [:300])
        elif now >= trial.deadline:
            self._commit()
        else:
            trial.next_probe = min(trial.deadline, now + self.config.fleet.health_probe_s)

    def _commit(self) -> None:
        trial = self.trial
        assert trial is not None
        self.store.commit()
        self.trial = None
        candidate = trial.candidate
        self.layers, self.config = candidate.layers, candidate.config
        self.state.last_outcome = {"result": "applied", "versions": candidate.versions(),
                                   "at": time.time()}
        self.state.save()
        log.info("fleet: applied %s", candidate.versions())
        for b in candidate.bundles:
            self._audit("fleet.bundle", "applied", scope=b.scope, version=b.version)
        self._report()

    def _rollback(self, reason: str) -> None:
        trial = self.trial
        assert trial is not None
        self.store.rollback()
        self.trial = None
        back = ConfigChange(self.config, trial.candidate.config, trial.change.changed,
                            trial.change.idle, reason="rollback")
        result = self._apply(back)
        if not result.ok:
            log.error("fleet: rolling back failed too: %s", result.reason)
        versions = trial.candidate.versions()
        self.state.last_outcome = {"result": "rolled_back", "versions": versions,
                                   "reason": reason, "at": time.time()}
        self.state.save()
        log.warning("fleet: %s rolled back: %s", versions, reason)
        for b in trial.candidate.bundles:
            self._audit("fleet.bundle", "rolled_back", scope=b.scope, version=b.version,
                        reason=reason.split(":", 1)[0])
        self._report()

    # -- commands -----------------------------------------------------------------------
    def _command(self, payload: bytes) -> None:
        nonce = peek_nonce(payload)
        try:
            cmd = verify_command(payload, self.root, self.kiosk_id)
            self.nonces.check_and_record(cmd)
        except Rejected as exc:
            log.warning("fleet: command refused: %s", exc.code)
            self._answer(None, nonce, ok=False, code=exc.code, detail=exc.detail)
            return
        if cmd.name == "restart_when_idle" and self._busy():
            self._restarts.append(cmd)
            self._answer(cmd, cmd.nonce, ok=True, status="scheduled",
                         detail="waiting for the citizen session to end")
            return
        self._run_command(cmd)

    def _run_command(self, cmd: Command) -> None:
        if cmd.name == "screenshot" and self._busy():
            self._answer(cmd, cmd.nonce, ok=False, code="busy",
                         detail="a citizen session is on screen")
            return
        try:
            result = self.hooks.command(cmd.name, cmd.args) or {}
        except CommandFailed as exc:
            self._answer(cmd, cmd.nonce, ok=False, code=exc.code, detail=exc.detail[:300])
            return
        except Exception as exc:  # noqa: BLE001
            log.exception("fleet: command %s failed", cmd.name)
            self._answer(cmd, cmd.nonce, ok=False, code="failed",
                         detail=f"{exc.__class__.__name__}")
            return
        self._answer(cmd, cmd.nonce, ok=True, status="done", result=_safe_result(cmd, result))

    def _answer(self, cmd: Command | None, nonce: str | None, *, ok: bool,
                code: str | None = None, status: str | None = None, detail: str = "",
                result: Any = None) -> None:
        answer = {"kiosk_id": self.kiosk_id, "nonce": nonce,
                  "command": cmd.name if cmd else None, "ok": ok, "code": code,
                  "status": status if ok else "refused", "detail": detail,
                  "result": result, "at": time.time()}
        # audited first: the answer is out once published, the record must be there by then
        self._audit("fleet.command", (status or "done") if ok else str(code),
                    command=cmd.name if cmd else None, nonce=(nonce or "")[:12])
        self.link.publish(topics.cmd_result(self.kiosk_id), canonical(answer))

    # -- reporting ----------------------------------------------------------------------
    def _audit(self, event: str, outcome: str, **detail: Any) -> None:
        if self.hooks.audit is None:
            return
        try:
            self.hooks.audit(event, outcome, **detail)
        except Exception:  # noqa: BLE001 - auditing must not stop the agent
            log.exception("fleet: audit hook failed for %s", event)

    def reported(self) -> dict[str, Any]:
        """The reported document (also useful for diagnostics)."""
        try:
            health = redact(dict(self.hooks.health()))
        except Exception as exc:  # noqa: BLE001
            health = {"verdict": "unknown", "error": f"health raised {exc.__class__.__name__}"}
        applied = {name: {"scope": layer.scope, "version": layer.version,
                          "applied_at": layer.applied_at}
                   for name, layer in self.layers.items()}
        latest = max(self.layers.values(), key=lambda la: la.applied_at, default=None)
        pending = self.pending
        trial = self.trial
        config_version = canonical({k: v.digest for k, v in sorted(self.layers.items())})
        doc = {
            "kiosk_id": self.kiosk_id, "group": self.group,
            "software_version": self._software,
            "config_version": "base" if not self.layers else
            "sha256:" + hashlib.sha256(config_version).hexdigest()[:16],
            "applied": applied, "applied_version": latest.version if latest else None,
            "last_rejection": self.state.last_rejection,
            "last_outcome": self.state.last_outcome,
            "pending": {"versions": pending.versions(), "reason": "waiting_for_idle"}
            if pending else None,
            "trial": {"versions": trial.candidate.versions(),
                      "ends_in_s": round(max(0.0, trial.deadline - time.monotonic()), 1)}
            if trial else {"versions": self.handed_over.candidate.versions(),
                           "restarting": True} if self.handed_over else None,
            "busy": self._busy(),
            "health": health,
            "heartbeat_at": time.time(), "uptime_s": round(time.time() - self._started, 1),
        }
        if len(canonical(doc)) > MAX_REPORT_BYTES:
            doc["health"] = {"verdict": health.get("verdict", "unknown"), "truncated": True}
        return doc

    def _report(self) -> None:
        if self.link.publish(topics.reported(self.kiosk_id), canonical(self.reported()),
                             retain=True) is not None:
            self.reports += 1


def _claimed(payload: bytes) -> dict[str, Any]:
    try:
        doc = strict_loads(payload, 512 * 1024)
        body = doc.get("body") if isinstance(doc, dict) else None
        return body if isinstance(body, dict) else {}
    except NotCanonical:
        return {}


def _claimed_version(payload: bytes) -> int | None:
    """The version a refused bundle claims (unverified; for the operator's report)."""
    v = _claimed(payload).get("version")
    return v if type(v) is int else None


def _claimed_scope(payload: bytes) -> str | None:
    s = _claimed(payload).get("scope")
    return s[:80] if isinstance(s, str) else None


# what a result's ``name`` may say in a list of ``devices`` or ``checks`` (the readiness
# report's shape): a device or part of the kiosk, never a person
PART_NAMES = frozenset({"idcard", "qr", "camera", "printer", "backend", "outbox", "host",
                        "kiosk", "session", "fleet", "audit"})


def _redact_result(data: Any, parent: str | None = None) -> Any:
    """:func:`kiosk.privacy.redact`, except that a ``name`` naming a part of the kiosk in an
    entry of a ``devices`` or ``checks`` list is kept (a readiness report's device names)."""
    if isinstance(data, Mapping):
        if parent in ("devices", "checks") and data.get("name") in PART_NAMES:
            rest = _redact_result({k: v for k, v in data.items() if k != "name"})
            return {"name": data["name"], **rest}
        return {k: "**REDACTED**" if k in REDACT_KEYS else _redact_result(v, str(k))
                for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_redact_result(v, parent) for v in data]
    return redact(data)


def _safe_result(cmd: Command, result: Mapping[str, Any]) -> Any:
    """A command's result as answered: redacted (not the screenshot image), bounded."""
    data = dict(result)
    image = data.pop("png", None) if cmd.name == "screenshot" else None
    out = _redact_result(data)
    if isinstance(image, str):
        out["png"] = image
    size = len(canonical(out))
    if size > MAX_RESULT_BYTES:
        return {"truncated": True, "bytes": size}
    return out
