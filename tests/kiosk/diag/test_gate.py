"""The service gate on a real simulated kiosk: a critical device failing or the platform
unreachable past the limit takes the kiosk out of service and it comes back by itself when
the fault clears (or holds until a technician says so, without auto_return); a flag set over
SSH is followed within a second; no journey starts while out of service."""

from __future__ import annotations

import json
import queue
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from hardware.events import CardRead, StatusChange
from kiosk.cli import main
from kiosk.diag.gate import ServiceGate
from kiosk.diag.service import ServiceState
from kiosk.session.journey import Notice
from kiosk.session.states import Event, State
from tests.kiosk.diag.maint_kiosk import KIOSK_ID, Rig, kiosk_environ, rig, token, wait_for
from tests.kiosk.diag.platform_peer import Platform, http_platform

CHEN_ID = "440605195803121228"  # the demo citizen's card number (never in the audit log)


@pytest.fixture
def kiosk(tmp_path: Path) -> Iterator[Rig]:
    yield from rig(tmp_path / "var")


def _mode(r: Rig) -> str:
    return str(r.gate.status().mode)


def _audit(r: Rig) -> list[dict[str, Any]]:
    lines = (r.var_dir / "audit.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def test_a_critical_device_takes_the_kiosk_out_and_it_returns_by_itself(kiosk: Rig) -> None:
    changes: list[str] = []
    kiosk.gate.subscribe(lambda status: changes.append(status.mode))
    assert _mode(kiosk) == "in_service"
    kiosk.sim.call("idcard", "fault", kind="sam_60")  # the SAM fails its self-test
    wait_for(lambda: _mode(kiosk) == "out_of_service", 10, "out of service")
    status = kiosk.gate.status()
    assert [r.code for r in status.decision.reasons] == ["device:idcard"]
    assert "ID-card reader" in status.reasons("en")[0]
    assert "身份证阅读器" in status.reasons("zh_CN")[0]
    kiosk.sim.call("idcard", "fault", kind="none")
    wait_for(lambda: _mode(kiosk) == "in_service", 10, "back in service")
    # listeners hear of a change just after it is published
    wait_for(lambda: changes[-2:] == ["out_of_service", "in_service"], 5, "both changes told")
    modes = [r["outcome"] for r in _audit(kiosk) if r["event"] == "service.mode"]
    assert modes[-2:] == ["out_of_service", "in_service"]


def test_a_degraded_device_keeps_the_kiosk_in_service(kiosk: Rig) -> None:
    kiosk.sim.camera_frames(False)  # camera gone: not critical
    camera = kiosk.core.devices["camera"]
    wait_for(lambda: not camera.usable, 15, "camera offline")
    kiosk.gate.evaluate()
    assert _mode(kiosk) == "in_service"
    face_matters = [m for m in kiosk.core.journey.matters() if "camera" in m.devices]
    for matter in face_matters:
        assert "camera_down" in kiosk.core.matter_blockers(matter)


def test_backend_unreachable_past_the_limit_then_back(kiosk: Rig) -> None:
    core = kiosk.core
    state = ServiceState.from_config(core.cfg.service, clock=kiosk.mono)  # a clock we move
    gate = ServiceGate(state, core.session, devices=core.devices, backend=core.backend)
    kiosk.sim.backend_cut(True)
    status = gate.evaluate(probe=True)
    assert status.mode == "in_service" and status.backend is not None
    assert not status.backend.reachable
    kiosk.mono.advance(61)  # past service.backend_unreachable_limit_s (60 s here)
    status = gate.evaluate()
    assert status.mode == "out_of_service"
    assert [r.code for r in status.decision.reasons] == ["backend"]
    assert "unreachable for 1 min" in status.reasons("en")[0]
    kiosk.sim.backend_cut(False)
    assert gate.evaluate(probe=True).mode == "in_service"


@pytest.fixture
def http_kiosk(tmp_path: Path) -> Iterator[tuple[Rig, Platform]]:
    """The simulated kiosk on the reference platform over real HTTP (requests counted)."""
    with http_platform(tmp_path / "platform", KIOSK_ID) as platform:
        for r in rig(tmp_path / "var", **platform.kiosk_environ()):
            yield r, platform


def test_no_journey_starts_while_out_of_service(http_kiosk: tuple[Rig, Platform]) -> None:
    kiosk, platform = http_kiosk
    journey, machine = kiosk.core.journey, kiosk.core.session
    seen: list[State] = []
    machine.subscribe(lambda t, _m: seen.append(t.target))
    notices: queue.Queue[Notice] = queue.Queue()
    journey.subscribe(notices.put)
    kiosk.gate.set_out_of_service("operator", "lobby closed for cleaning", via="fleet")
    assert _mode(kiosk) == "out_of_service"

    def refusal() -> Notice:
        while (notice := notices.get(timeout=15)).key != "journey_refused":
            assert notice.kind != "busy", notice  # no backend work started
        return notice

    kiosk.sim.insert_card("chen")  # a citizen tries all the same, with a card...
    refused = refusal()
    assert (refused.kind, refused.params) == ("error", {"reason": "out_of_service"})
    kiosk.sim.remove_card()
    code = platform.service.issue_identity_code(CHEN_ID, audience=KIOSK_ID)
    assert kiosk.sim.scan(code)  # ... and with the identity code on their phone
    assert refusal().params == {"reason": "out_of_service"}
    # the session machine never left the attract state and holds nothing of the citizen
    assert machine.state is State.ATTRACT and machine.data.holder is None
    assert all(s is State.ATTRACT for s in seen), seen
    # the platform was never asked who they are
    assert platform.requests("/v1/identity") == []
    assert platform.requests("/health")  # it was reachable all along
    outcomes = [r["outcome"] for r in _audit(kiosk) if r["event"] == "journey.refused"]
    assert outcomes == ["out_of_service", "out_of_service"]
    assert CHEN_ID not in (kiosk.var_dir / "audit.jsonl").read_text(encoding="utf-8")
    # back in service, the same card starts a journey (the platform is asked once)
    kiosk.gate.back_in_service("operator", via="fleet")
    assert _mode(kiosk) == "in_service"
    kiosk.sim.insert_card("chen")
    wait_for(lambda: len(platform.requests("/v1/identity/card")) == 1, 15, "identity asked")
    wait_for(lambda: machine.data.holder is not None, 15, "card accepted")


def test_a_journey_under_way_is_left_to_finish(kiosk: Rig) -> None:
    machine = kiosk.core.session
    kiosk.core.journey.start_session()
    assert machine.state is State.HOME
    kiosk.gate.set_out_of_service("operator", "closing")
    assert machine.state is State.HOME  # the citizen finishes; no new journey after
    kiosk.core.journey.back()
    assert machine.state is State.ATTRACT
    kiosk.core.journey.start_session()
    assert machine.state is State.ATTRACT


def test_the_flag_set_over_ssh_is_followed_and_audited(kiosk: Rig, tmp_path: Path) -> None:
    env = kiosk_environ(kiosk.var_dir)
    runner = CliRunner()
    out = runner.invoke(main, ["diag", "service", "out", "--note", "replacing the printer",
                               "--profile", "simulation", "--json"], env=env)
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["out_of_service"] is True
    wait_for(lambda: _mode(kiosk) == "out_of_service", 5, "flag followed")
    reasons = kiosk.gate.status().reasons("en")
    assert reasons == ["set out of service by the technician: replacing the printer"]
    out = runner.invoke(main, ["diag", "service", "in", "--profile", "simulation"], env=env)
    assert out.exit_code == 0 and "no out-of-service flag" in out.output
    wait_for(lambda: _mode(kiosk) == "in_service", 5, "flag cleared")
    flags = [(r["outcome"], r["detail"]["via"]) for r in _audit(kiosk)
             if r["event"] == "service.flag"]
    assert flags == [("out", "cli"), ("in", "flag_file")]


def test_a_journey_just_after_back_in_service_is_not_wiped(kiosk: Rig) -> None:
    """The gate decides on the service state of the moment, not on what its last turn saw:
    an operator puts the kiosk back in service and the next citizen is let in at once."""
    core, machine = kiosk.core, kiosk.core.session
    late = ServiceGate(core.service, machine)  # a gate whose next turn is far away
    try:
        core.set_out_of_service("operator", "repair")
        assert late.evaluate().mode == "out_of_service"
        core.back_in_service()  # the fleet's command: the state and the flag file cleared
        assert core.journey.start_session()
        assert machine.state is State.HOME  # not wiped by a stale "out of service"
    finally:
        late.close()
    core.journey.back()
    core.set_out_of_service("operator", "repair")  # and a closed kiosk still wipes
    late = ServiceGate(core.service, machine)
    try:
        machine.refusal = lambda: None  # a machine that would let the start through
        machine.dispatch(Event.START)
        assert machine.state is State.ATTRACT
    finally:
        late.close()


def test_the_fleet_flag_through_the_core_is_the_same_flag(kiosk: Rig) -> None:
    kiosk.core.set_out_of_service("operator", "network works in the lobby")
    wait_for(lambda: _mode(kiosk) == "out_of_service", 5, "followed")
    assert kiosk.gate.status().flag.by == "operator"
    assert kiosk.core.refusal() == "out_of_service"  # one decision: the core's
    kiosk.gate.back_in_service("technician")
    assert not kiosk.core.out_of_service and _mode(kiosk) == "in_service"


def test_without_auto_return_the_outage_holds_until_a_technician(tmp_path: Path) -> None:
    for r in rig(tmp_path / "var", KIOSK__SERVICE__AUTO_RETURN="false"):
        r.sim.call("idcard", "fault", kind="sam_60")
        wait_for(lambda r=r: _mode(r) == "out_of_service", 10, "out of service")
        r.sim.call("idcard", "fault", kind="none")
        reader = r.core.devices["idcard"]
        wait_for(lambda reader=reader: reader.usable, 10, "reader back")
        status = r.gate.evaluate()
        assert status.mode == "out_of_service"
        assert [x.code for x in status.decision.reasons] == ["latched"]
        assert r.gate.back_in_service("technician").mode == "in_service"


def test_the_device_sink_keeps_reads_from_the_journey_during_maintenance(kiosk: Rig) -> None:
    """During maintenance nothing read is a citizen's: kept from the journey. Out of
    service a citizen's card or code still reaches it, and it says plainly why it refuses
    (``journey_refused``, the test above); status changes always pass."""
    got: list[object] = []
    sink = kiosk.gate.device_sink(got.append)
    wait_for(lambda: _mode(kiosk) == "in_service", 15, "in service")  # the devices are up
    status_change = StatusChange("idcard", {"status": "online"}, kiosk.core.devices[
        "idcard"].status, 0.0)
    read = CardRead(card=None)  # type: ignore[arg-type]
    sink(read)
    assert got == [read]
    assert kiosk.maint.open_prompt().result(60) is True
    sink(read)
    sink(status_change)
    assert got == [read, status_change]
    kiosk.maint.cancel_prompt().result(60)
    kiosk.gate.set_out_of_service("technician", "test")
    sink(read)
    assert got == [read, status_change, read]


def test_what_is_scanned_at_the_technician_prompt_never_reaches_the_journey(
        kiosk: Rig) -> None:
    """The composition root routes the devices through the gate: a document code scanned
    during maintenance (a technician trying the scanner) is not checked with the platform,
    and a token is not taken for a citizen's code."""
    notices: queue.Queue[Notice] = queue.Queue()
    kiosk.core.journey.subscribe(notices.put)
    tokens: queue.Queue[object] = queue.Queue()
    kiosk.maint.subscribe(lambda e: tokens.put(e) if e.kind == "token" else None)
    assert kiosk.maint.open_prompt().result(60) is True
    kiosk.sim.scan("GZDOC1.test.code.x")
    kiosk.sim.scan(token(kiosk.wall))
    tokens.get(timeout=10)  # the scanner delivers in order: the document code went first
    heard = []
    while not notices.empty():
        heard.append(notices.get_nowait())
    assert heard == [], heard
    assert "document.verify" not in [r["event"] for r in _audit(kiosk)]
