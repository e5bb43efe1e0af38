"""The display's backlight: the sysfs driver on a simulated sysfs tree (writes on its own
thread, faults, no backlight = unsupported), the dimming policy on a clock the test moves,
and the hours gate dimming a real simulated kiosk at closing and brightening it at opening."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from hardware.display.backlight import (
    BacklightStatus,
    NoBacklight,
    SysfsBacklight,
    find_backlight,
    open_backlight,
)
from hardware.display.simulator import BacklightSim
from kiosk.appliance.config import ApplianceConfig
from kiosk.appliance.dimming import Dimmer
from kiosk.config.loader import ConfigError, load_config

SH = ZoneInfo("Asia/Shanghai")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def light(tmp_path: Path) -> Iterator[tuple[BacklightSim, SysfsBacklight]]:
    sim = BacklightSim(tmp_path / "sys", max_brightness=937)
    info = find_backlight(sim.class_dir)
    assert info is not None
    driver = SysfsBacklight(info)
    try:
        yield sim, driver
    finally:
        driver.close()


def test_the_driver_writes_on_its_own_thread_and_keeps_at_least_one_step(
        light: tuple[BacklightSim, SysfsBacklight]) -> None:
    sim, driver = light
    assert driver.info.device_path == sim.device.resolve()  # the symlink is followed
    writers: list[str] = []
    original = driver._write

    def spy(value: int) -> None:
        writers.append(threading.current_thread().name)
        original(value)

    driver._write = spy  # type: ignore[method-assign]
    driver.set_level(0.5)
    assert driver.settle(5) and sim.brightness == 468 and driver.level == 468 / 937
    driver.set_level(0.0001)  # dim, not dark: at least one step
    assert driver.settle(5) and sim.brightness == 1
    driver.set_level(0)
    assert driver.settle(5) and sim.brightness == 0
    assert set(writers) == {"backlight-writer"}
    assert driver.status is BacklightStatus.ONLINE and driver.counters["writes"] == 3


def test_a_write_that_fails_is_a_hardware_error_until_it_works_again(
        light: tuple[BacklightSim, SysfsBacklight]) -> None:
    sim, driver = light
    sim.deny_writes()
    driver.set_level(0.2)
    assert driver.settle(5)
    assert driver.status is BacklightStatus.HARDWARE_ERROR and driver.detail == "EISDIR"
    sim.allow_writes()
    driver.set_level(0.2)
    assert driver.settle(5) and driver.status is BacklightStatus.ONLINE
    assert sim.brightness == round(0.2 * 937)


def test_auto_prefers_firmware_then_platform_then_raw(tmp_path: Path) -> None:
    base = tmp_path / "sys"
    BacklightSim(base, "acpi_video0", kind="firmware")
    BacklightSim(base, "intel_backlight", kind="raw")
    BacklightSim(base, "dell_backlight", kind="platform")
    root = base / "class" / "backlight"
    assert find_backlight(root).name == "acpi_video0"  # type: ignore[union-attr]
    assert find_backlight(root, "intel_backlight").kind == "raw"  # type: ignore[union-attr]


def test_no_backlight_is_unsupported_not_an_error(tmp_path: Path) -> None:
    for light in (open_backlight(tmp_path / "nothing-here"), open_backlight(tmp_path),
                  open_backlight(tmp_path, "none"), open_backlight(tmp_path, "missing")):
        assert isinstance(light, NoBacklight)
        assert light.status is BacklightStatus.UNSUPPORTED
        light.set_level(0.1)  # accepted and dropped
        assert light.settle(1)
    sim = BacklightSim(tmp_path / "sys")
    sim.unplug()
    assert isinstance(open_backlight(sim.class_dir), NoBacklight)


def test_dimming_closed_touch_wakes_opening_brightens_and_idle(
        light: tuple[BacklightSim, SysfsBacklight]) -> None:
    sim, driver = light
    cfg = ApplianceConfig(dim_level=0.1, wake_s=30, dim_after_idle_s=120)
    clock = Clock()
    dimmer = Dimmer(driver, lambda: cfg, clock=clock)
    dim, full = round(0.1 * 937), 937

    def level() -> int:
        assert driver.settle(5)
        return sim.brightness

    dimmer.update(closed=False, attract=True)
    assert level() == full and dimmer.why == "open"
    dimmer.update(closed=True, attract=False)  # closing during a citizen's session
    assert level() == full
    dimmer.update(attract=True)  # that session ended: the closed screen
    assert level() == dim and dimmer.why == "closed"
    dimmer.touch()
    assert level() == full and dimmer.why == "woken"
    clock.now += 29
    dimmer.touch()  # touching on keeps it bright
    clock.now += 29
    dimmer.update()
    assert level() == full
    clock.now += 2
    dimmer.update()
    assert level() == dim
    dimmer.update(closed=False)  # opening time
    assert level() == full and dimmer.why == "open"
    clock.now += 119
    dimmer.update()
    assert level() == full
    clock.now += 1  # two minutes on the attract screen with nobody touching it
    dimmer.update()
    assert level() == dim and dimmer.why == "idle"
    dimmer.touch()
    assert level() == full
    dimmer.update(attract=False)  # a session: never dim over it
    clock.now += 600
    dimmer.update()
    assert level() == full
    writes = driver.counters["writes"]
    for _ in range(5):
        dimmer.update()
    assert driver.counters["writes"] == writes  # only changes are written


def test_dimming_settings_are_validated_with_their_key_paths() -> None:
    for key, value, words in (("DIM_LEVEL", "1.5", "appliance.dim_level"),
                              ("DIM_AFTER_IDLE_S", "5", "appliance.dim_after_idle_s"),
                              ("BACKLIGHT", "../../etc", "appliance.backlight"),
                              ("CLOSING_GRACE_S", "-1", "appliance.closing_grace_s")):
        with pytest.raises(ConfigError) as err:
            load_config(environ={f"KIOSK__APPLIANCE__{key}": value})
        assert words in str(err.value), str(err.value)
    with pytest.raises(ConfigError) as err:
        load_config(environ={"KIOSK__APPLIANCE__DIM_LEVEL": "0.8",
                             "KIOSK__APPLIANCE__BRIGHT_LEVEL": "0.5"})
    assert "dim_level" in str(err.value)
    with pytest.raises(ConfigError) as err:
        load_config(environ={"KIOSK__APPLIANCE__HOURS": json.dumps({"mon": "8-17"})})
    assert "appliance.hours" in str(err.value)


def test_the_kiosk_dims_at_closing_and_brightens_at_opening(tmp_path: Path) -> None:
    from kiosk import compose
    from kiosk.appliance.opening import attach_hours

    sim = BacklightSim(tmp_path / "sys", max_brightness=100)
    cfg = load_config(profile="simulation", environ={
        "KIOSK__VAR_DIR": str(tmp_path / "var"),
        "KIOSK__APPLIANCE__HOURS": json.dumps({"daily": "09:00-17:00"}),
        "KIOSK__APPLIANCE__BACKLIGHT": "sim_backlight",
        "KIOSK__APPLIANCE__BACKLIGHT_ROOT": str(sim.class_dir),
        "KIOSK__APPLIANCE__DIM_LEVEL": "0.2"})
    core = compose.build(cfg)
    wall: dict[str, Any] = {"now": datetime(2025, 6, 2, 16, 59, tzinfo=SH)}
    try:
        light = open_backlight(cfg.appliance.backlight_root, cfg.appliance.backlight)
        gate = attach_hours(core, clock=lambda: wall["now"], poll_s=3600, backlight=light)
        try:
            gate.evaluate()
            assert light.settle(5) and sim.brightness == 100
            wall["now"] = datetime(2025, 6, 2, 17, 0, tzinfo=SH)
            gate.evaluate()
            assert light.settle(5) and sim.brightness == 20
            gate.touch()
            assert light.settle(5) and sim.brightness == 100
            wall["now"] = datetime(2025, 6, 3, 9, 0, tzinfo=SH)
            gate.evaluate()
            assert light.settle(5) and sim.brightness == 100 and gate.dimmer is not None
            assert gate.dimmer.why == "open"
        finally:
            gate.close()
    finally:
        core.stop()
