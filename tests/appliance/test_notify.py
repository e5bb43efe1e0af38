"""sd_notify over NOTIFY_SOCKET, received by a real listening socket (path and abstract)."""

from __future__ import annotations

import os
import select
from pathlib import Path

import pytest

from kiosk.appliance.notify import Notifier, socket_address, watchdog_usec
from tests.appliance.supervisor import NotifyListener


def receive(listener: NotifyListener) -> tuple[int | None, dict[str, str]]:
    readable, _, _ = select.select([listener], [], [], 5.0)
    assert readable, "nothing received"
    return listener.receive()


@pytest.mark.parametrize("abstract", [True, False])
def test_ready_status_watchdog_stopping_arrive_with_our_pid(tmp_path: Path,
                                                            abstract: bool) -> None:
    listener = NotifyListener(None if abstract else tmp_path / "n.sock")
    try:
        notifier = Notifier({"NOTIFY_SOCKET": listener.env_value, "WATCHDOG_USEC": "4000000"})
        assert notifier.enabled and notifier.watchdog_s == 4.0
        assert notifier.ready("session=idle")
        assert receive(listener) == (os.getpid(), {"READY": "1", "STATUS": "session=idle"})
        assert notifier.watchdog()
        assert receive(listener)[1] == {"WATCHDOG": "1"}
        assert notifier.stopping()
        assert receive(listener)[1] == {"STOPPING": "1"}
    finally:
        listener.close()


def test_a_status_cannot_smuggle_assignments(tmp_path: Path) -> None:
    listener = NotifyListener(tmp_path / "n.sock")
    try:
        Notifier({"NOTIFY_SOCKET": listener.env_value}).status("ok\nREADY=1\x00")
        assert receive(listener)[1] == {"STATUS": "ok READY=1 "}
    finally:
        listener.close()


def test_without_a_service_manager_nothing_is_sent_and_nothing_fails() -> None:
    notifier = Notifier({})
    assert not notifier.enabled and notifier.watchdog_s is None
    assert notifier.ready() is False and notifier.watchdog() is False


def test_a_vanished_socket_is_reported_once_and_never_raises(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone.sock")})
    assert notifier.watchdog() is False and notifier.watchdog() is False
    assert len([r for r in caplog.records if "cannot notify" in r.message]) == 1


def test_addresses_and_watchdog_ownership() -> None:
    assert socket_address("@sys/notify") == b"\0sys/notify"
    assert socket_address("/run/systemd/notify") == "/run/systemd/notify"
    assert socket_address("vsock:2:1234") is None and socket_address("relative") is None
    assert watchdog_usec({"WATCHDOG_USEC": "20000000"}) == 20_000_000
    assert watchdog_usec({"WATCHDOG_USEC": "20000000", "WATCHDOG_PID": "1"}, pid=2) is None
    assert watchdog_usec({"WATCHDOG_USEC": "20000000", "WATCHDOG_PID": "2"}, pid=2) == 20e6
    assert watchdog_usec({"WATCHDOG_USEC": "0"}) is None
    assert watchdog_usec({"WATCHDOG_USEC": "x"}) is None


def test_from_env_unsets_the_variables_for_child_processes(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "n.sock"))
    monkeypatch.setenv("WATCHDOG_USEC", "1000000")
    notifier = Notifier.from_env()
    assert notifier.enabled and notifier.watchdog_s == 1.0
    assert "NOTIFY_SOCKET" not in os.environ and "WATCHDOG_USEC" not in os.environ
