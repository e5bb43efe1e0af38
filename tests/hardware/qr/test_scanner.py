"""The serial driver against the pty simulator: real bytes, every fault, unplug + reconnect."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable

import pytest
import serial

from hardware.base import Canceled, Deadline, DeviceStatus, DeviceTimeout, HealthLevel
from hardware.context import DeviceContext
from hardware.events import CodeScanned, ScanRejected
from hardware.qr.scanner import SerialQrScanner
from hardware.qr.simulator import QrScannerSimulator
from hardware.sim.control import SimClient, SimControlError

from .conftest import Collector

MakeScanner = Callable[..., SerialQrScanner]


def scans(events: list[object]) -> list[str]:
    return [e.data for e in events if isinstance(e, CodeScanned)]


def rejections(events: list[object]) -> list[str]:
    return [e.reason for e in events if isinstance(e, ScanRejected)]


@pytest.mark.parametrize("suffix", ["cr", "crlf"])
def test_scans_arrive_as_events(make_scanner: MakeScanner, collector: Collector,
                                suffix: str) -> None:
    s = make_scanner(f"sim://qr?suffix={suffix}")
    assert s.simulator is not None and s.suffix == suffix
    assert s.status is DeviceStatus.ONLINE
    s.simulator.scan("APPT-2025-000001")
    s.simulator.scan("粤省事-预约-1")
    evs = collector.wait_count(2)
    assert evs == [CodeScanned("APPT-2025-000001", "serial"),
                   CodeScanned("粤省事-预约-1", "serial")]
    assert s.counters["reads"] == 2


def test_simulator_sends_exact_bytes() -> None:
    with QrScannerSimulator("crlf") as sim:
        port = serial.Serial(sim.link_path, 9600, timeout=2)
        try:
            sim.scan("AB")
            assert port.read_until(b"\r\n") == b"AB\r\n"
        finally:
            port.close()


def test_dedup_window_drops_repeats(make_scanner: MakeScanner, collector: Collector) -> None:
    s = make_scanner(dedup_window_s=30)
    assert s.simulator is not None
    for _ in range(3):
        s.simulator.scan("SAME")
    s.simulator.scan("OTHER")
    collector.wait_count(2)
    s.simulator.scan("END")
    evs = collector.wait_count(3)
    assert scans(evs) == ["SAME", "OTHER", "END"]
    assert s.counters["duplicates"] == 2


def test_faults_garbage_noise_oversized_partial(make_scanner: MakeScanner,
                                                collector: Collector) -> None:
    s = make_scanner(max_len=512)
    sim = s.simulator
    assert sim is not None
    sim.fault("garbage")
    collector.wait_for(lambda e: "not_utf8" in rejections(e))
    sim.fault("oversized")
    collector.wait_for(lambda e: "oversized" in rejections(e))
    sim.fault("noise")
    sim.scan("GOOD")
    evs = collector.wait_for(lambda e: "GOOD" in scans(e))
    assert scans(evs) == ["GOOD"]  # nothing from the faults passed on as a scan
    assert s.counters.get("rejected_not_utf8", 0) + s.counters.get("rejected_binary", 0) >= 2
    assert all(isinstance(e, CodeScanned | ScanRejected) for e in evs)


def test_partial_line_then_silence_is_reported(make_scanner: MakeScanner,
                                               collector: Collector) -> None:
    s = make_scanner()
    assert s.simulator is not None
    s.simulator.fault("partial")
    evs = collector.wait_for(lambda e: "partial" in rejections(e), timeout=5)
    assert scans(evs) == []
    s.simulator.scan("NEXT")
    assert scans(collector.wait_for(lambda e: bool(scans(e)))) == ["NEXT"]


def test_unplug_and_reconnect(make_scanner: MakeScanner, collector: Collector) -> None:
    s = make_scanner()
    sim = s.simulator
    assert sim is not None
    changes: list[DeviceStatus] = []
    gone, back = threading.Event(), threading.Event()

    def on_change(ch: object) -> None:
        status = ch.status  # type: ignore[attr-defined]
        changes.append(status)
        (gone if status is DeviceStatus.NO_DEVICE else back).set()

    s.subscribe(on_change)
    sim.fault("partial")
    sim.fault("unplug")  # mid-line
    assert gone.wait(5)
    assert not os.path.exists(sim.link_path)
    assert s.check_health(HealthLevel.INTERNAL).ok is False
    sim.fault("replug")
    assert back.wait(5) and s.wait_connected(5)
    sim.scan("BACK-AGAIN")
    evs = collector.wait_for(lambda e: "BACK-AGAIN" in scans(e))
    assert "partial" in rejections(evs)
    assert changes[:2] == [DeviceStatus.NO_DEVICE, DeviceStatus.ONLINE]
    assert s.counters["disconnects"] == 1 and s.counters["connects"] == 2
    assert s.check_health(HealthLevel.EXTERNAL).ok is True


def test_missing_port_is_no_device_and_close_is_clean(collector: Collector) -> None:
    s = SerialQrScanner("/dev/does-not-exist-qr", reconnect_s=0.05)
    seen = threading.Event()
    s.subscribe(lambda ch: seen.set())
    s.start(collector)
    assert seen.wait(5) and s.status is DeviceStatus.NO_DEVICE
    s.close()
    s.close()
    assert s.status is DeviceStatus.OFFLINE


def test_trigger_mode_sends_start_and_stop(make_scanner: MakeScanner) -> None:
    s = make_scanner("sim://qr?trigger=1", trigger=True)
    sim = s.simulator
    assert sim is not None
    assert sim.wait_command("stop", 5)  # idle state set on connect
    assert sim.scan("IGNORED") is False  # not armed: a real scanner would not read

    result: list[str] = []
    t = threading.Thread(target=lambda: result.append(s.read_code(Deadline(5))))
    t.start()
    assert sim.wait_command("start", 5) and sim.armed
    assert sim.scan("TRIGGERED")
    t.join(5)
    assert result == ["TRIGGERED"]
    with sim.command_event:
        assert sim.command_event.wait_for(lambda: sim.commands[-1] == "stop" and not sim.armed, 5)


def test_read_code_deadline_and_cancel(make_scanner: MakeScanner) -> None:
    s = make_scanner()
    with pytest.raises(DeviceTimeout):
        s.read_code(Deadline(0.2))
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Canceled):
        s.read_code(Deadline(5, cancel))


def test_control_channel_from_another_process(make_scanner: MakeScanner, collector: Collector,
                                              device_context: DeviceContext) -> None:
    s = make_scanner()
    sim = s.simulator
    control = device_context.sims.controls()["qr"]  # recorded by the factory
    assert sim is not None and sim.control_path == control
    out = subprocess.run([sys.executable, "-m", "kiosk.cli", "sim", "ctl", control, "scan",
                          "text=FROM-OUTSIDE"], capture_output=True, text=True, timeout=30,
                         check=True)
    assert json.loads(out.stdout) == {"ok": True, "sent": True}
    assert scans(collector.wait_count(1)) == ["FROM-OUTSIDE"]
    client = SimClient(control)
    status = client.call("status")
    assert status["pty"] == sim.pty_path and status["plugged"]
    with pytest.raises(SimControlError) as refused:
        client.call("fault", kind="nope")
    assert refused.value.code == "unknown_fault"
    assert client.request({"op": "bogus"})["error"] == "unknown_op"


def test_a_code_held_since_before_the_read_is_read_when_asked(make_scanner: MakeScanner,
                                                              collector: Collector) -> None:
    """A technician's test scan with a code already under the scanner: its repeats are
    duplicates for the sink (the window slides while it is held), so a read waiting for the
    next *accepted* scan never ended; ``held=True`` takes the code being held."""
    s = make_scanner(dedup_window_s=30)
    assert s.simulator is not None
    s.simulator.scan("HELD-CODE")  # under the scanner before anyone asked
    collector.wait_count(1)
    with pytest.raises(DeviceTimeout):  # the sink's contract is unchanged: a repeat is not new
        reader = threading.Thread(target=lambda: s.simulator and s.simulator.scan("HELD-CODE"))
        reader.start()
        try:
            s.read_code(Deadline(0.5))
        finally:
            reader.join(5)
    result: list[str] = []
    t = threading.Thread(target=lambda: result.append(s.read_code(Deadline(10), held=True)))
    t.start()
    sim = s.simulator
    for _ in range(100):  # held under it: the scanner reads it again and again
        sim.scan("HELD-CODE")
        t.join(0.05)
        if not t.is_alive():
            break
    assert result == ["HELD-CODE"]
    assert scans(collector.events) == ["HELD-CODE"]  # the sink heard it once
