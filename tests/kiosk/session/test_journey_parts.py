"""A Journey built from its parts alone: a Devices container of simulators (the ID-card reader
and the QR scanner on ptys, from their sim:// URLs), the embedded platform, an audit log and a
session machine. No KioskCore, no composition root: the seam is the typed contract."""

from __future__ import annotations

import datetime as dt
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hardware.context import DeviceContext
from hardware.idcard.card import IdCardData
from hardware.idcard.config import IdCardConfig
from hardware.idcard.factory import create as create_reader
from hardware.qr.config import QrConfig
from hardware.qr.factory import create as create_scanner
from hardware.sim.control import SimClient
from kiosk.audit import AuditLog
from kiosk.backend.embedded import EmbeddedBackend
from kiosk.devices import Devices
from kiosk.session.journey import Journey
from kiosk.session.machine import SessionMachine
from kiosk.session.states import State
from tests.kiosk.session.test_journey import Watcher


@pytest.fixture
def parts(make_config: Callable[..., Any], tmp_path: Path) -> Iterator[types.SimpleNamespace]:
    cfg = make_config(face__enabled="false")  # no camera in this container: no face step
    ctx = DeviceContext(var_dir=Path(cfg.var_dir), kiosk_id=cfg.kiosk.id)
    reader = create_reader(IdCardConfig(port="sim://idcard?cards=demo", poll_interval_s=0.05),
                           ctx)
    scanner = create_scanner(QrConfig(port="sim://qr", dedup_window_s=0), ctx)
    devices = Devices.of(card_reader=reader, scanner=scanner, simulators=ctx.sims.controls())
    backend = EmbeddedBackend(cfg)
    session = SessionMachine()
    journey = Journey(session=session, devices=devices, backend=backend, cfg=cfg,
                      audit=AuditLog.open(tmp_path / "audit.jsonl", cfg.kiosk.id))
    watcher = Watcher(types.SimpleNamespace(session=session, journey=journey))  # type: ignore[arg-type]
    devices.start(journey.on_device_event)
    try:
        yield types.SimpleNamespace(cfg=cfg, devices=devices, backend=backend, session=session,
                                    journey=journey, watcher=watcher, controls=ctx.sims.controls())
    finally:
        journey.stop()
        devices.close()
        ctx.sims.close()


def test_a_card_on_the_simulated_reader_identifies_through_the_journey(
        parts: types.SimpleNamespace) -> None:
    w, journey, session = parts.watcher, parts.journey, parts.session
    assert set(parts.controls) == {"idcard", "qr"}
    SimClient(parts.controls["idcard"]).call("insert", key="chen")  # the one control client
    w.identified()
    assert session.state is State.HOME and session.data.holder is not None
    # status changes of the devices reached the journey as typed events, and became notices
    assert any(n.kind == "status" and n.params.get("device") == "idcard" for n in w.notices)
    matters = journey.matters()
    printed_here = next(m for m in matters if "printer" in m.devices)
    assert journey.matter_blockers(printed_here) == ["printer_down"]  # no printer here
    assert not journey.select_matter(printed_here.id)
    journey.cancel()
    w.state(State.GOODBYE)
    assert session.data.personal_values() == {}


def test_a_code_on_the_simulated_scanner_reaches_the_journey(
        parts: types.SimpleNamespace) -> None:
    w = parts.watcher
    code = parts.backend.service.issue_identity_code("44060519480118102X")
    assert SimClient(parts.controls["qr"]).call("scan", text=code)["sent"]
    w.identified()
    assert parts.session.data.holder is not None
    SimClient(parts.controls["qr"]).call("fault", kind="garbage")
    w.notice("code_unreadable")


def test_an_invalid_card_number_is_refused_by_the_core(parts: types.SimpleNamespace) -> None:
    """The reader reads any number; the core's rule (GB 11643 via kiosk.identity) refuses."""
    card = IdCardData(card_type="resident", name="测试", sex="男", nation="汉",
                      birth_date=dt.date(1990, 1, 1), address="",
                      id_number="440605199001010011", issuer="",
                      valid_from=dt.date(2020, 1, 1), valid_to=None)
    parts.journey.handle_card(card)
    parts.watcher.notice("card_invalid")
    assert parts.session.data.holder is None


def test_the_composition_root_opens_devices_for_diagnostics(
        make_config: Callable[..., Any]) -> None:
    """What diagnostics and the fleet read: every device's health through the container,
    redacted, without reaching into a driver."""
    from hardware.base import HealthLevel
    from kiosk.compose import opened_devices

    cfg = make_config(printer__enabled="false")
    with opened_devices(cfg) as devices:
        snap = devices.snapshot()
        assert set(snap["devices"]) == {"idcard", "qr", "camera", "printer"}
        printer = snap["devices"]["printer"]
        assert printer == {"status": "no_device", "usable": False,
                           "reason": "device_disabled", "simulated": False}
        idcard = snap["devices"]["idcard"]
        assert idcard["simulated"] and idcard["inventory"]["simulated"] is True
        assert idcard["capabilities"]["photo_format"] == "wlt" and "counters" in idcard
        health = devices.check_health(HealthLevel.EXTERNAL, ("idcard", "printer"))
        assert health["idcard"].ok and health["idcard"].details["sam_id"].startswith("05.")
        assert not health["printer"].ok and "device_disabled" in health["printer"].text
        controls = dict(devices.simulators)
        assert set(controls) == {"idcard", "qr", "camera"}
    assert not any(Path(path).exists() for path in controls.values())  # closed with them
