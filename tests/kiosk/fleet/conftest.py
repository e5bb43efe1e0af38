"""Fixtures of the fleet tests: a real mosquitto, real keys, real agents with a small real
stand-in kiosk (health, problems, busy, apply, command, audit), an operator's view."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kiosk.fleet import keys
from kiosk.fleet.agent import ApplyResult, CommandFailed, FleetAgent, KioskHooks
from kiosk.fleet.bundle import sign
from kiosk.fleet.changes import ConfigChange
from kiosk.fleet.mqtt import BrokerSettings
from kiosk.fleet.ops import FleetView
from kiosk.fleet.slots import ConfigSource
from tests.harness.peers import Mosquitto

WAIT = 15.0  # seconds any single expected event may take on a loaded 2-core machine


@dataclass
class StandIn:
    """A kiosk reduced to what the agent needs; records what the agent asked of it."""

    problems_now: list[str] = field(default_factory=list)
    session: threading.Event = field(default_factory=threading.Event)
    changes: list[ConfigChange] = field(default_factory=list)
    commands: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    audits: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    apply_result: ApplyResult = field(default_factory=lambda: ApplyResult(True))
    # a problem that appears when a config with this printer queue is applied
    breaks_on_queue: str | None = None
    out_of_service: bool = False
    log_lines: list[str] = field(default_factory=list)

    def health(self) -> dict[str, Any]:
        return {"verdict": "down" if self.problems_now else "ok",
                "problems": list(self.problems_now), "out_of_service": self.out_of_service,
                "devices": {"printer": "online"}, "outbox_depth": 0}

    def apply(self, change: ConfigChange) -> ApplyResult:
        assert not (change.idle and self.session.is_set()), "applied inside a session"
        self.changes.append(change)
        if change.reason == "apply" and change.config.printer.queue == self.breaks_on_queue:
            self.problems_now.append("printer.paper_out")
        if change.reason == "rollback" and "printer.paper_out" in self.problems_now:
            self.problems_now.remove("printer.paper_out")
        return self.apply_result

    def command(self, name: str, args: Mapping[str, Any]) -> Mapping[str, Any]:
        self.commands.append((name, dict(args)))
        if name == "out_of_service":
            self.out_of_service = True
        elif name == "back_in_service":
            self.out_of_service = False
        elif name == "collect_logs":
            return {"lines": list(self.log_lines)}
        elif name == "screenshot":
            return {"png": "iVBORw0KGgo"}
        elif name == "run_diagnostics":
            if args.get("fail"):
                raise CommandFailed("failed", "diagnostics could not run")
            return {"verdict": "ok", "checks": [{"name": "printer", "ok": True}]}
        return {"out_of_service": self.out_of_service}

    def audit(self, event: str, outcome: str, **detail: Any) -> None:
        self.audits.append((event, outcome, detail))

    def hooks(self) -> KioskHooks:
        return KioskHooks(health=self.health, apply=self.apply, busy=self.session.is_set,
                          command=self.command, audit=self.audit,
                          problems=lambda: list(self.problems_now))


@dataclass
class Kiosk:
    agent: FleetAgent
    standin: StandIn
    source: ConfigSource


@pytest.fixture
def keydir(tmp_path: Path) -> Path:
    keys.keygen(tmp_path / "keys", 30 * 86400)
    return tmp_path / "keys"


@pytest.fixture
def signer(keydir: Path) -> keys.SigningKey:
    return keys.load_signing_key(keydir / "signing.key")


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    folder = tmp_path / "broker"
    folder.mkdir()
    b = Mosquitto(folder, persistent=True).start()
    yield b
    b.stop()


@pytest.fixture
def view(broker: Mosquitto) -> Iterator[FleetView]:
    v = FleetView(BrokerSettings.from_url(broker.url), answers=True).open()
    yield v
    v.close()


def kiosk_env(tmp_path: Path, broker: Mosquitto, keydir: Path, kiosk_id: str, group: str,
              **extra: str) -> dict[str, str]:
    env = {"KIOSK__VAR_DIR": str(tmp_path / f"var-{kiosk_id}"),
           "KIOSK__KIOSK__ID": kiosk_id, "KIOSK__KIOSK__GROUP": group,
           "KIOSK__FLEET__BROKER_URL": broker.url,
           "KIOSK__FLEET__TRUST_ROOT": str(keydir / "root.pub"),
           "KIOSK__FLEET__HEARTBEAT_S": "0.5", "KIOSK__FLEET__HEALTH_WINDOW_S": "0.4",
           "KIOSK__FLEET__HEALTH_PROBE_S": "0.05", "KIOSK__FLEET__IDLE_POLL_S": "0.05",
           "KIOSK__FLEET__RECONNECT_MIN_S": "0.05", "KIOSK__FLEET__RECONNECT_MAX_S": "0.5"}
    env.update({f"KIOSK__{k.upper()}": v for k, v in extra.items()})
    return env


@pytest.fixture
def make_kiosk(tmp_path: Path, broker: Mosquitto,
               keydir: Path) -> Iterator[Callable[..., Kiosk]]:
    started: list[FleetAgent] = []

    def make(kiosk_id: str = "k1", group: str = "g1", standin: StandIn | None = None,
             start: bool = True, **extra: str) -> Kiosk:
        source = ConfigSource(None, "simulation",
                              kiosk_env(tmp_path, broker, keydir, kiosk_id, group, **extra))
        standin = standin or StandIn()
        agent = FleetAgent(source, source.boot(), standin.hooks())
        if start:
            agent.start()
            started.append(agent)
        return Kiosk(agent, standin, source)

    yield make
    for agent in started:
        agent.stop()


def bundle(signer: keys.SigningKey, version: int, scope: str = "kiosk:k1",
           overlay: Mapping[str, Any] | None = None, expires_s: float = 3600,
           now: float | None = None) -> bytes:
    """A signed bundle; by default it sets the inactivity timeout to 100 + version."""
    if overlay is None:
        overlay = {"session": {"inactivity_timeout_s": 100 + version}}
    return sign(overlay, signer, version, expires_s, scope, now=now)


def rep(view: FleetView, kiosk_id: str = "k1") -> dict[str, Any]:
    return view.reported.get(kiosk_id) or {}


def applied(view: FleetView, kiosk_id: str, layer: str, version: int) -> bool:
    return ((rep(view, kiosk_id).get("applied") or {}).get(layer) or {}).get("version") \
        == version


def wait_applied(view: FleetView, version: int, kiosk_id: str = "k1",
                 layer: str = "kiosk") -> None:
    assert view.wait_for(lambda v: applied(v, kiosk_id, layer, version), WAIT), \
        rep(view, kiosk_id)


def wait_rejected(view: FleetView, reason: str, kiosk_id: str = "k1") -> dict[str, Any]:
    def seen(v: FleetView) -> bool:
        return (rep(v, kiosk_id).get("last_rejection") or {}).get("reason") == reason

    assert view.wait_for(seen, WAIT), rep(view, kiosk_id)
    return dict(rep(view, kiosk_id)["last_rejection"])


def fresh_report(view: FleetView, kiosk_id: str = "k1") -> dict[str, Any]:
    """A reported document published after this call (the next heartbeat)."""
    since = time.time()
    assert view.wait_for(lambda v: rep(v, kiosk_id).get("heartbeat_at", 0) > since, WAIT)
    return rep(view, kiosk_id)
