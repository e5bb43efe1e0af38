"""The liveness registry and the watchdog gate, on a fake clock and a real notify socket."""

from __future__ import annotations

import select
import threading
from pathlib import Path

from kiosk.appliance.notify import Notifier
from kiosk.appliance.service import ServiceLink, parse_status, status_line
from kiosk.appliance.watchdog import LivenessRegistry, Watchdog
from tests.appliance.supervisor import NotifyListener


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def drain(listener: NotifyListener) -> list[dict[str, str]]:
    out = []
    while select.select([listener], [], [], 0)[0]:
        out.append(listener.receive()[1])
    return out


def test_heartbeats_go_silent_after_their_period_and_probes_when_false() -> None:
    clock = FakeClock()
    registry = LivenessRegistry(clock)
    ui = registry.heartbeat("ui", period_s=2)
    alive = {"value": True}
    registry.watch("journey", lambda: alive["value"])
    registry.watch("broken-probe", lambda: 1 / 0 > 0)
    assert registry.silent() == ["broken-probe"]
    registry.remove("broken-probe")
    clock.now += 2.5
    assert registry.silent() == ["ui"]
    ui.beat()
    assert registry.silent() == []
    alive["value"] = False
    assert registry.silent() == ["journey"]
    ui.retire()
    assert registry.names() == ["journey"]


def test_a_dead_thread_is_silent() -> None:
    registry = LivenessRegistry()
    done = threading.Event()
    thread = threading.Thread(target=done.wait)
    thread.start()
    registry.watch_thread("worker", thread)
    assert registry.silent() == []
    done.set()
    thread.join()
    assert registry.silent() == ["worker"]


def test_pings_every_half_period_only_while_all_parts_live(tmp_path: Path) -> None:
    listener = NotifyListener(tmp_path / "n.sock")
    try:
        clock = FakeClock()
        notifier = Notifier({"NOTIFY_SOCKET": listener.env_value, "WATCHDOG_USEC": "10000000"})
        registry = LivenessRegistry(clock)
        worker = registry.heartbeat("worker", period_s=3)
        dog = Watchdog(notifier, registry, clock=clock)
        assert dog.interval_s == 5.0
        assert dog.tick() is True      # the first tick pings
        clock.now += 2
        worker.beat()
        assert dog.tick() is False     # not due yet
        clock.now += 3
        worker.beat()
        assert dog.tick() is True      # due, all alive
        clock.now += 6                 # the worker missed its period
        assert dog.tick() is False and dog.held == ["worker"]
        assert dog.tick() is False
        worker.beat()
        assert dog.tick() is True and dog.held == []
        messages = drain(listener)
        assert messages.count({"WATCHDOG": "1"}) == 3
        assert {"STATUS": "watchdog held: worker silent"} in messages
    finally:
        listener.close()


def test_service_link_status_line_changes_are_sent_once(tmp_path: Path) -> None:
    listener = NotifyListener(tmp_path / "n.sock")
    try:
        link = ServiceLink(Notifier({"NOTIFY_SOCKET": listener.env_value}))
        assert link.tick() is False  # nothing before readiness
        link.ready("idcard=online, backend=ok")
        link.tick(busy=False)
        link.tick(busy=True)
        link.tick(busy=True)
        link.stopping()
        assert drain(listener) == [
            {"READY": "1", "STATUS": "session=idle, idcard=online, backend=ok"},
            {"STATUS": "session=busy, idcard=online, backend=ok"},
            {"STOPPING": "1", "STATUS": "stopping"}]
    finally:
        listener.close()


def test_status_line_round_trip() -> None:
    line = status_line("idcard=online, printer=offline", busy=False)
    assert parse_status(line) == {"session": "idle", "idcard": "online", "printer": "offline"}
    assert parse_status("watchdog held: ui silent") == {}
