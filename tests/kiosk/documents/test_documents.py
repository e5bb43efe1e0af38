"""Rendered documents: Chinese text extractable, font embedded, layouts, QR and watermark."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import pytest
import zxingcpp
from nacl.signing import SigningKey
from PIL import Image

from kiosk.backend.contract import ApplicationReceipt, ApplicationState
from kiosk.config.schema import KioskConfig
from kiosk.documents import (
    CertificateCopyInfo,
    ReceiptInfo,
    ResultInfo,
    pdf_to_png,
    receipt_pdf,
    render_certificate_copy,
    render_receipt,
    render_result,
    short_code,
)
from kiosk.identity.doccodes import make_doc_code, verify_doc_code

NOW = dt.datetime(2025, 3, 1, 10, 30)
KEY = SigningKey.generate()
CODE = make_doc_code(KEY, "RA202503010001", "receipt")
RECEIPT = ReceiptInfo("A-20250301-0001", "城乡居民医保参保登记", NOW, "kiosk-nh-01", "已受理",
                      CODE, "请留意短信通知。", "南海区医保局")


def _text(pdf: bytes, mode: str = "-layout") -> str:
    done = subprocess.run(["pdftotext", mode, "-", "-"], input=pdf, capture_output=True,
                          check=True, timeout=30)
    return done.stdout.decode()


def _fonts(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "doc.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdffonts", str(path)], capture_output=True, check=True,
                          timeout=30).stdout.decode()


@pytest.mark.parametrize("paper", ["a4", "receipt58", "receipt80"])
def test_receipt_layouts(paper: str, tmp_path: Path) -> None:
    pdf = render_receipt(RECEIPT, paper)  # type: ignore[arg-type]
    text = _text(pdf)
    for needle in ("受理回执", "A-20250301-0001", "城乡居民医保参保登记", "kiosk-nh-01",
                   "2025-03-01 10:30", short_code(CODE)):
        assert needle in text.replace(" ", "") or needle in text
    fonts = _fonts(pdf, tmp_path)
    assert "WenQuanYi" in fonts and " yes yes " in fonts  # embedded, subset
    pages = pdf_to_png(pdf, tmp_path / "png", dpi=200)
    assert len(pages) == 1
    width_pt = {"a4": 595, "receipt58": 164, "receipt80": 227}[paper]
    with Image.open(pages[0]) as img:
        assert abs(img.width - width_pt * 200 / 72) < 3
        decoded = zxingcpp.read_barcodes(img)
    assert [d.text for d in decoded] == [CODE]
    claim = verify_doc_code(decoded[0].text, {"ref-platform": KEY.verify_key})
    assert claim.kind == "receipt" and claim.doc_id == "RA202503010001"


def test_pending_receipt_has_no_code_and_says_what_happens(tmp_path: Path) -> None:
    pending = ReceiptInfo("P-7F3K2Q", "城乡居民医保参保登记", NOW, "kiosk-nh-01", "待提交", None)
    pdf = render_receipt(pending, "receipt80")
    assert "网络恢复后" in _text(pdf).replace(" ", "")
    with Image.open(pdf_to_png(pdf, tmp_path / "png", dpi=150)[0]) as img:
        assert zxingcpp.read_barcodes(img) == []


def test_result_and_certificate_copy(tmp_path: Path) -> None:
    result = ResultInfo("A-1", "个体工商户登记", "准予许可", NOW, "南海区市场监管局",
                        "kiosk-nh-01", make_doc_code(KEY, "resA1", "result"),
                        fields=[("字号", "桂城小食店")])
    text = _text(render_result(result, "receipt80"))
    assert "准予许可" in text and "桂城小食店" in text
    copy = CertificateCopyInfo("居民户口簿", "No.0001", "示例持证人", "南海分局",
                               "2020-01-01", "1.2.156.3005.2.x", "城乡居民医保参保登记",
                               "kiosk-nh-01", NOW, make_doc_code(KEY, "copyC1", "certificate_copy"))
    pdf = render_certificate_copy(copy)
    text = _text(pdf, "-raw").replace(" ", "").replace("\n", "")
    assert "仅供办理城乡居民医保参保登记使用" in text
    assert text.count("仅供办理城乡居民医保参保登记使用") > 3  # tiled watermark
    assert "居民户口簿" in text


def test_receipt_from_backend_receipt() -> None:
    receipt = ApplicationReceipt(application_no="A-9", matter_id="m1",
                                 state=ApplicationState.ACCEPTED, submitted_at=NOW,
                                 next_steps={"zh_CN": "等待审核"})
    cfg = KioskConfig.model_validate({"printer": {"paper": "receipt58"}})
    text = _text(receipt_pdf(receipt, None, cfg))
    assert "A-9" in text and "已受理" in text and "等待审核" in text
