"""PDF documents the platform issues (result documents, certificate copies), via reportlab."""

from __future__ import annotations

import io
import threading
from collections.abc import Sequence

CJK_FONT_FILE = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
_FONT = "WenQuanYiMicroHei"
_font_lock = threading.Lock()
_font_ready = False


def _font() -> str:
    global _font_ready
    with _font_lock:
        if not _font_ready:
            from reportlab.pdfbase import pdfmetrics
            from reportlab.pdfbase.ttfonts import TTFont

            pdfmetrics.registerFont(TTFont(_FONT, CJK_FONT_FILE, subfontIndex=0))
            _font_ready = True
    return _FONT


def render_pdf(title: str, rows: Sequence[tuple[str, str]], verification_code: str,
               issuer: str, note: str = "") -> bytes:
    """An A4 document: title, label/value rows, issuer, and the verification code."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    font = _font()
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=A4, pageCompression=1)
    pdf.setTitle(title)
    width, height = A4
    pdf.setFont(font, 20)
    pdf.drawCentredString(width / 2, height - 80, title)
    y = height - 140
    pdf.setFont(font, 12)
    for label, value in rows:
        pdf.drawString(70, y, f"{label}：")
        pdf.drawString(200, y, value[:60])
        y -= 24
    if note:
        y -= 12
        pdf.drawString(70, y, note[:70])
    pdf.drawString(70, 120, f"出具机关：{issuer}")
    pdf.drawString(70, 96, f"验证码 Verification code: {verification_code}")
    pdf.setFont(font, 9)
    pdf.drawString(70, 76, "可在政务服务自助终端扫描或输入验证码核验本文件真伪。")
    pdf.showPage()
    pdf.save()
    return buf.getvalue()
