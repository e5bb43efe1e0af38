"""Maintenance mode on a real simulated kiosk: the prompt wipes the citizen session first; a
token shown to the scanner plus the PIN opens it; forged, expired, other-kiosk and replayed
tokens and a wrong PIN are refused and the lock-out holds; every action is audited; the mode
times out; the report names each fault (card reader, paper out, camera gone, platform down)
and comes back to ready once it clears; nothing of a citizen in what it leaves behind."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import nacl.signing
import pytest

from kiosk.diag.maintenance import MaintenanceClosed, MaintenanceEvent
from kiosk.session.states import State
from screens.testing import demo_citizen
from tests.kiosk.diag.maint_kiosk import KIOSK_ID, PIN, Rig, rig, token, wait_for

SECRETS = [str(demo_citizen("chen")["name"]), str(demo_citizen("chen")["id_number"])]


@pytest.fixture
def kiosk(tmp_path: Path) -> Iterator[Rig]:
    yield from rig(tmp_path / "var")


class Events:
    def __init__(self, r: Rig) -> None:
        self.seen: list[MaintenanceEvent] = []
        self.wake = threading.Event()
        r.maint.subscribe(self._on)

    def _on(self, event: MaintenanceEvent) -> None:
        self.seen.append(event)
        self.wake.set()

    def wait(self, kind: str, timeout: float = 10.0, **params: Any) -> MaintenanceEvent:
        def found() -> bool:
            return any(e.kind == kind and all(e.params.get(k) == v for k, v in params.items())
                       for e in self.seen)

        wait_for(found, timeout, f"maintenance event {kind} {params}", self.wake)
        return [e for e in self.seen if e.kind == kind][-1]


def _audit(r: Rig) -> list[dict[str, Any]]:
    lines = (r.var_dir / "audit.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def _login(r: Rig, events: Events, text: str, pin: str = PIN) -> Any:
    r.maint.open_prompt().result(60)
    r.maint.give_token(text)
    return r.maint.login(pin).result(60)


def test_the_prompt_wipes_the_citizen_session_before_it_opens(kiosk: Rig) -> None:
    machine = kiosk.core.session
    kiosk.sim.insert_card("chen")
    wait_for(lambda: machine.data.holder is not None, 20, "the citizen identified")
    assert kiosk.maint.open_prompt().result(60) is True
    assert machine.state is State.ATTRACT and machine.data.holder is None
    assert kiosk.gate.status().mode == "maintenance"
    kiosk.maint.cancel_prompt().result(60)
    assert kiosk.gate.status().mode == "in_service"


def test_the_prompt_shows_only_once_the_scanner_is_watched_for_a_token(kiosk: Rig) -> None:
    """A screen may redraw at any change of the gate: whenever the prompt can be seen, the
    token reader already listens and the gate already keeps scans from the journey (a token
    scanned the moment the prompt appeared once went to the journey as a bad citizen code,
    and the technician waited for a read that never came)."""
    seen: list[tuple[bool, bool, str]] = []

    def on_gate(status: Any) -> None:
        seen.append((kiosk.maint.prompt_open, kiosk.maint._reader is not None, status.mode))

    unsubscribe = kiosk.gate.subscribe(on_gate)
    try:
        for _round in range(3):  # opened, closed by the technician, opened again
            assert kiosk.maint.open_prompt().result(60) is True
            assert kiosk.maint.prompt_open and kiosk.maint._reader is not None
            kiosk.maint.cancel_prompt().result(60)
    finally:
        unsubscribe()
    assert seen
    for prompt_open, reading, mode in seen:
        assert not prompt_open or (reading and mode == "maintenance"), seen


def test_scanner_token_and_pin_open_it_and_every_action_is_audited(kiosk: Rig) -> None:
    events = Events(kiosk)
    kiosk.maint.open_prompt().result(60)
    kiosk.sim.scan(token(kiosk.wall))  # shown to the QR scanner
    assert events.wait("token").params == {"source": "scanner"}
    assert kiosk.maint.login("000000").result(60).code == "wrong_pin"
    kiosk.wall.advance(2)  # the back-off after one failure
    result = kiosk.maint.login(PIN).result(60)
    assert result.granted, result
    events.wait("opened")
    assert kiosk.maint.active and kiosk.gate.status().mode == "maintenance"

    m = kiosk.maint
    report = m.report("internal").result(60)
    assert report.kiosk_id == KIOSK_ID and report.verdict == "ready", report.reasons
    printed = m.print_test_page().result(60)
    assert printed.ok and printed.key == "mt_print_ok"
    m.confirm("printer", "print_test_page", True).result(60)
    kiosk.sim.insert_card("huang")
    card = m.read_test_card().result(60)
    assert card.ok and card.params == {"card_type": "resident"}
    assert kiosk.core.session.state is State.ATTRACT  # the test card starts no journey
    qr = kiosk.core.devices["qr"].device
    reads = qr.counters["reads"]
    kiosk.sim.scan("GZDOC1.test.code.x")  # already under the scanner when the test starts
    wait_for(lambda: qr.counters["reads"] > reads, 10, "read before the test")
    scan = m.scan_code(10)  # (it read nothing while its repeats were duplicates: CI, loaded)
    wait_for(lambda: kiosk.sim.scan("GZDOC1.test.code.x") or scan.done(), 10, "scanned")
    scanned = scan.result(60)
    assert scanned.ok and scanned.params["kind"] == "document"
    frames: list[Any] = []
    kiosk.sim.present_face("chen")
    preview = m.start_preview(frames.append, seconds=20)
    wait_for(lambda: any(f is not None and f.faces for f in frames), 20, "a face boxed")
    m.stop_preview()
    seen = preview.result(60)
    assert seen.ok and seen.key == "mt_preview_face"
    frame = next(f for f in frames if f is not None)
    assert len(frame.pixels) == frame.width * frame.height * 3
    kiosk.diag.sync_counters()  # the drivers' reads and prints, persisted
    persisted = {r.name: r.counters for r in m.rows().result(60)}
    assert persisted["printer"].get("prints", 0) >= 1
    assert persisted["idcard"].get("reads", 0) >= 1
    assert m.reset_counters().result(60) >= 2
    assert {r.name: dict(r.counters) for r in m.rows().result(60)}["printer"] == {}
    assert m.set_out_of_service("replacing the camera").result(60).mode == "maintenance"
    assert m.back_in_service().result(60).decision.in_service
    rows = {r.name: r for r in m.rows().result(60)}
    assert rows["printer"].last_test is not None and rows["printer"].last_test.ok
    assert rows["idcard"].critical and rows["idcard"].last_test.test == "read_card"
    m.exit().result(60)
    assert events.wait("ended").params == {"reason": "exit"}
    assert kiosk.gate.status().mode == "in_service"
    with pytest.raises(MaintenanceClosed):
        m.print_test_page()

    records = _audit(kiosk)
    events_seen = [r["event"] for r in records]
    for name in ("maintenance.prompt", "maintenance.login", "maintenance.report_internal",
                 "maintenance.print_test_page", "maintenance.confirm_printer",
                 "maintenance.read_test_card", "maintenance.scan_code",
                 "maintenance.camera_preview", "maintenance.reset_counters",
                 "maintenance.out_of_service", "maintenance.back_in_service",
                 "maintenance.end", "service.flag"):
        assert name in events_seen, name
    logins = [r["outcome"] for r in records if r["event"] == "maintenance.login"]
    assert logins == ["wrong_pin", "ok"]
    assert kiosk.core.audit.verify() == len(records)  # the chain holds
    text = (kiosk.var_dir / "audit.jsonl").read_text(encoding="utf-8")
    assert "KTECH1." not in text and PIN not in text


def test_a_token_held_under_the_scanner_is_taken_once(kiosk: Rig) -> None:
    """The prompt's reader hears every read, a held code's repeats too (so the same token
    shown again at the next prompt is read): held, it is taken once, not once a read."""
    events = Events(kiosk)
    kiosk.maint.open_prompt().result(60)
    held = token(kiosk.wall)
    for _ in range(4):
        kiosk.sim.scan(held)
    other = token(kiosk.wall, kiosk="kiosk-other-99")  # then another: the reads are in order
    kiosk.sim.scan(other)
    wait_for(lambda: kiosk.maint._token is not None and kiosk.maint._token[0] == other, 10,
             "the second token")
    assert [e.params for e in events.seen if e.kind == "token"] == [{"source": "scanner"}] * 2


@pytest.mark.parametrize("case", ["forged", "expired", "other_kiosk", "replayed",
                                  "wrong_pin"])
def test_refused_tokens_and_wrong_pins(kiosk: Rig, case: str) -> None:
    events = Events(kiosk)
    good = token(kiosk.wall)
    if case == "replayed":
        assert _login(kiosk, events, good).granted
        kiosk.maint.exit().result(60)
        kiosk.wall.advance(1)
    text = {"forged": token(kiosk.wall, key=nacl.signing.SigningKey(b"\x09" * 32)),
            "expired": token(kiosk.wall, ttl=60, issued_at=kiosk.wall() - 120),
            "other_kiosk": token(kiosk.wall, kiosk="kiosk-other-99")}.get(case, good)
    result = _login(kiosk, events, text, "999999" if case == "wrong_pin" else PIN)
    code = {"forged": "bad_signature", "expired": "expired", "other_kiosk": "wrong_kiosk",
            "replayed": "replayed", "wrong_pin": "wrong_pin"}[case]
    assert not result.granted and result.code == code
    refused = events.wait("login", code=code)
    assert refused.params["left"] == 2 and refused.params["failures"] == 1
    assert not kiosk.maint.active and kiosk.gate.status().mode == "maintenance"  # prompt


def test_the_lock_out_holds_after_three_failures(kiosk: Rig) -> None:
    events = Events(kiosk)
    good = token(kiosk.wall)
    for _ in range(3):
        assert _login(kiosk, events, good, "111111").code == "wrong_pin"
        kiosk.wall.advance(5)
    locked = _login(kiosk, events, good, PIN)
    assert locked.code == "locked_out" and locked.retry_after_s > 0
    kiosk.maint.cancel_prompt().result(60)
    # a restart of the kiosk does not reset it (the state is on disk)
    until, _failures = kiosk.maint.lock_state()
    assert until is not None
    kiosk.wall.advance(kiosk.core.cfg.service.technician.lockout_s + 1)
    assert _login(kiosk, events, good, PIN).granted


def test_the_mode_times_out_and_lets_citizens_in(kiosk: Rig) -> None:
    events = Events(kiosk)
    assert _login(kiosk, events, token(kiosk.wall)).granted
    kiosk.wall.advance(kiosk.core.cfg.service.technician.mode_timeout_s + 1)
    assert events.wait("ended").params == {"reason": "timeout"}
    assert not kiosk.maint.active and kiosk.gate.status().mode == "in_service"
    assert "maintenance.end" in [r["event"] for r in _audit(kiosk)]
    kiosk.core.journey.start_session()
    assert kiosk.core.session.state is State.HOME


def test_the_prompt_closes_by_itself(kiosk: Rig) -> None:
    events = Events(kiosk)
    kiosk.maint.open_prompt().result(60)
    kiosk.wall.advance(61)
    assert events.wait("prompt", state="closed").params["reason"] == "timeout"
    assert kiosk.gate.status().mode == "in_service"


class _GestureDuringTimeout:
    """The audit log, where the prompt's timeout is written: the technician's gesture comes
    at that moment (the timeout is being handled, the prompt already reads as closed)."""

    def __init__(self, r: Rig) -> None:
        self.inner, self.maint = r.maint.audit, r.maint
        self.gesture: Any = None

    def append(self, event: str, outcome: str, *args: Any, **detail: Any) -> Any:
        record = self.inner.append(event, outcome, *args, **detail)
        if (event, outcome) == ("maintenance.prompt", "timeout") and self.gesture is None:
            assert not self.maint.prompt_open
            self.gesture = self.maint.open_prompt()
            # where the timeout and the gesture can run at once, this lets the gesture
            # finish first (the race as it happened); where they are in turn, it cannot
            futures.wait([self.gesture], timeout=3)
        return record


def test_a_gesture_while_the_prompt_times_out_opens_a_prompt_that_holds(kiosk: Rig) -> None:
    """The prompt closed by itself and the technician made the gesture again at once: the
    closing of the old prompt ran on the timer thread beside the opening of the new one, and
    released the gate after the new prompt held it (and could close its token reader). The
    token shown next went to the journey as a citizen code (the zh_CN maintenance screens
    failed so under load)."""
    events = Events(kiosk)
    hook = _GestureDuringTimeout(kiosk)
    kiosk.maint.audit = hook
    kiosk.maint.open_prompt().result(60)
    kiosk.wall.advance(61)
    events.wait("prompt", state="closed")
    wait_for(lambda: hook.gesture is not None, 10, "the gesture")
    assert hook.gesture.result(60) is True
    events.wait("prompt", state="open", timeout=10)
    kiosk.maint._control.submit(lambda: None).result(60)  # whatever was queued has run
    assert kiosk.maint.prompt_open
    assert kiosk.gate.status().mode == "maintenance"
    kiosk.sim.scan(token(kiosk.wall))  # the token goes to the prompt, not to the journey
    assert events.wait("token").params == {"source": "scanner"}
    assert kiosk.core.session.state is State.ATTRACT


def _device(report: Any, name: str) -> Any:
    return next(d for d in report.devices if d.name == name)


def test_the_report_names_each_fault_and_comes_back_to_ready(kiosk: Rig) -> None:
    events = Events(kiosk)
    assert _login(kiosk, events, token(kiosk.wall)).granted
    m, sim = kiosk.maint, kiosk.sim
    assert m.report("external").result(60).verdict == "ready"

    sim.call("idcard", "fault", kind="sam_60")  # the card reader fails
    report = m.report("external").result(60)
    assert report.verdict == "out_of_service"
    assert _device(report, "idcard").status == "hardware_error"
    assert any("ID-card reader" in r for r in report.reasons), report.reasons
    sim.call("idcard", "fault", kind="none")
    wait_for(lambda: m.report("external").result(60).verdict == "ready", 30, "reader back")

    sim.paper(True)  # paper out: the test page does not come out, and CUPS says why
    printed = m.print_test_page().result(60)
    assert not printed.ok and printed.key == "mt_print_failed"
    report = m.report("internal", "zh_CN").result(60)
    assert report.verdict == "degraded"
    assert any(r.startswith("打印机: 缺纸 — 在纸盒 1 装入 A4 纸") for r in report.reasons), \
        report.reasons
    sim.paper(False)
    assert m.print_test_page().result(60).ok
    # the printer said "ready" during the test page; the driver's next status poll has it
    wait_for(lambda: m.report("internal").result(60).verdict == "ready", 15, "printer ready")

    sim.camera_frames(False)  # camera gone
    camera = kiosk.core.devices["camera"]
    wait_for(lambda: not camera.usable, 15, "camera offline")
    report = m.report("external").result(60)
    assert report.verdict == "degraded" and _device(report, "camera").status != "online"
    assert any("camera" in r for r in report.reasons), report.reasons
    sim.camera_frames(True)
    wait_for(lambda: camera.usable, 15, "camera back")

    sim.backend_cut(True)  # the platform unreachable
    report = m.report("internal").result(60)
    assert report.verdict == "degraded" and not report.backend.reachable
    assert any("platform" in r for r in report.reasons), report.reasons
    sim.backend_cut(False)
    report = m.report("internal").result(60)
    assert report.verdict == "ready", report.reasons
    m.exit().result(60)


def test_nothing_of_a_citizen_in_what_maintenance_leaves(kiosk: Rig) -> None:
    machine = kiosk.core.session
    kiosk.sim.insert_card("chen")
    wait_for(lambda: machine.data.holder is not None, 20, "the citizen identified")
    events = Events(kiosk)
    assert _login(kiosk, events, token(kiosk.wall)).granted
    m = kiosk.maint
    card = m.read_test_card().result(60)  # her card is still on the reader
    report = m.report("external").result(60)
    rows = m.rows().result(60)
    m.exit().result(60)
    said = json.dumps(report.as_json(), ensure_ascii=False) + repr(card) + repr(rows) + \
        repr(events.seen)
    for path in kiosk.var_dir.glob("*"):
        if path.is_file() and "platform" not in path.name:
            said += path.read_bytes().decode("utf-8", "replace")
    for secret in SECRETS:
        assert secret not in said
