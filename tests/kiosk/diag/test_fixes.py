"""IPP printer-state-reasons mapped to plain fixes, in Chinese and English."""

from __future__ import annotations

from hardware.printer.status import REASONS
from kiosk.diag.fixes import LANGS, PRINTER_REASONS, printer_fixes, status_text


def test_every_reason_the_driver_knows_has_a_fix_in_every_language() -> None:
    for base in REASONS:
        if base == "other":
            continue
        assert base in PRINTER_REASONS, base
        assert all(PRINTER_REASONS[base][lang] for lang in LANGS)


def test_paper_out_tells_what_to_load() -> None:
    assert printer_fixes(["media-empty-error"]) == ["paper out — load A4 paper in tray 1"]
    assert printer_fixes(["media-empty-error"], lang="zh_CN") == ["缺纸 — 在纸盒 1 装入 A4 纸"]
    assert printer_fixes("media-empty", paper="receipt80") == [
        "paper out — load an 80 mm thermal paper roll"]


def test_most_urgent_first_reports_skipped_unknown_named() -> None:
    fixes = printer_fixes(["toner-low-warning", "media-jam-error", "cover-open-report",
                           "none", "offline-report", "frobnicated-error", "media-jam"])
    assert fixes == ["paper jam — open the front cover, remove the jammed sheet, close it",
                     "printer offline — check its power and cable, switch it on",
                     "toner low — have a new toner cartridge ready",
                     "printer reports: frobnicated"]
    assert printer_fixes(None) == [] and printer_fixes(["none"]) == []


def test_device_states_in_plain_words() -> None:
    assert status_text("camera", "no_device") == \
        "camera not found — check its USB cable and power"
    assert status_text("idcard", "offline", lang="zh_HK") == \
        "身份證閱讀器離線 — 檢查連接線，重新插拔"
