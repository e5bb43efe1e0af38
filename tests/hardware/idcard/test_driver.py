"""The driver against the simulator over a real pty, for every fault."""

from __future__ import annotations

import queue
from datetime import date

import pytest

from hardware.base import (
    Deadline,
    DeviceError,
    DeviceNotReady,
    DeviceStatus,
    HardwareError,
    HealthLevel,
    InvalidData,
    StatusChange,
)
from hardware.events import CardInserted, CardRead, CardReadFailed, CardRemoved
from hardware.idcard.card import IdCardData
from hardware.idcard.config import IdCardConfig
from hardware.idcard.driver import IdCardReader
from hardware.idcard.factory import create
from hardware.idcard.simulator import IdCardSimulator, card_from_entry


def read(reader: IdCardReader, seconds: float = 2.0) -> IdCardData:
    return reader.read_card(Deadline(seconds))


class Sink:
    """The reader's one sink: card events in order, status changes apart."""

    def __init__(self) -> None:
        self.cards: queue.Queue[object] = queue.Queue()
        self.inserted = 0
        self.changes: list[StatusChange] = []

    def __call__(self, event: object) -> None:
        if isinstance(event, StatusChange):
            self.changes.append(event)
        elif isinstance(event, CardInserted):
            self.inserted += 1
        else:
            self.cards.put(event)

    def get(self, timeout: float = 3.0) -> object:
        return self.cards.get(timeout=timeout)

    def empty(self) -> bool:
        return self.cards.empty()


def test_reads_demo_card_over_pty(reader: IdCardReader, sim: IdCardSimulator) -> None:
    sim.insert("chen")
    card = read(reader)
    assert card.as_json()["name"] == "陈美玲" and card.nation == "汉"
    assert card.valid_to is None and len(card.photo) == 1024
    assert reader.status is DeviceStatus.ONLINE and reader.details["card"] == "present"
    assert reader.counters["reads"] == 1
    # the card must leave the field before it can be read again
    with pytest.raises(DeviceNotReady) as err:
        read(reader, 0.3)
    assert err.value.detail == "no_card"


def test_sam_id_and_reset(reader: IdCardReader, sim: IdCardSimulator) -> None:
    assert reader.sam_id() == sim.sam_id
    reader.reset()
    assert reader.inventory()["sam_id"] == sim.sam_id
    assert reader.details["card"] == "absent"


def test_expired_card_and_any_number_are_read_as_they_are(reader: IdCardReader,
                                                          sim: IdCardSimulator) -> None:
    """The reader reads; whether the number is valid is the core's rule
    (tests/kiosk/identity/test_cards.py)."""
    sim.insert("liang")
    card = read(reader)
    assert card.expired(date(2025, 1, 1)) and not card.expired(date(2024, 5, 1))
    sim.deck["bad"] = card_from_entry({
        "key": "bad", "name": "测试", "sex": "男", "nation": "02", "birth_date": "1990-01-01",
        "id_number": "440605199001010011", "valid_from": "2020-01-01", "valid_to": "2040-01-01"})
    sim.insert("bad")
    card = read(reader)
    assert card.id_number == "440605199001010011" and card.nation == "蒙古"
    assert not card.expired(date(2025, 1, 1))


@pytest.mark.parametrize(("fault", "error", "detail"), [
    ("no_card", DeviceNotReady, "no_card"),
    ("checksum", InvalidData, "checksum"),
    ("partial", InvalidData, "partial"),
    ("remove_mid_read", DeviceNotReady, "removed_mid_read"),
    ("sam_31", HardwareError, "sam_error"),
    ("sam_32", HardwareError, "sam_error"),
    ("sam_41", HardwareError, "sam_error"),
    ("sam_60", HardwareError, "sam_error"),
    ("unplug", DeviceNotReady, "no_device"),
])
def test_faults_give_typed_errors(reader: IdCardReader, sim: IdCardSimulator, fault: str,
                                  error: type[DeviceError], detail: str) -> None:
    sim.insert("huang")
    sim.set_fault(fault)
    with pytest.raises(error) as err:
        read(reader, 0.6 if fault == "no_card" else 3.0)
    assert err.value.detail == detail
    assert "黄" not in err.value.message and "4406" not in err.value.message
    expected = {"sam_60": DeviceStatus.HARDWARE_ERROR, "unplug": DeviceStatus.NO_DEVICE,
                "checksum": DeviceStatus.HARDWARE_ERROR}
    assert reader.status is expected.get(fault, DeviceStatus.ONLINE)


def test_recoverable_faults(reader: IdCardReader, sim: IdCardSimulator) -> None:
    sim.insert("chen")
    sim.set_fault("garbage")
    assert read(reader).id_number == "440605195803121228"
    assert reader.counters["resyncs"] >= 1
    sim.set_fault("checksum", times=1)
    sim.insert("huang")
    assert read(reader).name == "黄志强"
    assert reader.counters["checksum_errors"] == 1 and sim.fault is None


def test_unplug_then_replug(reader: IdCardReader, sim: IdCardSimulator) -> None:
    sim.insert("chen")
    sim.set_fault("unplug")
    with pytest.raises(DeviceNotReady):
        read(reader)
    assert reader.status is DeviceStatus.NO_DEVICE
    with pytest.raises(DeviceNotReady) as err:
        reader.sam_id()
    assert err.value.detail == "no_device"
    sim.replug()
    sim.insert("chen")
    assert read(reader).name == "陈美玲"
    assert reader.check_health().status is DeviceStatus.ONLINE


