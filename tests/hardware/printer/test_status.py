"""The pure CUPS -> device model mapping."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hardware.base import DeviceStatus
from hardware.printer.status import REASONS, map_printer, split_reason, stuck_message_key


@pytest.mark.parametrize(("state", "reasons", "status", "paper", "key"), [
    (3, ["none"], DeviceStatus.ONLINE, "ok", None),
    (4, ["none"], DeviceStatus.BUSY, "ok", None),
    (5, ["paused"], DeviceStatus.OFFLINE, "ok", "printer.paused"),
    (3, ["media-empty-error"], DeviceStatus.HARDWARE_ERROR, "out", "printer.paper_out"),
    (3, ["media-jam-error", "media-empty-error"], DeviceStatus.HARDWARE_ERROR, "jam",
     "printer.paper_jam"),
    (3, ["media-low-report"], DeviceStatus.ONLINE, "ok", None),
    (3, ["media-low-warning"], DeviceStatus.ONLINE, "low", "printer.paper_low"),
    (3, ["toner-low-warning"], DeviceStatus.ONLINE, "ok", "printer.toner_low"),
    (3, ["offline-report"], DeviceStatus.OFFLINE, "ok", "printer.offline"),
    (4, ["connecting-to-device"], DeviceStatus.BUSY, "ok", "printer.connecting"),
])
def test_table(state: int, reasons: list[str], status: DeviceStatus, paper: str,
               key: str | None) -> None:
    mapped = map_printer({"printer-state": state, "printer-state-reasons": reasons})
    assert (mapped.status, mapped.paper, mapped.message_key) == (status, paper, key)


def test_missing_and_unreachable() -> None:
    assert map_printer(None).status is DeviceStatus.NO_DEVICE
    gone = map_printer({"printer-state": 3}, reachable=False)
    assert gone.status is DeviceStatus.OFFLINE and gone.message_key == "printer.cups_unreachable"
    refusing = map_printer({"printer-state": 3, "printer-is-accepting-jobs": False})
    assert refusing.status is DeviceStatus.OFFLINE


def test_split_and_stuck_hints() -> None:
    assert split_reason("media-empty-error") == ("media-empty", "error")
    assert split_reason("paused") == ("paused", "error")
    assert stuck_message_key("The printer may not exist or is unavailable at this time.") == \
        "printer.unreachable"
    assert stuck_message_key(None, ["cups-waiting-for-job-completed"]) == "printer.not_finishing"
    assert stuck_message_key("") == "printer.timeout"


def test_a_job_stuck_on_a_printer_condition_says_the_condition() -> None:
    """Out of paper mid-job (the PJL backend's media-empty-error): the citizen is told the
    printer is out of paper, not that printing timed out."""
    assert stuck_message_key("Out of paper", ["media-empty-error"]) == "printer.paper_out"
    assert stuck_message_key(None, ["media-jam-error", "media-empty-error"]) == \
        "printer.paper_jam"  # PRIORITY: the jam first
    assert stuck_message_key(None, ["media-low-report"]) == "printer.timeout"  # can print


@given(st.integers(3, 5), st.lists(st.one_of(
    st.sampled_from([f"{r}{s}" for r in REASONS for s in ("", "-error", "-warning", "-report")]),
    st.text(max_size=20)), max_size=6), st.booleans())
def test_any_reasons_map_to_a_status(state: int, reasons: list[str], accepting: bool) -> None:
    mapped = map_printer({"printer-state": state, "printer-state-reasons": reasons,
                          "printer-is-accepting-jobs": accepting})
    assert isinstance(mapped.status, DeviceStatus)
    blocking = any(split_reason(r)[1] == "error" and split_reason(r)[0] in REASONS
                   and REASONS[split_reason(r)[0]].status is not None for r in reasons)
    if blocking or state == 5 or not accepting:
        assert not mapped.status.usable
