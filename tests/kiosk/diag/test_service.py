"""Out-of-service decisions from critical devices, the backend and a person, on a fake clock."""

from __future__ import annotations

from kiosk.diag.service import DeviceCondition, ServiceState
from tests.kiosk.diag.conftest import FixedClock

OK = DeviceCondition(True, "online")
DOWN = DeviceCondition(False, "no_device")


def _state(clock: FixedClock, auto_return: bool = True) -> ServiceState:
    return ServiceState(["idcard"], backend_unreachable_limit_s=300, auto_return=auto_return,
                        clock=clock)


def test_critical_device_takes_it_out_and_back_by_itself() -> None:
    state = _state(FixedClock(0))
    assert not state.decision().in_service  # nothing seen yet: the reader is not there
    assert state.decision().texts() == ["ID-card reader is not connected"]
    assert state.observe(devices={"idcard": OK, "printer": DOWN}).in_service  # not critical
    out = state.observe(devices={"idcard": DOWN})
    assert not out.in_service and out.texts("zh_CN") == ["身份证阅读器不可用（no_device）"]
    assert state.observe(devices={"idcard": OK}).in_service


def test_backend_unreachable_longer_than_the_limit() -> None:
    clock = FixedClock(0)
    state = _state(clock)
    state.observe(devices={"idcard": OK})
    first = state.observe(backend_reachable=False)
    assert first.in_service and first.recheck_in_s == 300
    clock.advance(299)
    assert state.observe(backend_reachable=False).in_service  # the outage began at 0
    clock.advance(1)
    out = state.decision()
    assert not out.in_service and out.texts() == [
        "the government platform has been unreachable for 5 min"]
    assert state.observe(backend_reachable=True).in_service
    assert state.unreachable_for_s() is None


def test_technician_flag_holds_until_cleared() -> None:
    state = _state(FixedClock(0))
    state.observe(devices={"idcard": OK})
    out = state.set_out_of_service("technician", "replacing the printer")
    assert not out.in_service
    assert out.texts() == ["set out of service by the technician: replacing the printer"]
    assert out.texts("zh_HK") == ["由技術人員設為暫停服務：replacing the printer"]
    assert not state.observe(devices={"idcard": OK}).in_service
    assert state.back_in_service().in_service


def test_without_auto_return_a_fault_holds_until_someone_returns_it() -> None:
    state = _state(FixedClock(0), auto_return=False)
    state.observe(devices={"idcard": DOWN})
    held = state.observe(devices={"idcard": OK})
    assert not held.in_service and [r.code for r in held.reasons] == ["latched"]
    assert state.back_in_service().in_service
    state.observe(devices={"idcard": DOWN})
    assert not state.back_in_service().in_service  # the fault is still there



def test_a_device_not_opened_yet_at_start_does_not_take_the_kiosk_out_of_service() -> None:
    """In the start-up grace a device still offline (not opened yet) counts as starting; a
    fault it reports counts at once; after the grace offline is a fault too."""
    from hardware.base import DeviceStatus
    from kiosk.diag.service import starting_condition

    assert starting_condition(DeviceStatus.OFFLINE, usable=False, settling=True).usable
    assert not starting_condition(DeviceStatus.OFFLINE, usable=False, settling=False).usable
    for status in (DeviceStatus.NO_DEVICE, DeviceStatus.HARDWARE_ERROR):
        cond = starting_condition(status, usable=False, settling=True)
        assert not cond.usable and cond.status == status.value
    assert starting_condition(DeviceStatus.ONLINE, usable=True, settling=False).usable
