"""The PDF: one readable A4 page, named for the kiosk and time; and no demo citizen's name or
ID number in the JSON, the PDF text or the counters after they went through the devices."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from hardware.base import DeviceStatus
from kiosk.backend.platform.seed import load_people
from kiosk.diag.counters import CounterStore
from kiosk.diag.pdf import pdf_name, render_pdf, write_pdf
from kiosk.diag.redact import redact
from kiosk.diag.report import build_report
from tests.kiosk.diag.conftest import StandIn

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "diag"


def _pdftotext(path: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True,
                          capture_output=True, text=True).stdout


def _pages(path: Path) -> int:
    info = subprocess.run(["pdfinfo", str(path)], check=True, capture_output=True,
                          text=True).stdout
    return int(next(line.split()[-1] for line in info.splitlines()
                    if line.startswith("Pages:")))


def test_pdf_is_one_named_page_with_the_verdict_and_the_fixes(
        devices: list[StandIn], report_kwargs: dict[str, Any], tmp_path: Path) -> None:
    devices[3].set_status(DeviceStatus.HARDWARE_ERROR, paper="out",
                          reasons=["media-empty-error"])
    report = build_report(devices, level="internal", lang="zh_CN", **report_kwargs)
    assert pdf_name(report) == "readiness-report__kiosk-diag-01__20250601T101500+0800.pdf"
    path = write_pdf(report, tmp_path)
    assert path.name == pdf_name(report) and path.read_bytes().startswith(b"%PDF")
    assert _pages(path) == 1
    text = _pdftotext(path)
    for expected in ("DEGRADED", "kiosk-diag-01", "南海区人民医院", "缺纸", "A4",
                     "no test print on record", "backend: reachable"):
        assert expected in text, expected
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-singlefile", str(path),
                    str(ARTIFACTS / "readiness-report")], check=True)
    assert (ARTIFACTS / "readiness-report.png").stat().st_size > 10_000


def test_a_long_report_still_fits_one_page(report_kwargs: dict[str, Any],
                                           tmp_path: Path) -> None:
    many = [StandIn(f"dev{i}", DeviceStatus.OFFLINE, text="x" * 300) for i in range(25)]
    report = build_report(many, level="external", **report_kwargs)
    path = tmp_path / "long.pdf"
    path.write_bytes(render_pdf(report))
    assert _pages(path) == 1
    assert "kiosk diag report --json" in _pdftotext(path)


def test_no_citizen_data_in_json_pdf_or_counters(report_kwargs: dict[str, Any],
                                                 tmp_path: Path, cfg: Any) -> None:
    people = load_people()["citizens"]
    chen = next(p for p in people if p["key"] == "chen")
    name, id_number = chen["name"], chen["id_number"]
    card = {"name": name, "id_number": id_number, "address": chen["address"]}
    idcard = StandIn("idcard", inventory={"model": "SIM-SAM", "sam_id": "05.01-20250601-0001",
                                          "last_card": card, "note": f"{name} {id_number}"},
                     details={"last_holder": name, "card": card},
                     text=f"card read ok: {name} ({id_number})")
    qr = StandIn("qr", DeviceStatus.HARDWARE_ERROR,
                 text=f"scanned GZID1 code of {id_number} 持证人{name}")
    store = CounterStore.in_var_dir(cfg.var_dir)
    try:
        store.record_error("idcard", "invalid_data", f"checksum error reading {name} "
                                                     f"{id_number}")
        store.record_test_print("printer", True, f"printed for {name}")
        report = build_report([idcard, qr, StandIn("camera"), StandIn("printer")],
                              level="external", **{**report_kwargs, "counters": store})
    finally:
        store.close()
    as_json = json.dumps(report.as_json(), ensure_ascii=False)
    pdf = tmp_path / "r.pdf"
    pdf.write_bytes(render_pdf(report))
    text = _pdftotext(pdf)
    stored = b"".join(p.read_bytes() for p in Path(cfg.var_dir).glob("diag-counters*"))
    for secret in (name, id_number, chen["address"]):
        assert secret not in as_json, secret
        assert secret not in text, secret
        assert secret.encode() not in stored, secret
    assert "05.01-20250601-0001" in as_json  # a SAM id is not personal: kept
    assert "南海区人民医院" in text  # the kiosk's own Chinese text is kept


def test_redaction_rules() -> None:
    assert redact({"name": "陈美玲", "model": "X"}) == {"name": "**REDACTED**", "model": "X"}
    assert redact("持证人陈美玲 440605195803121228") == "** **ID**"
    assert redact("南海区 440605195803121228", source="kiosk") == "南海区 **ID**"
    digest = "sha256:" + "0123456789" * 6 + "abcd"
    assert redact(digest, source="output") == digest  # digits inside a hash are not an ID
    assert redact({"name": "idcard"}, source="output") == {"name": "idcard"}
    assert redact(b"\xff\xd8 jpeg") == "<7 bytes>"
