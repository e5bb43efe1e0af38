"""The card reader unplugged while idle (the simulator's pty vanishes under the open port):
a typed device error, status no_device with a plain reason, the poller alive and quiet, and
reading resumes by itself when the reader is plugged back in (``plug``, or clearing the
fault), through the simulator's control socket like every simulator."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hardware.base import Deadline, DeviceNotReady, DeviceStatus, HealthLevel, StatusChange
from hardware.events import CardRead
from hardware.idcard.config import IdCardConfig
from hardware.idcard.driver import IdCardReader
from hardware.idcard.simulator import IdCardSimulator
from hardware.idcard.transport import SerialTransport
from hardware.sim.control import SimClient


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``predicate`` until it holds (a deadline, never a fixed sleep)."""
    end = time.monotonic() + timeout
    pause = threading.Event()
    while not predicate():
        if time.monotonic() >= end:
            raise AssertionError(f"timed out waiting for {what}")
        pause.wait(0.02)


@pytest.fixture
def controlled(tmp_path: Path) -> Iterator[tuple[IdCardSimulator, SimClient]]:
    sim = IdCardSimulator(baud=115200, control_path=str(tmp_path / "idcard.sock"))
    sim.start()
    yield sim, SimClient(str(tmp_path / "idcard.sock"))
    sim.stop()


@pytest.fixture
def polling(controlled: tuple[IdCardSimulator, SimClient]
            ) -> Iterator[tuple[IdCardReader, queue.Queue[object]]]:
    sim, _ = controlled
    cfg = IdCardConfig(port=sim.path, baud=115200, read_timeout_s=1.0, poll_interval_s=0.05)
    transport = SerialTransport(lambda: sim.path, 115200)
    transport.open()
    reader = IdCardReader(cfg, transport)
    events: queue.Queue[object] = queue.Queue()
    reader.start(events.put)
    yield reader, events
    reader.close()


def _card_read(events: queue.Queue[object], timeout: float) -> CardRead:
    end = time.monotonic() + timeout
    while True:
        event = events.get(timeout=max(0.01, end - time.monotonic()))
        if isinstance(event, CardRead):
            return event


@pytest.mark.parametrize("back", ["plug", "replug", "fault_none"])
def test_unplugged_while_idle_goes_no_device_and_resumes_by_itself(
        controlled: tuple[IdCardSimulator, SimClient],
        polling: tuple[IdCardReader, queue.Queue[object]], back: str,
        caplog: pytest.LogCaptureFixture) -> None:
    sim, control = controlled
    reader, events = polling
    wait_for(lambda: reader.status is DeviceStatus.ONLINE, 5, "reader online")
    polled = sim.commands
    wait_for(lambda: sim.commands > polled + 3, 5, "the reader polling")  # idle, between polls
    caplog.set_level(logging.INFO, logger="hardware.idcard")
    control.call("unplug")
    wait_for(lambda: reader.status is DeviceStatus.NO_DEVICE, 5, "status no_device")
    # a plain reason for the technician, no exception text
    health = reader.check_health(HealthLevel.INTERNAL)
    assert not health.ok and health.status is DeviceStatus.NO_DEVICE
    assert health.text == "ID-card reader: not connected (unplugged or no power)"
    assert health.details["error"] == "no_device"
    # a direct read is a typed error, not termios.error
    with pytest.raises(DeviceNotReady) as err:
        reader.read_card(Deadline(0.5))
    assert err.value.detail == "no_device"
    polls = reader.counters.get("poll_errors", 0)
    wait_for(lambda: reader.counters.get("poll_errors", 0) > polls + 2, 5, "polls go on")
    assert reader._thread is not None and reader._thread.is_alive()
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert failures == [], [r.getMessage() for r in failures]
    # plugged back in: found again and reading, with nothing done by the kiosk
    if back == "fault_none":
        control.call("fault", kind="none")
    else:
        control.call(back)
    wait_for(lambda: reader.status is DeviceStatus.ONLINE, 5, "online again")
    control.call("insert", key="chen")
    assert _card_read(events, 5).card.name == "陈美玲"
    assert reader.check_health(HealthLevel.INTERNAL).ok


def test_every_transport_call_on_a_vanished_port_is_a_typed_error(
        controlled: tuple[IdCardSimulator, SimClient]) -> None:
    sim, _ = controlled
    transport = SerialTransport(lambda: sim.path, 115200)
    transport.open()
    sim.unplug()
    failed = []
    for name, call in (("flush", transport.discard_input),
                       ("write", lambda: transport.write(b"\xaa")),
                       ("read", lambda: transport.read_some(10, 0.2))):
        try:  # a flush or a write may pass in the instant the tty hangs up
            call()
        except DeviceNotReady as exc:
            assert exc.detail == "no_device" and "Input/output" not in exc.message
            failed.append(name)
    assert "read" in failed  # a hung-up tty reads as an error at once
    transport.close()
    with pytest.raises(DeviceNotReady) as err:
        transport.open()  # the path is gone
    assert err.value.detail == "no_device"
    sim.replug()
    transport.open()
    transport.close()


def test_status_change_says_only_what_changed_on_unplug(
        controlled: tuple[IdCardSimulator, SimClient],
        polling: tuple[IdCardReader, queue.Queue[object]]) -> None:
    sim, control = controlled
    reader, events = polling
    wait_for(lambda: reader.status is DeviceStatus.ONLINE, 5, "reader online")
    polled = sim.commands
    wait_for(lambda: sim.commands > polled + 3, 5, "the reader polling")
    changes: queue.Queue[StatusChange] = queue.Queue()
    reader.subscribe(changes.put)
    control.call("unplug")
    change = changes.get(timeout=5)
    assert change.changed.get("status") == "no_device"
    control.call("plug")
    while (change := changes.get(timeout=5)).changed.get("status") != "online":
        pass
