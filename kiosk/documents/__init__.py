"""Documents printed at the kiosk, rendered locally to PDF (reportlab, CJK font embedded).

Public API: :func:`render_receipt`, :func:`render_result`, :func:`render_certificate_copy`,
:func:`render_appointment_slip`, :func:`render_bundle_receipt` with :class:`ReceiptInfo`,
:class:`ResultInfo`, :class:`CertificateCopyInfo`, :class:`AppointmentSlipInfo`,
:class:`BundleReceiptInfo` (:class:`BundleItem`);
:func:`pdf_to_png`, :func:`pdf_text`; and :func:`receipt_pdf`, which builds a receipt from a backend
``ApplicationReceipt``. The QR code on a document is the platform's signed document code
(:mod:`kiosk.identity.doccodes`), which any kiosk can check with the platform's public key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kiosk.documents.raster import pdf_text, pdf_to_png
from kiosk.documents.render import (
    LAYOUTS,
    AppointmentSlipInfo,
    BundleItem,
    BundleReceiptInfo,
    CertificateCopyInfo,
    ReceiptInfo,
    ResultInfo,
    render_appointment_slip,
    render_bundle_receipt,
    render_certificate_copy,
    render_receipt,
    render_result,
    short_code,
    watermark_text,
)

if TYPE_CHECKING:
    from kiosk.backend.contract import ApplicationReceipt, Matter
    from kiosk.config.schema import KioskConfig

__all__ = ["LAYOUTS", "AppointmentSlipInfo", "BundleItem", "BundleReceiptInfo",
           "CertificateCopyInfo", "ReceiptInfo", "ResultInfo", "pdf_text", "pdf_to_png",
           "receipt_pdf",
           "render_appointment_slip", "render_bundle_receipt", "render_certificate_copy",
           "render_receipt", "render_result", "short_code", "watermark_text"]

STATE_TEXT = {"submitted": "已提交", "accepted": "已受理", "approved": "已办结（准予许可）",
              "rejected": "不予受理", "result_issued": "已出结果"}


def _zh(text: dict[str, str] | None) -> str:
    if not text:
        return ""
    return text.get("zh_CN") or next(iter(text.values()), "")


def receipt_pdf(receipt: ApplicationReceipt, matter: Matter | None, cfg: KioskConfig) -> bytes:
    """The application receipt for a submission, in the configured paper layout, with the
    platform's verification code (none on a pending receipt from the outbox)."""
    info = ReceiptInfo(
        application_no=receipt.application_no,
        matter_name=_zh(matter.name) if matter else receipt.matter_id,
        submitted_at=receipt.submitted_at, kiosk_id=cfg.kiosk.id,
        state_text=STATE_TEXT.get(str(receipt.state), str(receipt.state)),
        verification_code=receipt.verification_code,
        next_steps=_zh(receipt.next_steps), department=_zh(matter.department) if matter else "")
    return render_receipt(info, cfg.printer.paper)
