"""The agent against a real mosquitto: retained desired documents, reconnects, refusals with
their reasons, the health window, the idle gate, heartbeat and last will."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from kiosk.fleet import keys, topics
from kiosk.fleet.agent import ApplyResult
from kiosk.fleet.canonical import canonical
from kiosk.fleet.ops import FleetView
from tests.harness.peers import Mosquitto
from tests.kiosk.fleet.conftest import (
    WAIT,
    Kiosk,
    StandIn,
    applied,
    bundle,
    fresh_report,
    kiosk_env,
    rep,
    wait_applied,
    wait_rejected,
)

ROOT = Path(__file__).resolve().parents[3]
MakeKiosk = Callable[..., Kiosk]


def timeout_in_force(k: Kiosk) -> float:
    return k.agent.in_force.session.inactivity_timeout_s


def test_desired_config_retained_before_the_kiosk_starts(
        make_kiosk: MakeKiosk, view: FleetView, signer: keys.SigningKey) -> None:
    view.push(bundle(signer, 1, "fleet", {"ui": {"default_language": "en"}}))
    view.push(bundle(signer, 4, "group:g1", {"session": {"warning_s": 15}}))
    view.push(bundle(signer, 2))
    k = make_kiosk()
    wait_applied(view, 2)
    assert applied(view, "k1", "fleet", 1) and applied(view, "k1", "group", 4)
    assert len(k.standin.changes) == 1  # the retained snapshot applied as one change
    cfg = k.standin.changes[0].config
    assert (cfg.ui.default_language, cfg.session.warning_s,
            cfg.session.inactivity_timeout_s) == ("en", 15, 102)
    assert rep(view)["last_rejection"] is None and view.status["k1"] == "online"
    assert rep(view)["last_outcome"]["result"] == "applied"
    assert k.source.boot().config.session.inactivity_timeout_s == 102  # in the slot
    assert ("fleet.bundle", "applied", {"scope": "kiosk:k1", "version": 2}) \
        in k.standin.audits


def test_broker_restart(make_kiosk: MakeKiosk, view: FleetView, broker: Mosquitto,
                        signer: keys.SigningKey) -> None:
    k = make_kiosk()
    view.push(bundle(signer, 1))
    wait_applied(view, 1)
    broker.restart()
    assert view.wait_for(lambda v: v.link.subscribed.is_set(), WAIT)
    assert k.agent.link.subscribed.wait(WAIT)  # back, with backoff and jitter
    view.push(bundle(signer, 2))
    wait_applied(view, 2)
    assert timeout_in_force(k) == 102
    # the retained v1 seen again after the reconnect was ignored, not refused
    assert rep(view)["last_rejection"] is None
    assert [c.config.session.inactivity_timeout_s for c in k.standin.changes] == [101, 102]


def test_offline_during_two_pushes_only_the_newest_applies(
        make_kiosk: MakeKiosk, view: FleetView, signer: keys.SigningKey) -> None:
    first = make_kiosk()
    view.push(bundle(signer, 1))
    wait_applied(view, 1)
    first.agent.stop()
    assert view.wait_for(lambda v: v.status.get("k1") == "offline", WAIT)
    view.push(bundle(signer, 2))
    view.push(bundle(signer, 3))
    again = make_kiosk()
    wait_applied(view, 3)
    assert [c.config.session.inactivity_timeout_s for c in again.standin.changes] == [103]
    assert rep(view)["last_rejection"] is None


def _tampered(signer: keys.SigningKey) -> bytes:
    doc = json.loads(bundle(signer, 5))
    doc["body"]["overlay"]["session"]["inactivity_timeout_s"] = 999
    return canonical(doc)


def _other_key(tmp_path: Path) -> keys.SigningKey:
    keys.keygen(tmp_path / "stranger", 86400)
    return keys.load_signing_key(tmp_path / "stranger" / "signing.key")


REFUSALS: dict[str, tuple[str, Callable[[keys.SigningKey, Path], bytes]]] = {
    "tampered": ("bad_signature", lambda s, _t: _tampered(s)),
    "expired": ("expired", lambda s, _t: bundle(s, 5, expires_s=60, now=__import__("time")
                                                .time() - 120)),
    "older": ("old_version", lambda s, _t: bundle(s, 1)),
    "wrong_scope": ("wrong_scope", lambda s, _t: bundle(s, 5, "kiosk:k2")),
    "wrong_key": ("untrusted_key", lambda _s, t: bundle(_other_key(t), 5)),
    "invalid_config": ("invalid_config", lambda s, _t: bundle(
        s, 5, overlay={"session": {"inactivity_timeout_s": 1}})),
    "forbidden_key": ("invalid_config", lambda s, _t: bundle(
        s, 5, overlay={"kiosk": {"id": "k9"}})),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_refused_bundles_keep_the_previous_config(
        case: str, make_kiosk: MakeKiosk, view: FleetView, signer: keys.SigningKey,
        tmp_path: Path) -> None:
    k = make_kiosk()
    view.push(bundle(signer, 2))
    wait_applied(view, 2)
    reason, make = REFUSALS[case]
    view.publish(topics.kiosk_desired("k1"), make(signer, tmp_path), retain=True)
    rejection = wait_rejected(view, reason)
    assert rejection["version"] in (1, 5)
    assert timeout_in_force(k) == 102 and rep(view)["applied_version"] == 2
    assert len(k.standin.changes) == 1
    assert ("fleet.bundle", reason) in [(e, o) for e, o, _ in k.standin.audits]


def test_replayed_bundle_is_refused(make_kiosk: MakeKiosk, view: FleetView,
                                    signer: keys.SigningKey) -> None:
    k = make_kiosk()
    v2 = bundle(signer, 2)
    view.push(v2)
    wait_applied(view, 2)
    view.push(bundle(signer, 3))
    wait_applied(view, 3)
    view.push(v2)  # the very same signed bytes again
    assert wait_rejected(view, "old_version")["version"] == 2
    assert timeout_in_force(k) == 103


def test_a_group_bundle_for_another_group_is_refused(make_kiosk: MakeKiosk, view: FleetView,
                                                     signer: keys.SigningKey) -> None:
    make_kiosk()
    assert view.wait_for(lambda v: "k1" in v.reported, WAIT)
    view.publish(topics.group_desired("g1"), bundle(signer, 3, "group:g2"), retain=True)
    assert wait_rejected(view, "wrong_scope")["version"] == 3


def test_health_window_failure_rolls_back_and_says_why(
        make_kiosk: MakeKiosk, view: FleetView, signer: keys.SigningKey) -> None:
    standin = StandIn(breaks_on_queue="broken-queue", problems_now=["camera.no_frames"])
    k = make_kiosk(standin=standin)
    view.push(bundle(signer, 2))
    wait_applied(view, 2)  # a problem there before the change does not fail the window
    view.push(bundle(signer, 3, overlay={"printer": {"queue": "broken-queue"}}))

    def rolled_back(v: FleetView) -> bool:
        return (rep(v).get("last_outcome") or {}).get("result") == "rolled_back"

    assert view.wait_for(rolled_back, WAIT), rep(view)
    outcome = rep(view)["last_outcome"]
    assert outcome["versions"] == {"kiosk:k1": 3}
    assert outcome["reason"].startswith("health_window: printer.paper_out after")
    assert rep(view)["applied_version"] == 2
    assert [c.reason for c in standin.changes] == ["apply", "apply", "rollback"]
    assert standin.changes[-1].config.printer.queue == "kiosk-sim"
    assert k.agent.in_force.printer.queue == "kiosk-sim"
    assert k.source.boot().config.session.inactivity_timeout_s == 102  # v2's slot
    assert standin.problems_now == ["camera.no_frames"]
    view.push(bundle(signer, 4))  # the fleet moves on with a newer version
    wait_applied(view, 4)


def test_an_apply_hook_failure_rolls_back(make_kiosk: MakeKiosk, view: FleetView,
                                          signer: keys.SigningKey) -> None:
    standin = StandIn(apply_result=ApplyResult(False, "printer queue not found"))
    make_kiosk(standin=standin)
    view.push(bundle(signer, 2))
    assert view.wait_for(lambda v: (rep(v).get("last_outcome") or {}).get("reason")
                         == "apply_failed: printer queue not found", WAIT), rep(view)
    assert rep(view)["applied_version"] is None


def test_a_change_that_needs_idle_waits_for_the_session_to_end(
        make_kiosk: MakeKiosk, view: FleetView, signer: keys.SigningKey) -> None:
    standin = StandIn()
    standin.session.set()  # a citizen is being served
    k = make_kiosk(standin=standin)
    view.push(bundle(signer, 2, overlay={"printer": {"queue": "lobby"}}))
    assert view.wait_for(lambda v: (rep(v).get("pending") or {}).get("versions")
                         == {"kiosk:k1": 2}, WAIT), rep(view)
    view.push(bundle(signer, 1, "fleet", {"session": {"inactivity_timeout_s": 150}}))
    assert view.wait_for(lambda v: (rep(v).get("pending") or {}).get("versions")
                         == {"kiosk:k1": 2, "fleet": 1}, WAIT), rep(view)
    assert k.agent.sync(WAIT) and standin.changes == []  # nothing inside the session
    standin.session.clear()
    k.agent.wake()
    wait_applied(view, 2)
    assert applied(view, "k1", "fleet", 1) and rep(view)["pending"] is None
    [change] = standin.changes
    assert change.idle and change.config.printer.queue == "lobby"
    assert change.config.session.inactivity_timeout_s == 150


def test_a_live_change_applies_during_a_session(make_kiosk: MakeKiosk, view: FleetView,
                                                signer: keys.SigningKey) -> None:
    standin = StandIn()
    standin.session.set()
    make_kiosk(standin=standin)
    view.push(bundle(signer, 2, overlay={"session": {"inactivity_timeout_s": 120},
                                         "ui": {"default_language": "en"}}))
    wait_applied(view, 2)
    assert not standin.changes[0].idle and standin.session.is_set()


def test_a_stop_during_the_health_window_rolls_back_at_start(
        make_kiosk: MakeKiosk, view: FleetView, signer: keys.SigningKey) -> None:
    first = make_kiosk(fleet__health_window_s="60")
    view.push(bundle(signer, 2))
    assert view.wait_for(lambda v: (rep(v).get("trial") or {}).get("versions")
                         == {"kiosk:k1": 2}, WAIT)
    first.agent.stop()
    again = make_kiosk(fleet__health_window_s="60")
    assert timeout_in_force(again) == 90  # the base: v2 never committed
    assert view.wait_for(lambda v: (rep(v).get("last_outcome") or {}).get("result")
                         == "rolled_back" and v.status.get("k1") == "online", WAIT)
    assert again.agent.sync(WAIT) and again.standin.changes == []  # not retried
    view.push(bundle(signer, 3))
    assert view.wait_for(lambda v: (rep(v).get("trial") or {}).get("versions")
                         == {"kiosk:k1": 3}, WAIT)


def test_heartbeat_carries_the_health_summary(make_kiosk: MakeKiosk, view: FleetView) -> None:
    standin = StandIn()
    make_kiosk(standin=standin)
    first = fresh_report(view)
    standin.problems_now.append("printer.paper_out")
    second = fresh_report(view)
    assert second["heartbeat_at"] > first["heartbeat_at"]
    assert second["health"]["verdict"] == "down"
    assert second["health"]["problems"] == ["printer.paper_out"]
    assert second["software_version"] and second["uptime_s"] >= first["uptime_s"]
    assert second["config_version"] == "base" and second["kiosk_id"] == "k1"


AGENT_PROCESS = """
import sys, threading
from kiosk.fleet.agent import ApplyResult, FleetAgent, KioskHooks
from kiosk.fleet.slots import ConfigSource
import json, os
source = ConfigSource(None, "simulation", json.loads(sys.argv[1]))
hooks = KioskHooks(health=lambda: {"verdict": "ok"}, apply=lambda c: ApplyResult(True),
                   busy=lambda: False, command=lambda n, a: {})
agent = FleetAgent(source, source.boot(), hooks)
agent.start()
agent.link.subscribed.wait(30)
print("up", flush=True)
threading.Event().wait()
"""


def test_last_will_says_offline_when_a_kiosk_dies(tmp_path: Path, broker: Mosquitto,
                                                  keydir: Path, view: FleetView) -> None:
    env = kiosk_env(tmp_path, broker, keydir, "k7", "g1", fleet__keepalive_s="5")
    proc = subprocess.Popen([sys.executable, "-c", AGENT_PROCESS, json.dumps(env)], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "up"
        assert view.wait_for(lambda v: v.status.get("k7") == "online", WAIT)
        os.kill(proc.pid, signal.SIGKILL)  # no clean disconnect: the broker sends the will
        assert view.wait_for(lambda v: v.status.get("k7") == "offline", WAIT)
    finally:
        proc.kill()
        proc.wait(10)
