"""Issue 17: the UI driver takes the device paths a journey means to use, and fails when one
was not used: it never hands a demo card to the journey past a configured reader, and a
card placed on a reader that never read it fails the run. Real peers: the kiosk core with
the ID-card simulator on a pty (no window needed for these steps)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from screens.testing import DriverError, KioskDriver, sim_config


def _core(var: Path, extra: dict[str, Any] | None = None) -> Any:
    from kiosk.compose import build

    var.mkdir(parents=True, exist_ok=True)
    return build(sim_config(var, extra=extra))


@pytest.fixture
def core(tmp_path: Path) -> Iterator[Any]:
    kiosk = _core(tmp_path / "var")
    try:
        yield kiosk
    finally:
        kiosk.stop()


def _until(predicate: Any, timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError(f"timed out: {what}")
        time.sleep(0.02)  # polling a device thread's counter: it has no event to wait on


def test_a_card_read_by_the_reader_counts_as_used(core: Any) -> None:
    ui = KioskDriver(core=core)
    _until(lambda: core.devices["idcard"].usable, 20, "reader ready")
    assert ui.insert_card("chen") == "simulator"
    _until(lambda: core.session.data.holder is not None, 30, "card read")
    ui.assert_devices_used()  # does not raise
    assert ui.device_use()["idcard"]["meant"] == 1
    assert ui.device_use()["idcard"]["served"] >= 1


def test_a_card_the_reader_never_read_fails_the_run(core: Any) -> None:
    ui = KioskDriver(core=core)
    _until(lambda: core.devices["idcard"].usable, 20, "reader ready")
    core.simulation.call("idcard", "unplug")  # the reader is gone: it cannot read anything
    _until(lambda: not core.devices["idcard"].usable, 20, "reader gone")
    ui.insert_card("chen")
    with pytest.raises(DriverError, match="idcard"):
        ui.assert_devices_used()


def test_no_demo_card_past_a_configured_reader(tmp_path: Path) -> None:
    """A reader is configured (a serial port that is not there): the driver refuses to pass
    the card to the journey directly, which would hide a broken reader path."""
    kiosk = _core(tmp_path / "var", {"idcard": {"port": str(tmp_path / "no-such-tty")}})
    try:
        assert not kiosk.simulation.has("idcard")
        ui = KioskDriver(core=kiosk)
        with pytest.raises(DriverError, match="reader"):
            ui.insert_card("chen")
        assert kiosk.session.data.holder is None
    finally:
        kiosk.stop()


def test_without_a_reader_configured_the_journey_takes_the_card(tmp_path: Path) -> None:
    kiosk = _core(tmp_path / "var", {"idcard": {"enabled": False}})
    try:
        ui = KioskDriver(core=kiosk)
        assert ui.insert_card("chen") == "journey"
        ui.assert_devices_used()  # nothing was meant for a reader
    finally:
        kiosk.stop()
