"""The one sim:// parser: every simulator's parameters declared once, anything else refused,
for every device's factory alike; the fault table in the README is the code's."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hardware.camera.config import CameraConfig
from hardware.context import DeviceContext
from hardware.idcard.config import IdCardConfig
from hardware.printer.config import PrinterConfig
from hardware.qr.config import QrConfig
from hardware.sim.kit import SimulationRefused
from hardware.sim.url import FAULTS, SPECS, SimUrlError, is_sim_url, parse_sim_url

README = Path(__file__).parents[3] / "hardware" / "sim" / "README.md"


def test_defaults_and_conversions() -> None:
    url = parse_sim_url("sim://idcard?cards=demo&fault=sam_41&times=2&baud=9600&insert=chen")
    assert url.name == "idcard" and url["fault"] == "sam_41" and url["times"] == 2
    assert url["baud"] == 9600 and url["insert"] == "chen" and url["control"] is None
    assert parse_sim_url("sim://qr")["suffix"] is None
    assert parse_sim_url("sim://qr?trigger=true")["trigger"] is True
    assert parse_sim_url("sim://faces?holder=photo:chen")["holder"] == "photo:chen"
    assert parse_sim_url("sim://printer?port=0&fault=paper_out")["fault"] == "paper_out"
    assert is_sim_url("sim://anything") and not is_sim_url("/dev/ttyUSB0") and not is_sim_url(None)


@pytest.mark.parametrize(("url", "message"), [
    ("sim://idcard?bogus=1", "unknown parameter 'bogus'"),
    ("sim://qr?holder=chen", "unknown parameter 'holder'"),
    ("sim://faces?cards=demo", "unknown parameter 'cards'"),
    ("sim://printer?queue=x", "unknown parameter 'queue'"),
    ("sim://idcard?baud=1&baud=2", "given twice"),
    ("sim://idcard?baud=fast", "baud"),
    ("sim://idcard?fault=paper_out", "fault: one of"),
    ("sim://qr?suffix=lf", "suffix: one of cr, crlf"),
    ("sim://qr?trigger=maybe", "trigger"),
    ("sim://printer?port=70000", "port"),
    ("sim://scale", "unknown simulator 'scale'"),
    ("sim://idcard/extra", "unexpected path"),
    ("tcp://idcard", "not a simulator URL"),
])
def test_anything_unknown_is_an_error(url: str, message: str) -> None:
    with pytest.raises(SimUrlError, match=re.escape(message)):
        parse_sim_url(url)


def test_a_url_must_simulate_the_device_it_stands_for() -> None:
    with pytest.raises(SimUrlError, match="simulates the camera, not the printer"):
        parse_sim_url("sim://faces", expect="printer")


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[DeviceContext]:
    context = DeviceContext(var_dir=tmp_path)
    yield context
    context.sims.close()


def _factories() -> dict[str, Callable[[str, DeviceContext], Any]]:
    from hardware.camera.factory import create as camera
    from hardware.idcard.factory import create as idcard
    from hardware.printer.factory import create as printer
    from hardware.qr.factory import create as qr

    return {
        "idcard": lambda url, c: idcard(IdCardConfig(port=url), c),
        "qr": lambda url, c: qr(QrConfig(port=url), c),
        "faces": lambda url, c: camera(CameraConfig(source=url), c),
        "printer": lambda url, c: printer(PrinterConfig(cups_server=url), c),
    }


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_factory_refuses_unknown_parameters_and_simulation_where_not_allowed(
        name: str, ctx: DeviceContext, tmp_path: Path) -> None:
    create = _factories()[name]
    with pytest.raises(SimUrlError, match="unknown parameter 'nope'"):
        create(f"sim://{name}?nope=1", ctx)
    with pytest.raises(SimulationRefused):
        create(f"sim://{name}", DeviceContext(var_dir=tmp_path, allow_simulation=False))
    assert ctx.sims.controls() == {}  # nothing was started


def test_the_readme_fault_table_is_the_vocabulary() -> None:
    rows = re.findall(r"^\| (idcard|qr|camera|printer) \| (\w+) \| (.+?) \|$",
                      README.read_text(encoding="utf-8"), re.MULTILINE)
    documented = {(device, fault): text for device, fault, text in rows}
    coded = {(device, fault): text for device, faults in FAULTS.items()
             for fault, text in faults.items()}
    assert documented == coded