def test_polling_recovers_after_unplug(reader: IdCardReader, sim: IdCardSimulator) -> None:
    events = Sink()
    changes: queue.Queue[StatusChange] = queue.Queue()
    reader.subscribe(changes.put)
    reader.start(events)
    sim.set_fault("unplug")
    sim.insert("chen")
    err = events.get(timeout=3)
    assert isinstance(err, CardReadFailed) and err.code == "no_device"
    while (change := changes.get(timeout=3)).status is not DeviceStatus.NO_DEVICE:
        pass
    assert change.changed["status"] == "no_device"
    sim.replug()
    sim.insert("huang")
    ok = events.get(timeout=3)
    assert isinstance(ok, CardRead) and ok.card.name == "黄志强"
    assert reader.check_health().status is DeviceStatus.ONLINE
    # the sink saw the same status changes as the subscriber, only what changed
    assert [c.changed["status"] for c in events.changes if "status" in c.changed][:2] == \
        ["online", "no_device"]


def test_polling_emits_one_read_per_placement(reader: IdCardReader,
                                              sim: IdCardSimulator) -> None:
    events = Sink()
    reader.start(events)
    sim.insert("chen")
    first = events.get(timeout=3)
    assert isinstance(first, CardRead) and first.kind == "card_read"
    assert first.card.name == "陈美玲" and events.inserted == 1  # "reading..." came first
    assert reader.details["card"] == "present"
    sim.remove()
    second = events.get(timeout=3)
    assert isinstance(second, CardRemoved) and second.kind == "card_removed"
    assert reader.details["card"] == "absent"
    # a failed read asks for the card again, then the next attempt reads it
    sim.set_fault("sam_41", times=1)
    sim.insert("he")
    err = events.get(timeout=3)
    assert isinstance(err, CardReadFailed) and (err.kind, err.code) == ("card_error", "sam_error")
    ok = events.get(timeout=3)
    assert isinstance(ok, CardRead) and ok.card.id_number.endswith("X")
    # pulled out mid-read: "place your card again", then nothing until a new card
    sim.remove()
    assert isinstance(events.get(timeout=3), CardRemoved)
    sim.set_fault("remove_mid_read", times=1)
    sim.insert("huang")
    mid = events.get(timeout=3)
    assert isinstance(mid, CardReadFailed) and mid.code == "removed_mid_read"
    sim.insert("huang")
    assert isinstance(events.get(timeout=3), CardRead)
    reader.close()
    assert events.empty()


def test_factory_sim_url_health_and_inventory() -> None:
    reader = create(IdCardConfig(port="sim://idcard?cards=demo&insert=lee",
                                 poll_interval_s=0.05))
    try:
        assert reader.name == "idcard" and reader.simulator is not None
        external = reader.check_health(HealthLevel.EXTERNAL)
        assert external.ok and external.details["sam_id"] == reader.simulator.sam_id
        assert reader.inventory()["sam_id"] == reader.simulator.sam_id
        assert reader.inventory()["baud"] == 115200
        assert 9600 in reader.capabilities()["baud_rates"]
        interactive = reader.check_health(HealthLevel.INTERACTIVE)
        assert interactive.ok and interactive.details["card_type"] == "hk_mo_tw"
        assert reader.check_health(HealthLevel.INTERNAL).ok
    finally:
        sim = reader.simulator
        reader.close()
    assert sim is not None and sim.path == "" and reader.simulator is None
    assert reader.status is DeviceStatus.OFFLINE


def test_factory_bad_port_raises_typed_error() -> None:
    with pytest.raises(DeviceNotReady) as err:
        create(IdCardConfig(port="/dev/does-not-exist"))
    assert err.value.detail == "no_device"


def test_card_wipe_and_repr(reader: IdCardReader, sim: IdCardSimulator) -> None:
    sim.insert("chen")
    card = read(reader)
    photo = card.photo
    assert "陈" not in repr(card) and "4406" not in repr(card)
    card.wipe()
    assert photo == bytearray(1024) and card.photo is photo
    assert card.name == "" and card.id_number == "" and card.pass_number is None


def test_one_late_answer_is_not_a_hardware_error(reader: IdCardReader,
                                                 sim: IdCardSimulator) -> None:
    """A SAM that misses one answer (a loaded line, a slow moment) is not broken: the reader
    stays online and reads the next card; one that stays silent is a hardware error (it
    takes a kiosk out of service: a single late reply used to)."""
    changes: list[DeviceStatus] = []
    reader.subscribe(lambda e: changes.append(e.status) if isinstance(e, StatusChange)
                     else None)
    sim.set_fault("silent", times=1)
    sim.insert("huang")
    assert read(reader).name == "黄志强"
    assert DeviceStatus.HARDWARE_ERROR not in changes, changes
    assert reader.counters.get("timeouts", 0) >= 1 and sim.fault is None
    sim.remove()
    sim.set_fault("silent")  # until cleared: the SAM is gone quiet for good
    with pytest.raises(DeviceError):
        reader.read_card(Deadline(3.0))
    assert reader.status is DeviceStatus.HARDWARE_ERROR
    sim.set_fault(None)
    sim.insert("chen")
    assert read(reader).id_number == "440605195803121228"
    assert reader.status is DeviceStatus.ONLINE
